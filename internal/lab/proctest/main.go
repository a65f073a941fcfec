package proctest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	// dir is where Binary.Build builds, made by RunTests.
	dir string
	// stops close what Start started, last first, once the tests ran.
	stops []func()
)

// Main is a command package's TestMain: setup starts what the tests run
// against (with Start), then Main makes the directory the binary is built
// into, runs the tests, stops the servers, removes the directory and
// exits with the tests' code.
//
//	func TestMain(m *testing.M) {
//		proctest.Main(m, func() (err error) {
//			theLab, err = proctest.Start("lab", lab.Start)
//			return err
//		})
//	}
func Main(m *testing.M, setup func() error) { os.Exit(RunTests(m, setup)) }

// RunTests is Main without the exit, for a TestMain that runs the tests
// in a network namespace: os.Exit(netns.Main(func() int { return
// proctest.RunTests(m, setup) })).
func RunTests(m *testing.M, setup func() error) int {
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		stops = nil
	}()
	if setup != nil {
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "setup:", err)
			return 1
		}
	}
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	var err error
	if dir, err = os.MkdirTemp("", name+"-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	return m.Run()
}

// Start starts a server for the tests with start and has it closed once
// they ran (Main's setup calls it); name says what failed to start.
func Start[S interface{ Close() }](name string, start func() (S, error)) (S, error) {
	s, err := start()
	if err != nil {
		return s, fmt.Errorf("%s: %w", name, err)
	}
	stops = append(stops, s.Close)
	return s, nil
}

// Dir is the temporary directory Main made for the package's binaries.
func Dir() string { return dir }

// Build builds the binary into Dir on first use and returns its path.
func (b *Binary) Build(t testing.TB) string {
	t.Helper()
	if dir == "" {
		t.Fatal("proctest: Build needs proctest.Main (or RunTests) in TestMain")
	}
	return b.Path(t, dir)
}
