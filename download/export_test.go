package download

// Extract is the text extractor without the recover of the validators: a
// bug panics, for the fuzz test to see.
var Extract = extract

// KeepTemp and ErrLockBusy: createTemp's rule for a new file whose lock it
// did not get.
var (
	KeepTemp    = keepTemp
	ErrLockBusy = errLockBusy
)
