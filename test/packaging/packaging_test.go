// Package packaging checks the files in packaging/ against the binaries they
// describe: the Icinga 2 CheckCommands must offer every option an operator
// would set, and name none that the binary does not parse, and each reads
// its own variables except a few shared ones (TestIcingaVariablesArePerCommand;
// test/integration's TestIcinga runs them live); the copyright
// file must name exactly the Go modules linked into the binaries; the HAProxy
// wrappers must exec their check with options it parses. The option lists
// come from each binary's own man page (--man), which is generated from the
// flags it parses, so a new option without a definition fails here.
package packaging

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/plugin"
)

// commands is the suite as the man pages' SEE ALSO names it.
var commands = plugin.Commands

// notForMonitoring are options a monitoring system has no use for: output
// form and exit codes are fixed by the Nagios plugin API, and HOST/PORT are
// -H/-p.
var notForMonitoring = map[string]bool{"exit-style": true, "format": true, "version": true, "help": true}

// option is one option of a binary: its long name and short letter.
type option struct{ long, short string }

var tagRE = regexp.MustCompile(`(?m)^\.TP\n(?:\\fB\\-(.)\\fR, )?\\fB\\-\\-([a-z0-9\\-]+)\\fR`)

// binDir holds the five commands and lbcheck, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lbcheck-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "../../cmd/lbcheckd")
	for _, c := range append(commands[:len(commands):len(commands)], "lbcheck") {
		build.Args = append(build.Args, "../../cmd/"+c)
	}
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	code := 1
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
	} else {
		binDir = dir
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// options reads a binary's options from its man page.
func options(t *testing.T, bin string) []option {
	t.Helper()
	out, err := exec.Command(bin, "--man").Output()
	if err != nil {
		t.Fatalf("%s --man: %v", bin, err)
	}
	var opts []option
	for _, m := range tagRE.FindAllStringSubmatch(string(out), -1) {
		opts = append(opts, option{long: strings.ReplaceAll(m[2], `\-`, "-"), short: m[1]})
	}
	if len(opts) < 10 {
		t.Fatalf("%s --man lists only %d options: the parser of this test is out of date", bin, len(opts))
	}
	return opts
}

// icingaArguments maps each CheckCommand (and template) of the file to the
// argument keys it declares.
func icingaArguments(t *testing.T, path string) map[string][]string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`(?m)^(?:object|template) CheckCommand "([^"]+)" \{$`)
	key := regexp.MustCompile(`(?m)^\t\t"(-[^"]+)" = \{$`)
	args := map[string][]string{}
	heads := head.FindAllSubmatchIndex(src, -1)
	for i, h := range heads {
		end := len(src)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		name := string(src[h[2]:h[3]])
		for _, k := range key.FindAllSubmatch(src[h[1]:end], -1) {
			args[name] = append(args[name], string(k[1]))
		}
	}
	return args
}

func TestIcingaCheckCommandsMatchTheBinaries(t *testing.T) {
	dir := binDir
	args := icingaArguments(t, "../../packaging/icinga2/lbcheck.conf")
	common := args["lbcheck-common"]
	if len(common) == 0 {
		t.Fatal(`no template CheckCommand "lbcheck-common" with arguments`)
	}
	for _, c := range commands {
		t.Run(c, func(t *testing.T) {
			name := "lbcheck_" + strings.TrimPrefix(c, "check_")
			own, ok := args[name]
			if !ok {
				t.Fatalf("no object CheckCommand %q", name)
			}
			declared := map[string]bool{}
			for _, k := range append(append([]string{}, common...), own...) {
				declared[k] = true
			}
			known := map[string]bool{}
			for _, o := range options(t, filepath.Join(dir, c)) {
				known["--"+o.long] = true
				if o.short != "" {
					known["-"+o.short] = true
				}
				if notForMonitoring[o.long] {
					continue
				}
				if !declared["--"+o.long] && (o.short == "" || !declared["-"+o.short]) {
					t.Errorf("%s has --%s, which %s does not offer", c, o.long, name)
				}
			}
			var unknown []string
			for k := range declared {
				if !known[k] {
					unknown = append(unknown, k)
				}
			}
			sort.Strings(unknown)
			if len(unknown) > 0 {
				t.Errorf("%s passes %v, which %s does not know", name, unknown, c)
			}
		})
	}
}

// sharedVars are the variables every lbcheck command reads: properties of
// the host, or of how checks run there, right for every check. Anything else
// a command reads is its own (lbcheck_<check>_*), so that a value set on a
// host for one check never reaches another check of that host: a shared
// lbcheck_port once sent the half-open host check's port to every service.
var sharedVars = map[string]bool{
	"lbcheck_address": true, "lbcheck_ipv4": true, "lbcheck_ipv6": true, "lbcheck_bind": true,
	"lbcheck_mark": true, "lbcheck_timeout_state": true, "lbcheck_verbose": true,
}

// sharedDefaults are the per-command variables that default to a shared
// one: lbcheck_<check>_timeout to lbcheck_timeout, and so on.
var sharedDefaults = []string{"timeout", "attempts", "retry_delay"}

func TestIcingaVariablesArePerCommand(t *testing.T) {
	src, err := os.ReadFile("../../packaging/icinga2/lbcheck.conf")
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`(?m)^(?:object|template) CheckCommand "([^"]+)" \{$`)
	macro := regexp.MustCompile(`\$(lbcheck_[a-z0-9_]+)\$`)
	heads := head.FindAllSubmatchIndex(src, -1)
	if len(heads) == 0 {
		t.Fatal("no CheckCommand in lbcheck.conf")
	}
	header := string(src[:heads[0][0]])
	blocks := map[string]string{}
	for i, h := range heads {
		end := len(src)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		blocks[string(src[h[2]:h[3]])] = string(src[h[1]:end])
	}

	t.Run("lbcheck-common", func(t *testing.T) {
		for _, m := range macro.FindAllStringSubmatch(blocks["lbcheck-common"], -1) {
			if !sharedVars[m[1]] {
				t.Errorf("the template reads $%s$, which then reaches every command: make it per command", m[1])
			}
		}
	})
	for _, c := range commands {
		name := "lbcheck_" + strings.TrimPrefix(c, "check_")
		t.Run(name, func(t *testing.T) {
			block, ok := blocks[name]
			if !ok {
				t.Fatalf("no object CheckCommand %q", name)
			}
			defaults := map[string]bool{}
			for _, d := range sharedDefaults {
				line := fmt.Sprintf("\tvars.%s_%s = \"$lbcheck_%s$\"\n", name, d, d)
				if !strings.Contains(block, line) {
					t.Errorf("%s lacks %q", name, strings.TrimSpace(line))
				}
				defaults["lbcheck_"+d] = true
			}
			for _, m := range macro.FindAllStringSubmatch(block, -1) {
				v := m[1]
				if strings.HasPrefix(v, name+"_") || sharedVars[v] {
					continue
				}
				if defaults[v] && strings.Contains(block, fmt.Sprintf("_%s = \"$%s$\"\n", strings.TrimPrefix(v, "lbcheck_"), v)) {
					continue // lbcheck_<check>_timeout = "$lbcheck_timeout$"
				}
				t.Errorf("%s reads $%s$, shared with other commands: want %s_*", name, v, name)
			}
			for _, a := range []string{"port", "warning", "critical", "attempts", "retry_delay"} {
				if !strings.Contains(block, fmt.Sprintf("value = \"$%s_%s$\"", name, a)) {
					t.Errorf("%s passes no argument from %s_%s", name, name, a)
				}
			}
		})
	}
	t.Run("header", func(t *testing.T) {
		for v := range sharedVars {
			if !strings.Contains(header, v) {
				t.Errorf("the header does not list the shared variable %s", v)
			}
		}
		for _, d := range sharedDefaults {
			if !strings.Contains(header, fmt.Sprintf("lbcheck_<check>_%s", d)) || !strings.Contains(header, "lbcheck_"+d+"\n") {
				t.Errorf("the header does not say lbcheck_<check>_%s defaults to lbcheck_%s", d, d)
			}
		}
	})
}

// TestCopyrightNamesTheLinkedModules: the binaries are static, so the
// package's copyright file must cover every module linked into them (the
// five checks, lbcheck, which links some the checks leave out, and
// lbcheckd), and should not claim one that is no longer there.
func TestCopyrightNamesTheLinkedModules(t *testing.T) {
	dir := binDir
	linked := map[string]bool{}
	for _, c := range append(commands[:len(commands):len(commands)], "lbcheck", "lbcheckd") {
		info, err := buildinfo.ReadFile(filepath.Join(dir, c))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range info.Deps {
			linked[d.Path] = true
		}
	}
	src, err := os.ReadFile("../../packaging/copyright")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^Files: (.+)$`).FindAllStringSubmatch(string(src), -1) {
		for _, f := range strings.Fields(m[1]) {
			if f != "*" && f != "go/stdlib/*" {
				named[strings.TrimSuffix(f, "/*")] = true
			}
		}
	}
	for m := range linked {
		if !named[m] {
			t.Errorf("%s is linked into the binaries but packaging/copyright has no Files paragraph for it", m)
		}
	}
	for m := range named {
		if !linked[m] {
			t.Errorf("packaging/copyright names %s, which no binary links", m)
		}
	}
}

// TestCommandsAreTheBinaries: plugin.Commands (SEE ALSO, and the list these
// tests check) is exactly the set of directories under cmd/.
func TestCommandsAreTheBinaries(t *testing.T) {
	dirs, err := filepath.Glob("../../cmd/check_*")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dirs {
		got = append(got, filepath.Base(d))
	}
	want := append([]string{}, commands...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cmd/ holds %v, plugin.Commands says %v", got, want)
	}
}
