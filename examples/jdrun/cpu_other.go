//go:build !linux

package main

import (
	"errors"
	"fmt"
)

func cpuNow(int) (cpuSplit, error) {
	return cpuSplit{}, fmt.Errorf("CPU accounting: %w", errors.ErrUnsupported)
}
