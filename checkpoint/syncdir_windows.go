//go:build windows

package checkpoint

// syncDir does nothing on Windows, which has no directory fsync: a
// directory can't be opened for FlushFileBuffers without backup privileges,
// and NTFS journals its metadata itself.
func syncDir(string) error { return nil }
