//go:build !windows

package main

import "io"

// colors reports whether colors may be used on w, a terminal: yes.
func colors(io.Writer) bool { return true }
