package plugin

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/flags"
)

// manSpec has check options of every kind the man page must render: a value
// with a backquoted name, a default, a bool, and text that would be a roff
// request if written as is.
func manSpec() *checktest.Fake {
	spec := fake(nil)
	spec.PortHelp = "PORT defaults to 7."
	spec.Flags = func(fs *flags.FlagSet) {
		fs.StringVar(new(string), "path", "/", "request `PATH` sent")
		fs.BoolVar(new(bool), "tls", false, "speak TLS first")
		fs.StringVar(new(string), "regex", "", `.a body matching \d+ (a leading dot and a backslash)`)
	}
	spec.Examples = []check.Example{{Command: "check_fake --tls -t 0.5 10.0.0.5", What: "'quoted' start"}}
	return spec
}

func TestManPageListsEveryOption(t *testing.T) {
	spec := manSpec()
	code, page, _ := runFake(t, spec, "--man")
	if code != 0 {
		t.Fatalf("--man exit %d", code)
	}
	h, err := check.Parse(&spec.Spec, []string{"--help"})
	if err != nil {
		t.Fatal(err)
	}
	tags := regexp.MustCompile(`(?m)^\.TP\n(?:\\fB\\-(.)\\fR, )?\\fB\\-\\-([a-z0-9-\\]+)\\fR`).FindAllStringSubmatch(page, -1)
	seen := map[string]int{}
	for _, m := range tags {
		seen[strings.ReplaceAll(m[2], `\-`, "-")]++
	}
	h.Flags.VisitAll(func(f *flags.Flag) {
		want := 1
		if f.Hidden {
			want = 0
		}
		if seen[f.Name] != want {
			t.Errorf("--%s is an option %d times in the man page, want %d", f.Name, seen[f.Name], want)
		}
		delete(seen, f.Name)
	})
	for name := range seen {
		t.Errorf("the man page lists --%s, which the parser does not know", name)
	}
	for _, want := range []string{
		".TH CHECK_FAKE 1 ",
		"check_fake \\- tests the harness\n",
		"\\fB\\-\\-path\\fR \\fIPATH\\fR\nrequest PATH sent (default: /)\n",
		"\\fB\\-t\\fR, \\fB\\-\\-timeout\\fR \\fISEC\\fR\n",
		"\\fB\\-\\-tls\\fR\nspeak TLS first\n",
		"\\fB\\-v\\fR, \\fB\\-\\-verbose\\fR\n",
		"\\&.a body matching \\ed+",
		"PORT defaults to 7.",
		".B check_fake \\-\\-tls \\-t 0.5 10.0.0.5\n\\&'quoted' start\n",
		".BR check_ssl_hello (1)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, ".BR check_fake (1)") {
		t.Error("SEE ALSO names the page itself")
	}
}

// TestManPageRendersCleanly runs groff, the formatter man uses, with all
// warnings on: a bad escape or request would show up there.
func TestManPageRendersCleanly(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Fatal("groff (Debian groff-base, which man-db needs) is required to check the man page:", err)
	}
	_, page, _ := runFake(t, manSpec(), "--man")
	var stderr bytes.Buffer
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin, cmd.Stderr = strings.NewReader(page), &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff: %v\n%s", err, stderr.String())
	}
}

func TestHelpHidesMan(t *testing.T) {
	_, help, _ := runFake(t, manSpec(), "--help")
	if strings.Contains(help, "--man") {
		t.Errorf("--help shows the build-only --man:\n%s", help)
	}
	if !strings.Contains(help, "--tls") || !strings.Contains(help, "--timeout") {
		t.Errorf("--help lost options:\n%s", help)
	}
}

func TestRoffText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "a plain line", "a plain line"},
		{"leading dot", ".hidden request", `\&.hidden request`},
		{"leading quote", "'request", `\&'request`},
		{"backslash", `a\b`, `a\eb`},
		{"option", "see --tls and -t", `see \-\-tls and \-t`},
		{"hyphenated word", "half-open", "half-open"},
		{"new line", "one\n.two", "one\n\\&.two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := roffText(tc.in); got != tc.want {
				t.Errorf("roffText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestUsageSaysWhenPortIsRequired: a check with no default port (the
// half-open one) shows PORT as required in every form of its usage, in
// --help and in the man page; one with a default shows it optional.
func TestUsageSaysWhenPortIsRequired(t *testing.T) {
	for _, tt := range []struct {
		port      uint16
		help, man []string
	}{
		{0, []string{"[options] HOST PORT\n", "[options] -H HOST -p PORT\n"},
			[]string{`\fIHOST\fR \fIPORT\fR`, `\fB\-H\fR \fIHOST\fR \fB\-p\fR \fIPORT\fR` + "\n"}},
		{7, []string{"[options] HOST [PORT]\n", "[options] -H HOST [-p PORT]\n"},
			[]string{`\fIHOST\fR [\fIPORT\fR]`, `\fB\-H\fR \fIHOST\fR [\fB\-p\fR \fIPORT\fR]` + "\n"}},
	} {
		spec := fake(nil)
		spec.Port = tt.port
		_, help, _ := runFake(t, spec, "--help")
		_, man, _ := runFake(t, spec, "--man")
		for _, want := range tt.help {
			if !strings.Contains(help, want) {
				t.Errorf("port %d: --help lacks %q", tt.port, want)
			}
		}
		for _, want := range tt.man {
			if !strings.Contains(man, want) {
				t.Errorf("port %d: the man page lacks %q", tt.port, want)
			}
		}
	}
}
