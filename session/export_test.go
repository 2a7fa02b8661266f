package session

// SetDefaultBrowsers replaces the browsers Locate looks for, until the
// returned func restores them.
func SetDefaultBrowsers(paths ...string) (restore func()) {
	old := defaultBrowsers
	defaultBrowsers = paths
	return func() { defaultBrowsers = old }
}
