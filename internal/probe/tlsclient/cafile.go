package tlsclient

// This file reads --ca-file. It imports no crypto, so that it can stay on
// the options side when the crypto moves apart from them.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxCAFile bounds --ca-file. Debian's and Fedora's whole system bundles
// are about 220 KiB; four times that is room for any private CA file, and
// what is read stays well inside a check's memory.
const MaxCAFile = 1 << 20

// ReadCAFile reads a CA bundle for --ca-file. It runs before the deadline
// starts, so nothing it does may block or grow without bound: the file is
// opened without blocking (a FIFO would wait for a writer) and must be a
// regular file (a FIFO, a terminal or /dev/zero never ends), at most
// MaxCAFile bytes.
func ReadCAFile(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		// A socket cannot be opened at all (ENXIO): say what it is.
		if fi, serr := os.Stat(name); serr == nil && !fi.Mode().IsRegular() {
			return nil, notRegular(fi.Mode())
		}
		return nil, unwrapPath(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi.Mode())
	}
	if fi.Size() > MaxCAFile {
		return nil, fmt.Errorf("%d bytes, more than a CA bundle (at most %d KiB)", fi.Size(), MaxCAFile>>10)
	}
	// The size is a hint only (a file may grow, /proc files say 0): read
	// one byte past the bound to know.
	b, err := io.ReadAll(io.LimitReader(f, MaxCAFile+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if len(b) > MaxCAFile {
		return nil, fmt.Errorf("more than a CA bundle (at most %d KiB)", MaxCAFile>>10)
	}
	return b, nil
}

// unwrapPath drops the file name from err: the caller's message has it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func notRegular(m fs.FileMode) error {
	return fmt.Errorf("not a regular file but %s; want a PEM file", fileKind(m))
}

// fileKind names what a path is, for the refusal.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}
