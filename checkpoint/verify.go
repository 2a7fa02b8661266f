package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Errors of [VerifyFile]. Test with errors.Is.
var (
	// ErrFileMissing: the file a Done record names is not there.
	ErrFileMissing = errors.New("checkpoint: file missing")
	// ErrFileChanged: the file a Done record names is there, but its size
	// or content is not what the record says.
	ErrFileChanged = errors.New("checkpoint: file changed")
)

// HashFile returns the size of the file at path and its SHA-256, in
// lower-case hex: what a [Done] record keeps of a saved file.
func HashFile(path string) (size int64, sha256hex string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	if size, err = io.Copy(h, f); err != nil {
		return 0, "", fmt.Errorf("checkpoint: hash %s: %w", path, err)
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// VerifyFile checks that the file of a Done record is still as recorded:
// there, of its Size, with its SHA256. It returns an error wrapping
// [ErrFileMissing] or [ErrFileChanged] if not, or the error that kept it
// from reading the file. A record without SHA256 — imported from the old
// tool, which kept none — is trusted as it is. It is the default of
// [TrackerOptions].Verify.
func VerifyFile(r Record) error {
	if r.SHA256 == "" {
		return nil
	}
	// The size first: a changed size spares reading the file.
	st, err := os.Stat(r.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s", ErrFileMissing, r.Path)
	case err != nil:
		return fmt.Errorf("checkpoint: verify %s: %w", r.Path, err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrFileChanged, r.Path)
	case st.Size() != r.Size:
		return fmt.Errorf("%w: %s: size %d, recorded %d", ErrFileChanged, r.Path, st.Size(), r.Size)
	}
	size, sum, err := HashFile(r.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s", ErrFileMissing, r.Path)
	case err != nil:
		return fmt.Errorf("checkpoint: verify %s: %w", r.Path, err)
	case size != r.Size:
		return fmt.Errorf("%w: %s: size %d, recorded %d", ErrFileChanged, r.Path, size, r.Size)
	case !strings.EqualFold(sum, r.SHA256):
		return fmt.Errorf("%w: %s: SHA-256 differs", ErrFileChanged, r.Path)
	}
	return nil
}
