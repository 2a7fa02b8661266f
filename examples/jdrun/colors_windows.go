//go:build windows

package main

import (
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// colors turns on escape-sequence processing of w's console, which older
// Windows consoles have off (they print the codes), and reports whether
// colors may be used.
func colors(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var mode uint32
	h := windows.Handle(f.Fd())
	if windows.GetConsoleMode(h, &mode) != nil {
		return false
	}
	return mode&windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING != 0 ||
		windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING) == nil
}
