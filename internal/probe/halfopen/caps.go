package halfopen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrCgo is returned by DropCaps in a binary built with cgo, where Go
// cannot change the credentials of every thread at once. Release builds
// are CGO_ENABLED=0; the race-enabled unit tests are not.
var ErrCgo = errors.New("capabilities not dropped: built with cgo")

// DropCaps clears the permitted, effective and inheritable capability
// sets of every thread of the process. capset(2) acts on one thread only,
// and a Go program runs on several, so it goes through
// syscall.AllThreadsSyscall.
func DropCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // all zero: no capability left
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET,
		uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	switch {
	case errno == syscall.ENOTSUP:
		return ErrCgo
	case errno != 0:
		return fmt.Errorf("capset: %w", errno)
	}
	return nil
}

// ThreadCaps reads the effective and permitted capability masks of every
// thread from /proc, as the kernel sees them: for the -vv trace and for
// tests that check DropCaps did its job.
func ThreadCaps() (map[string]string, error) {
	dirs, err := filepath.Glob("/proc/self/task/*")
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("list threads: %v", err)
	}
	caps := make(map[string]string, len(dirs))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			return nil, err
		}
		var eff, prm string
		for _, line := range bytes.Split(b, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte("CapEff:\t")); ok {
				eff = string(v)
			} else if v, ok := bytes.CutPrefix(line, []byte("CapPrm:\t")); ok {
				prm = string(v)
			}
		}
		caps[filepath.Base(d)] = "CapEff=" + eff + " CapPrm=" + prm
	}
	return caps, nil
}
