package download

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sentinel errors. Validation failures come as an [*InvalidError] whose
// Reason is one of ErrEmpty … ErrContentMismatch, or ErrUnlisted; test
// with errors.Is.
var (
	// ErrEmpty: the file has no bytes.
	ErrEmpty = errors.New("download: empty file")
	// ErrNoFile is the error of a [Tracked] task that succeeded without
	// returning the [File] it saved: there is nothing to record as done.
	ErrNoFile = errors.New("download: a successful task returned no File")
	// ErrTooLarge: the file exceeds Target.MaxSize.
	ErrTooLarge = errors.New("download: file too large")
	// ErrNotPDF: the file is no PDF (nor an HTML page), or cannot be read as one.
	ErrNotPDF = errors.New("download: not a PDF")
	// ErrHTMLPage: an HTML page — usually an error or login page — came
	// instead of the file.
	ErrHTMLPage = errors.New("download: HTML page instead of the file")
	// ErrLoginPage: the site's login page came instead of the file: the
	// session was logged out. It wraps ErrHTMLPage. [Click] logs the
	// session in again and returns it wrapped with session.ErrLoggedOut
	// and pool.Requeue; [Fetch] logs in again and asks once more.
	ErrLoginPage = fmt.Errorf("%w: the login page", ErrHTMLPage)
	// ErrLoginLoop: [Fetch] got the login page again right after a login:
	// not a logout, but a site that answers requests without its page (a
	// header only its scripts set, say) with the login page. It wraps
	// ErrLoginPage; [NeedsPage] is true.
	ErrLoginLoop = fmt.Errorf("%w again right after a login", ErrLoginPage)
	// ErrTruncated: the PDF ends before its %%EOF marker.
	ErrTruncated = errors.New("download: truncated file")
	// ErrContentMismatch: the file's text lacks the item's ID: it is
	// another item's file.
	ErrContentMismatch = errors.New("download: file content does not match the item")
	// ErrNoDownload: the trigger ran but no download (nor inline file)
	// arrived in time, or the page closed while waiting.
	ErrNoDownload = errors.New("download: no download")
	// ErrNoElement: the element a [Selector] should click is not on the
	// page, which finished loading a while ago.
	ErrNoElement = errors.New("download: nothing to click")
	// ErrDiskFull: the file could not be written for lack of space. [Click]
	// and [Fetch] return it wrapped with pool.Abort: every further item
	// would fail the same way.
	ErrDiskFull = errors.New("download: disk full")
)

// An HTTP status other than 2xx where the file should be is a
// *session.StatusError (errors.Is(err, session.ErrStatus)); 404 and 410
// are permanent (see session.StatusErr).

// InvalidError is a file that failed validation. Its Reason is one of the
// sentinel errors; Detail says what was seen.
type InvalidError struct {
	Reason error
	Detail string
	// Others, for [ErrWrongItem], are the other items' IDs the file
	// names, normalised as [IDs] keeps them: the evidence of a mix-up,
	// say, with the item another worker is viewing.
	Others []string
}

func (e *InvalidError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

// Unwrap returns Reason.
func (e *InvalidError) Unwrap() error { return e.Reason }

// DefaultMaxSize is the size limit when [Target].MaxSize is 0.
const DefaultMaxSize = 100 << 20

// DefaultTimeout is how long Click and Fetch may take when the context has
// no earlier deadline and [Target].Timeout is 0.
const DefaultTimeout = time.Minute

// Target says where a downloaded file goes and what it must look like.
type Target struct {
	// Dir is the directory for the file (and its temporary file). Defaults
	// to the current directory.
	Dir string
	// Name is the final file name, a base name; see [SafeName]. Required.
	Name string
	// Validate checks the file before it gets its final name, in order.
	// Defaults to none.
	Validate []Validator
	// MaxSize is the largest acceptable file in bytes. Defaults to
	// DefaultMaxSize.
	MaxSize int64
	// Timeout bounds the download — the wait for it and its transfer —
	// when ctx has no earlier deadline. Defaults to DefaultTimeout.
	Timeout time.Duration
}

func (t Target) check() (Target, error) {
	t.Dir = cmp.Or(t.Dir, ".")
	t.MaxSize = cmp.Or(t.MaxSize, DefaultMaxSize)
	t.Timeout = cmp.Or(t.Timeout, DefaultTimeout)
	switch {
	case t.Name == "" || t.Name == "." || t.Name == ".." || filepath.Base(t.Name) != t.Name || filepath.IsAbs(t.Name):
		return t, fmt.Errorf("download: Target.Name %q is not a plain file name (see SafeName)", t.Name)
	case t.MaxSize < 0:
		return t, errors.New("download: Target.MaxSize is negative")
	}
	return t, nil
}

// File is a saved, validated file.
type File struct {
	Path   string // Dir/Name
	Size   int64  // bytes
	SHA256 string // hex
}

// Save copies r into a temporary file in dst.Dir, validates it, syncs it
// to disk and renames it to dst.Name — so a file under the final name is
// always complete and valid. On any error the temporary file is removed.
func Save(r io.Reader, dst Target) (File, error) {
	dst, err := dst.check()
	if err != nil {
		return File{}, err
	}
	f, err := createTemp(dst.Dir)
	if err != nil {
		return File{}, diskErr(err)
	}
	// Reading stops one byte past MaxSize: a huge file is cut off while it
	// streams in, not after.
	n, err := io.Copy(f, io.LimitReader(r, dst.MaxSize+1))
	if err == nil && n > dst.MaxSize {
		err = &InvalidError{Reason: ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", dst.MaxSize)}
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return File{}, fmt.Errorf("download: write %s: %w", dst.Name, diskErr(err))
	}
	return finish(f, dst)
}

// diskErr marks an error that says the disk is full with [ErrDiskFull].
func diskErr(err error) error {
	if isDiskFull(err) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// finish validates, hashes, syncs and renames the temporary file f; it
// closes f and removes it on error.
func finish(f *os.File, dst Target) (_ File, err error) {
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	size := fi.Size()
	if size > dst.MaxSize {
		return File{}, &InvalidError{Reason: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", size, dst.MaxSize)}
	}
	for _, v := range dst.Validate {
		if err := v(f, size); err != nil {
			return File{}, err
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		return File{}, fmt.Errorf("download: hash %s: %w", dst.Name, err)
	}
	if err := f.Sync(); err != nil {
		return File{}, fmt.Errorf("download: sync %s: %w", dst.Name, diskErr(err))
	}
	final := filepath.Join(dst.Dir, dst.Name)
	// The file stays locked (see createTemp) until it has its name, where
	// the system allows that.
	if renameOpen {
		if err := os.Rename(tmp, final); err != nil {
			return File{}, fmt.Errorf("download: %w", err)
		}
		tmp = final // on error from here on, the file is ours to remove
	}
	if err := f.Close(); err != nil {
		return File{}, fmt.Errorf("download: close %s: %w", dst.Name, diskErr(err))
	}
	if !renameOpen {
		if err := os.Rename(tmp, final); err != nil {
			_ = os.Remove(tmp)
			return File{}, fmt.Errorf("download: %w", err)
		}
	}
	syncDir(dst.Dir) // makes the rename itself durable
	return File{Path: final, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Temporary files are named tempPrefix + random + tempSuffix.
const tempPrefix, tempSuffix = ".pagefleet-", ".part"

// errLockBusy: another holds the lock tryLock tried to take.
var errLockBusy = errors.New("download: the file's lock is held")

// createTemp creates a temporary file in dir, and locks it while it is
// being written: [RemoveTemp] of any process can then tell it from one a
// killed process left. Unlike os.CreateTemp (0600) it leaves the mode to
// the umask, as for any file a program saves.
func createTemp(dir string) (*os.File, error) {
	for try := 1; ; try++ {
		path := filepath.Join(dir, tempPrefix+rand.Text()[:16]+tempSuffix)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// A RemoveTemp may find the new file before it is locked, lock it
		// itself and remove it: then take another name. A file system
		// that takes no locks (NFS without lockd) gets an unlocked file,
		// as one without locks at all does: RemoveTemp goes by age there.
		// A lock another holds is no such file system: an unlocked file
		// then would be removed under the Save (seen on a loaded machine:
		// three collisions with a sweeping RemoveTemp in a row).
		lockErr := tryLock(f)
		mine, err1 := f.Stat()
		named, err2 := os.Stat(path)
		ours := err1 == nil && err2 == nil && os.SameFile(mine, named)
		if ours && keepTemp(lockErr, try) {
			return f, nil
		}
		_ = f.Close()
		if ours {
			_ = os.Remove(path)
		}
		if try >= 8 {
			return nil, fmt.Errorf("download: no temporary file in %s stays ours: %w", dir, cmp.Or(err1, err2, fs.ErrExist))
		}
	}
}

// keepTemp reports whether createTemp keeps a new file it still holds at
// its path, after its try-th tryLock returned lockErr.
func keepTemp(lockErr error, try int) bool {
	return lockErr == nil || !haveLocks || try >= 3 && !errors.Is(lockErr, errLockBusy)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // not supported everywhere (Windows); best effort
		_ = d.Close()
	}
}

// RemoveTemp removes from dir the temporary files of [Save] (and [Click]
// and [Fetch]) that no live process is writing — a killed process leaves
// its own behind — and returns how many it removed. Every temporary file is
// locked while it is written, so RemoveTemp may run while other processes
// save into dir. A missing dir has nothing to remove.
func RemoveTemp(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	removed, errs := 0, []error(nil)
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, tempPrefix) || !strings.HasSuffix(name, tempSuffix) {
			continue
		}
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			continue // gone meanwhile, or not ours to touch
		}
		abandoned := tryLock(f) == nil
		if renameOpen && abandoned {
			err = os.Remove(path) // under the lock: no writer can have reused the name
		}
		_ = f.Close()
		if !renameOpen && abandoned {
			err = os.Remove(path)
		}
		switch {
		case !abandoned:
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("download: %w", err))
		}
	}
	return removed, errors.Join(errs...)
}

// Check validates the file at path as [Save] would have before naming it
// (dst.Validate and dst.MaxSize; dst.Dir and dst.Name are not used) and
// returns its size and SHA-256: for a file that a killed run saved but
// could not record.
func Check(path string, dst Target) (File, error) {
	dst.Name = cmp.Or(dst.Name, "x")
	dst, err := dst.check()
	if err != nil {
		return File{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("download: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return File{}, fmt.Errorf("download: %w", err)
	}
	if fi.Size() > dst.MaxSize {
		return File{}, &InvalidError{Reason: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", fi.Size(), dst.MaxSize)}
	}
	for _, v := range dst.Validate {
		if err := v(f, fi.Size()); err != nil {
			return File{}, err
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
		return File{}, fmt.Errorf("download: hash %s: %w", path, err)
	}
	return File{Path: path, Size: fi.Size(), SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
