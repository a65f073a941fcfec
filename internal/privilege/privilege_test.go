package privilege

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestElevated(t *testing.T) {
	for _, tc := range []struct {
		name string
		auxv [][2]uintptr
		err  error
		want bool
	}{
		{"AT_SECURE 0", [][2]uintptr{{6, 4096}, {atSecure, 0}, {25, 1}}, nil, false},
		{"AT_SECURE 1", [][2]uintptr{{6, 4096}, {atSecure, 1}, {25, 1}}, nil, true},
		{"no AT_SECURE entry", [][2]uintptr{{6, 4096}}, nil, true},
		{"vector unreadable", nil, errors.New("ENOENT"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(f func() ([][2]uintptr, error)) { auxv = f }(auxv)
			auxv = func() ([][2]uintptr, error) { return tc.auxv, tc.err }
			if got := Elevated(); got != tc.want {
				t.Errorf("Elevated() = %v, want %v", got, tc.want)
			}
		})
	}
}

// The test binary is started by go test without privilege: the real
// vector says so.
func TestElevatedHere(t *testing.T) {
	if Elevated() {
		t.Error("Elevated() = true in a test process started without privilege")
	}
}

// TestSeal: an elevated process becomes non-dumpable; any other is left
// as it is (a caller that already has the privilege gains nothing).
func TestSeal(t *testing.T) {
	for _, tc := range []struct {
		name     string
		secure   uintptr
		dumpable int
	}{
		{"elevated", 1, 0},
		{"not elevated", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(f func() ([][2]uintptr, error)) { auxv = f }(auxv)
			auxv = func() ([][2]uintptr, error) { return [][2]uintptr{{atSecure, tc.secure}}, nil }
			defer unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
			if err := Seal(); err != nil {
				t.Fatal(err)
			}
			if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != tc.dumpable {
				t.Errorf("dumpable %d (%v), want %d", d, err, tc.dumpable)
			}
		})
	}
}

// BenchmarkElevated: what a half-open check pays per raw socket, and a
// marked command line once.
func BenchmarkElevated(b *testing.B) {
	for b.Loop() {
		Elevated()
	}
}
