package version_test

import (
	"archive/zip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binaries as people build them without make: --version must name the
// build, not "dev". Each test builds check_tcp_half_open (the fewest
// dependencies) from a copy of this module, offline, as a release is built
// (CGO_ENABLED=0, -trimpath).
const (
	module = "github.com/lbcheck/lbcheck"
	check  = "check_tcp_half_open"
)

// TestPlainGoBuild: `go build` in a git checkout names the commit.
func TestPlainGoBuild(t *testing.T) {
	src := t.TempDir()
	copyModule(t, src)
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "test"},
	} {
		run(t, src, nil, "git", args...)
	}
	sha := strings.TrimSpace(run(t, src, nil, "git", "rev-parse", "--short=12", "HEAD"))
	bin := filepath.Join(t.TempDir(), check)
	// -buildvcs=true: the default (auto) may be switched off in GOFLAGS.
	run(t, src, []string{"CGO_ENABLED=0"}, "go", "build", "-buildvcs=true", "-trimpath", "-o", bin, "./cmd/"+check)
	got := strings.TrimSpace(run(t, src, nil, bin, "--version"))
	if !strings.HasPrefix(got, check+" ") || !strings.Contains(got, sha) {
		t.Errorf("--version = %q, want it to name commit %s", got, sha)
	}
}

// TestGoInstallAtVersion: `go install module/cmd/x@v1.8.7` says 1.8.7. The
// module is served from a file proxy made here; its dependencies come from
// the module cache, so nothing is fetched.
func TestGoInstallAtVersion(t *testing.T) {
	const v = "v1.8.7"
	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy", module, "@v")
	if err := os.MkdirAll(proxy, 0o755); err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(proxy, "list"), v+"\n")
	writeFile(t, filepath.Join(proxy, v+".info"), `{"Version":"`+v+`","Time":"2026-01-02T03:04:05Z"}`)
	writeFile(t, filepath.Join(proxy, v+".mod"), string(gomod))
	zipModule(t, root, filepath.Join(proxy, v+".zip"), module+"@"+v)

	cache := strings.TrimSpace(run(t, root, nil, "go", "env", "GOMODCACHE"))
	env := []string{
		"GOBIN=" + filepath.Join(tmp, "bin"),
		"GOMODCACHE=" + filepath.Join(tmp, "modcache"),
		"GOPROXY=file://" + filepath.Join(tmp, "proxy") + ",file://" + filepath.Join(cache, "cache", "download"),
		"GOSUMDB=off", "GOFLAGS=-modcacherw -trimpath", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
	}
	run(t, tmp, env, "go", "install", module+"/cmd/"+check+"@"+v)
	got := strings.TrimSpace(run(t, tmp, nil, filepath.Join(tmp, "bin", check), "--version"))
	if want := check + " 1.8.7"; got != want {
		t.Errorf("--version = %q, want %q", got, want)
	}
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if e, ok := err.(*exec.ExitError); ok {
			stderr = e.Stderr
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
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

// walkModule calls f for each regular file of the module's working tree
// (uncommitted changes included), leaving out git and build output.
func walkModule(t *testing.T, root string, f func(rel, path string)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == ".git" || rel == "bin" || rel == "dist" {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && d.Name() != ".git" {
			f(rel, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyModule(t *testing.T, dst string) {
	t.Helper()
	walkModule(t, moduleRoot(t), func(rel, path string) {
		b, err := os.ReadFile(path)
		if err == nil {
			err = os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dst, rel), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
}

// zipModule writes a module zip as the proxy protocol serves it: every
// file under "module@version/".
func zipModule(t *testing.T, root, path, prefix string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := zip.NewWriter(f)
	walkModule(t, root, func(rel, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := z.Create(prefix + "/" + filepath.ToSlash(rel))
		if err == nil {
			_, err = w.Write(b)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}
