package repo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTrackedFiles: this checkout tracks no compiled program and no file
// over 1 MiB outside testdata/.
func TestTrackedFiles(t *testing.T) {
	root := moduleRoot(t)
	found, err := Tracked(root)
	if errors.Is(err, ErrNotCheckout) {
		t.Skipf("what git tracks is checked only in a clone: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("git tracks %s", f)
	}
}

// TestBuildOutputsIgnored: go build ./cmd/NAME writes NAME at the root;
// .gitignore must keep each such binary out of `git add -A`.
func TestBuildOutputsIgnored(t *testing.T) {
	root := moduleRoot(t)
	names, err := MainPackages(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "lbcheckd") || !slices.Contains(names, "check_http_status") {
		t.Fatalf("main packages %v: lbcheckd and check_http_status missing", names)
	}
	missing, err := Unignored(root, names)
	if errors.Is(err, ErrNotCheckout) {
		t.Skipf(".gitignore is checked only in a clone: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range missing {
		t.Errorf(".gitignore lacks /%s: go build of that main package writes it at the root", name)
	}
}

// TestTrackedFinds points Tracked at a repository made for each case,
// holding one file, and checks what it says of it.
func TestTrackedFinds(t *testing.T) {
	const big = MaxSize + 1
	for _, tt := range []struct {
		name string
		path string
		data []byte
		mode os.FileMode
		want error // nil: no finding
	}{
		{"ELF", "lbcheckd", elf(), 0o755, ErrBuildOutput},
		{"ELF without the x bit", "cmd/x/x", elf(), 0o644, ErrBuildOutput},
		{"ELF in testdata too", "internal/x/testdata/prog", elf(), 0o755, ErrBuildOutput},
		{"Mach-O 64-bit", "check_http_status", magic(0xcffaedfe), 0o755, ErrBuildOutput},
		{"Mach-O 32-bit big-endian", "a.out", magic(0xfeedface), 0o755, ErrBuildOutput},
		{"Mach-O universal", "lbcheck", append(magic(0xcafebabe), 0, 0, 0, 2), 0o755, ErrBuildOutput},
		{"PE", "lbcheckd.exe", pe(), 0o644, ErrBuildOutput},
		{"script with shebang", "scripts/x.sh", []byte("#!/bin/sh\nexec true\n"), 0o755, nil},
		{"text starting MZ", "notes.txt", append([]byte("MZ "), bytes.Repeat([]byte("text "), 40)...), 0o644, nil},
		{"Java class file", "X.class", append(magic(0xcafebabe), 0, 0, 0, 52), 0o644, nil},
		{"1 MiB + 1 outside testdata", "docs/big.md", bytes.Repeat([]byte("x"), big), 0o644, ErrLarge},
		{"1 MiB + 1 in testdata", "internal/probe/dns/testdata/big.txt", bytes.Repeat([]byte("x"), big), 0o644, nil},
		{"1 MiB + 1 in a file named testdata", "docs/testdata", bytes.Repeat([]byte("x"), big), 0o644, ErrLarge},
		{"1 MiB exactly", "docs/edge.md", bytes.Repeat([]byte("x"), MaxSize), 0o644, nil},
		{"empty", "empty", nil, 0o644, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRepo(t)
			write(t, dir, tt.path, tt.data, tt.mode)
			gitIn(t, dir, "add", "-A")
			found, err := Tracked(dir)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && len(found) != 0:
				t.Errorf("found %v, want nothing", found)
			case tt.want != nil && (len(found) != 1 || found[0].Path != tt.path || !errors.Is(found[0].Err, tt.want)):
				t.Errorf("found %v, want %s: %v", found, tt.path, tt.want)
			}
		})
	}
}

// TestTrackedOnlyTracked: what git does not track (an ignored or an
// untracked build output) is no finding, and a tracked file whose
// working-tree copy is gone is passed over.
func TestTrackedOnlyTracked(t *testing.T) {
	dir := newRepo(t)
	write(t, dir, ".gitignore", []byte("/lbcheckd\n"), 0o644)
	write(t, dir, "gone", elf(), 0o755)
	gitIn(t, dir, "add", "-A")
	write(t, dir, "lbcheckd", elf(), 0o755)
	write(t, dir, "untracked", elf(), 0o755)
	os.Remove(filepath.Join(dir, "gone"))
	if found, err := Tracked(dir); err != nil || len(found) != 0 {
		t.Errorf("found %v (%v), want nothing", found, err)
	}
}

func TestNotACheckout(t *testing.T) {
	outside := newRepo(t)
	inner := filepath.Join(outside, "tarball")
	os.Mkdir(inner, 0o755)
	for name, dir := range map[string]string{"no repository": t.TempDir(), "inside another repository": inner} {
		t.Run(name, func(t *testing.T) {
			if _, err := Tracked(dir); !errors.Is(err, ErrNotCheckout) {
				t.Errorf("Tracked: %v, want %v", err, ErrNotCheckout)
			}
			if _, err := Unignored(dir, []string{"x"}); !errors.Is(err, ErrNotCheckout) {
				t.Errorf("Unignored: %v, want %v", err, ErrNotCheckout)
			}
		})
	}
}

func TestUnignored(t *testing.T) {
	for _, tt := range []struct {
		name      string
		gitignore string
		want      []string
	}{
		{"all anchored", "/lbcheck\n/lbcheckd\n", nil},
		{"one missing", "/lbcheck\n", []string{"lbcheckd"}},
		{"anchored elsewhere", "/cmd/lbcheckd\n/lbcheck\n", []string{"lbcheckd"}},
		{"none", "", []string{"lbcheck", "lbcheckd"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRepo(t)
			write(t, dir, ".gitignore", []byte(tt.gitignore), 0o644)
			got, err := Unignored(dir, []string{"lbcheck", "lbcheckd"})
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Unignored = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzExecutable: any bytes give an answer, never a panic, and an answer
// only where the format's magic is.
func FuzzExecutable(f *testing.F) {
	f.Add(elf())
	f.Add(pe())
	f.Add(append(magic(0xcafebabe), 0, 0, 0, 2))
	f.Add([]byte("#!/bin/sh\n"))
	f.Add(append([]byte("MZ"), make([]byte, 62)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, err := Executable(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"": true, "ELF": bytes.HasPrefix(data, []byte("\x7fELF")), "PE": bytes.HasPrefix(data, []byte("MZ")),
			"Mach-O": len(data) >= 4 && slices.Contains([]uint32{0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe, 0xcafebabf}, binary.BigEndian.Uint32(data))}
		if !want[kind] {
			t.Errorf("%q for %x", kind, data[:min(len(data), 16)])
		}
	})
}

// elf is the start of an x86-64 ELF executable's header.
func elf() []byte {
	return append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...)
}

// magic is a 4-byte big-endian magic number and some bytes.
func magic(m uint32) []byte { return binary.BigEndian.AppendUint32(nil, m) }

// pe is a DOS stub whose e_lfanew points at a PE signature.
func pe() []byte {
	b := make([]byte, 0x80+24)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x80)
	copy(b[0x80:], "PE\x00\x00")
	return b
}

// moduleRoot is the directory holding go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// newRepo makes an empty git repository in a temporary directory.
func newRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q")
	return dir
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func write(t *testing.T, dir, name string, data []byte, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

// TestLayoutPlacesEverything: README's Layout names every top-level file
// and directory, and every package.
func TestLayoutPlacesEverything(t *testing.T) {
	missing, err := Unplaced(moduleRoot(t))
	if errors.Is(err, ErrNotCheckout) {
		t.Skipf("what git tracks is checked only in a clone: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range missing {
		t.Errorf("README's Layout does not place %s", p)
	}
}

func TestUnplaced(t *testing.T) {
	files := []string{"Makefile", ".ci/run", "cmd/check_x/main.go", "cmd/check_y/main.go", "internal/lab/lbload/main.go",
		"internal/check/checktest/checktest.go", "internal/check/check.go", "internal/check/testdata/fake/main.go", "docs/a.md"}
	for _, tt := range []struct {
		name   string
		layout string
		want   []string
	}{
		{"all placed", "| `README.md`, `Makefile` | |\n| `.ci/run` | |\n| `cmd/check_*` | |\n| `internal/check` | `check/checktest` |\n| `internal/lab`, `lbload` | |\n| `docs/` | |\n", nil},
		{"a top-level file", "| `README.md` `.ci/run` `cmd/check_*` `internal/check` `check/checktest` `lbload` `docs/` |\n", []string{"Makefile"}},
		{"a package", "| `README.md` `Makefile` `.ci/run` `cmd/check_*` `internal/check` `lbload` `docs/` |\n", []string{"internal/check/checktest"}},
		{"a top-level directory", "| `README.md` `Makefile` `cmd/check_*` `internal/check` `check/checktest` `lbload` `docs/` |\n", []string{".ci"}},
		{"glob too narrow", "| `README.md` `Makefile` `.ci/run` `cmd/check_x` `internal/check` `check/checktest` `lbload` `docs/` |\n", []string{"cmd/check_y"}},
		{"outside the section", "| `README.md` `Makefile` `.ci/run` `cmd/check_*` `internal/check` `check/checktest` `docs/` |\n\n## Next\n\n`lbload`\n", []string{"internal/lab/lbload"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := newRepo(t)
			for _, f := range files {
				write(t, dir, f, []byte("package x\n"), 0o644)
			}
			write(t, dir, "README.md", []byte("# x\n\n## Layout\n\n| path | what |\n|---|---|\n"+tt.layout), 0o644)
			gitIn(t, dir, "add", "-A")
			got, err := Unplaced(dir)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Unplaced = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}
