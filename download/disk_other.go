//go:build !unix && !windows

package download

func isDiskFull(error) bool { return false }
