package checkpoint

// Journal is the file the File store writes through, for tests to wrap.
type Journal = journal

// WithJournal returns opts with wrap applied to the journal Open opens, so
// black-box tests can make its writes fail.
func WithJournal(opts Options, wrap func(Journal) Journal) Options {
	opts.wrap = wrap
	return opts
}
