// Package repo checks what git tracks in this repository: no build output
// (a 19 MB lbcheckd once sat at the root, downloaded by every clone), no
// large file outside testdata/, a .gitignore that covers every binary a
// plain `go build ./cmd/NAME` leaves at the root, and a README whose
// Layout places every top-level entry and every package. Its tests run in
// make test on the checkout itself; outside a git checkout they say so
// and skip.
package repo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// MaxSize is the largest file git may track outside a testdata directory.
const MaxSize = 1 << 20

var (
	// ErrNotCheckout: the directory is not the top of a git checkout, so
	// there is nothing git tracks to check (a source tarball, an export).
	ErrNotCheckout = errors.New("not the top of a git checkout")
	// ErrBuildOutput: a compiled program (ELF, Mach-O or PE), which is
	// built, never committed. Scripts are fine.
	ErrBuildOutput = errors.New("a compiled program: build output, not source")
	// ErrLarge: over MaxSize outside testdata/.
	ErrLarge = errors.New("over 1 MiB outside testdata/")
)

// Finding is a tracked file that does not belong; Err wraps ErrBuildOutput
// or ErrLarge.
type Finding struct {
	Path string
	Err  error
}

func (f Finding) String() string { return f.Path + ": " + f.Err.Error() }

// Tracked reads every file git tracks under root, the top of a checkout,
// as it is in the working tree, and returns those that are compiled
// programs or larger than MaxSize outside testdata/. Symbolic links and
// submodules are passed over, and so are tracked files deleted from the
// working tree (git status shows those).
func Tracked(root string) ([]Finding, error) {
	if err := isTop(root); err != nil {
		return nil, err
	}
	out, err := git(root, "ls-files", "-z", "--stage")
	if err != nil {
		return nil, err
	}
	var found []Finding
	seen := map[string]bool{}
	for _, entry := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if entry == "" {
			continue
		}
		// "MODE OBJECT STAGE\tPATH"; a conflicted path has one entry a stage.
		meta, name, ok := strings.Cut(entry, "\t")
		mode, _, _ := strings.Cut(meta, " ")
		if !ok || seen[name] || mode == "120000" || mode == "160000" {
			continue
		}
		seen[name] = true
		f, err := check(root, name)
		if err != nil {
			return nil, err
		}
		if f != nil {
			found = append(found, *f)
		}
	}
	return found, nil
}

// check looks at one tracked file: its first bytes and its size.
func check(root, name string) (*Finding, error) {
	file, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil
	}
	kind, err := Executable(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if kind != "" {
		return &Finding{name, fmt.Errorf("%w (%s): git rm --cached it; make build writes into bin/", ErrBuildOutput, kind)}, nil
	}
	if info.Size() > MaxSize && !inTestdata(name) {
		return &Finding{name, fmt.Errorf("%.1f MiB, %w", float64(info.Size())/(1<<20), ErrLarge)}, nil
	}
	return nil, nil
}

// inTestdata reports whether a slash-separated path lies in a directory
// named testdata, where the go command looks for fixtures.
func inTestdata(name string) bool {
	for _, dir := range strings.Split(path.Dir(name), "/") {
		if dir == "testdata" {
			return true
		}
	}
	return false
}

// Executable names the format of a compiled program whose header r
// begins with ("ELF", "Mach-O", "PE"), or is "" for anything else, a
// script with "#!" included. It reads the first 64 bytes and, for an MZ
// header, the 4 bytes its e_lfanew points at.
func Executable(r io.ReaderAt) (string, error) {
	head := make([]byte, 64)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	head = head[:n]
	if len(head) < 4 {
		return "", nil
	}
	switch be := binary.BigEndian.Uint32(head); {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "ELF", nil
	case be == 0xfeedface, be == 0xfeedfacf, be == 0xcefaedfe, be == 0xcffaedfe:
		return "Mach-O", nil
	case be == 0xcafebabe, be == 0xcafebabf:
		// A universal binary counts its architectures next; a Java class
		// file, which shares the magic, has its version there (45 and up).
		// file(1) draws the line at 20 too.
		if len(head) >= 8 {
			if archs := binary.BigEndian.Uint32(head[4:]); archs > 0 && archs < 20 {
				return "Mach-O", nil
			}
		}
	case bytes.HasPrefix(head, []byte("MZ")) && len(head) >= 0x40:
		// The DOS stub's e_lfanew points at the "PE\0\0" signature; a text
		// file that happens to begin with MZ has none there.
		sig := make([]byte, 4)
		at := int64(binary.LittleEndian.Uint32(head[0x3c:]))
		if _, err := r.ReadAt(sig, at); err == nil && string(sig) == "PE\x00\x00" {
			return "PE", nil
		}
	}
	return "", nil
}

// Unignored returns the names among names that .gitignore does not
// ignore as files at root, the top of a checkout.
func Unignored(root string, names []string) ([]string, error) {
	if err := isTop(root); err != nil {
		return nil, err
	}
	// --no-index: a tracked file at root (the old lbcheckd) is still
	// judged by the patterns. Exit 1 means none is ignored.
	out, err := git(root, append([]string{"check-ignore", "--no-index", "--"}, names...)...)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, name := range strings.Split(string(out), "\n") {
		ignored[name] = true
	}
	var missing []string
	for _, name := range names {
		if !ignored[name] {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

// MainPackages returns the last element of every main package's import
// path under root (the module's top): the name go build gives its binary.
func MainPackages(root string) ([]string, error) {
	cmd := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w%s", err, stderr(err))
	}
	var names []string
	for _, p := range strings.Fields(string(out)) {
		names = append(names, path.Base(p))
	}
	return names, nil
}

// isTop fails with ErrNotCheckout unless root is the top of a git
// checkout: a tree unpacked inside some other repository is not one.
func isTop(root string) error {
	out, err := git(root, "rev-parse", "--show-toplevel")
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s: %w (git: %s)", root, ErrNotCheckout, strings.TrimSpace(string(exit.Stderr)))
		}
		return err // no git at all: make test installs it
	}
	top := strings.TrimSpace(string(out))
	a, errA := filepath.EvalSymlinks(top)
	b, errB := filepath.EvalSymlinks(root)
	if errA != nil || errB != nil || a != b {
		return fmt.Errorf("%s: %w (it lies inside %s)", root, ErrNotCheckout, top)
	}
	return nil
}

func git(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("git %s: %w%s", args[0], err, stderr(err))
	}
	return out, nil
}

// stderr is what a failed command said, for the error that names it.
func stderr(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(exit.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(exit.Stderr))
	}
	return ""
}

// Unplaced returns what the Layout section of README.md at root does not
// place, so that a newcomer can place every file: each top-level entry git
// tracks and each directory of Go files (testdata aside) must be named
// there in backquotes, by its path, by a glob (`cmd/check_*`), by its
// path below a parent named in the same table (`check/checktest`,
// `lbload`), or, for a top-level directory, by a path inside it
// (`.ci/run`).
func Unplaced(root string) ([]string, error) {
	if err := isTop(root); err != nil {
		return nil, err
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		return nil, errors.New("README.md has no \"## Layout\" section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	var names []string
	for _, m := range backquoted.FindAllStringSubmatch(layout, -1) {
		names = append(names, strings.TrimSuffix(m[1], "/"))
	}
	out, err := git(root, "ls-files", "-z")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var order []string
	add := func(p string) {
		if !want[p] {
			want[p] = true
			order = append(order, p)
		}
	}
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		top, _, _ := strings.Cut(name, "/")
		add(top)
		if dir := path.Dir(name); strings.HasSuffix(name, ".go") && dir != "." && !inTestdata(name) {
			add(dir)
		}
	}
	var missing []string
	for _, p := range order {
		if !placed(p, names) {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

var backquoted = regexp.MustCompile("`([^`\n]+)`")

// placed reports whether one of names places the slash-separated path p.
func placed(p string, names []string) bool {
	for _, n := range names {
		if n == p || strings.HasSuffix(p, "/"+n) {
			return true
		}
		if ok, _ := path.Match(n, p); ok {
			return true
		}
		if !strings.Contains(p, "/") && strings.HasPrefix(n, p+"/") {
			return true
		}
	}
	return false
}
