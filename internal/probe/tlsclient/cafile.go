package tlsclient

// This file reads --ca-file, --client-cert and --client-key. It imports no
// crypto, so that it can stay on the options side when the crypto moves
// apart from them.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/lbcheck/lbcheck/internal/probe"
)

// MaxCAFile bounds --ca-file. Debian's and Fedora's whole system bundles
// are about 220 KiB; four times that is room for any private CA file, and
// what is read stays well inside a check's memory.
const MaxCAFile = 1 << 20

// MaxKeyFile bounds --client-cert and --client-key: a certificate chain
// and its key are a few KiB; a file far larger is not one.
const MaxKeyFile = 256 << 10

// ReadCAFile reads a CA bundle for --ca-file (see ReadPEMFile).
func ReadCAFile(name string) ([]byte, error) { return ReadPEMFile(name, MaxCAFile, "a CA bundle") }

// ReadPEMFile reads a PEM file an option names, of at most max bytes;
// what names what the file should be, for the refusal of a larger one. It
// runs before the deadline starts, so nothing it does may block or grow
// without bound: the file is opened without blocking (a FIFO would wait
// for a writer) and must be a regular file (a FIFO, a terminal or
// /dev/zero never ends).
func ReadPEMFile(name string, max int64, what string) ([]byte, error) {
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
	if fi.Size() > max {
		return nil, fmt.Errorf("%d bytes, more than %s (at most %d KiB)", fi.Size(), what, max>>10)
	}
	// The size is a hint only (a file may grow, /proc files say 0): read
	// one byte past the bound to know.
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("more than %s (at most %d KiB)", what, max>>10)
	}
	return b, nil
}

// FileError is the refusal of a file an option names: "--ca-file FILE:
// not a regular file but a named pipe".
type FileError struct {
	Option, File string
	Err          error
}

func (e *FileError) Error() string {
	// The path comes from argv: what reaches the line is made printable.
	return e.Option + " " + probe.Clean(e.File, 120) + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

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
