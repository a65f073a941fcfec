package privilege

import (
	"errors"
	"testing"
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
