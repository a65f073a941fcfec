package check_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/check/checktest"
	"github.com/lbcheck/lbcheck/internal/probe"
)

// TestMarkUnderAT_SECURE: a process the kernel started with privilege its
// caller lacks sets a mark only for root; everyone else is refused at
// parse time, before any socket. Without AT_SECURE nothing changes.
func TestMarkUnderAT_SECURE(t *testing.T) {
	spec := checktest.New(func(context.Context, probe.Target) probe.Result { return probe.OK("fine") })
	for _, tc := range []struct {
		name     string
		elevated bool
		uid      int
		env      string // MARK
		args     []string
		mark     uint32 // set, when accepted
		refused  string // the error's start, when refused
	}{
		{"not elevated, --mark", false, 65534, "", []string{"--mark", "0x2a"}, 0x2a, ""},
		{"not elevated, MARK", false, 65534, "42", nil, 42, ""},
		{"elevated root, --mark", true, 0, "", []string{"--mark", "0x2a"}, 0x2a, ""},
		{"elevated root, MARK", true, 0, "0x2a", nil, 0x2a, ""},
		{"elevated user, --mark", true, 65534, "", []string{"--mark", "0x2a"}, 0, "--mark 0x2a refused: check_fake runs with privilege"},
		{"elevated user, MARK", true, 1000, "42", nil, 0, "MARK 0x2a refused: check_fake runs with privilege (file capability or setuid) that its caller, uid 1000, lacks"},
		{"elevated user, --mark over MARK", true, 1000, "7", []string{"--mark", "9"}, 0, "--mark 0x9 refused"},
		{"elevated user, no mark", true, 65534, "", nil, 0, ""},
		{"elevated user, mark 0 sets nothing", true, 65534, "", []string{"--mark", "0"}, 0, ""},
		{"elevated user, bad MARK is bad usage first", true, 65534, "0x2x", nil, 0, "bad argument: environment variable MARK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer check.Privileged(tc.elevated, tc.uid)()
			t.Setenv("MARK", tc.env)
			cmd, err := check.Parse(&spec.Spec, append(tc.args, "192.0.2.1", "80"))
			if tc.refused == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cmd.Socket.Mark != tc.mark {
					t.Errorf("mark %#x, want %#x", cmd.Socket.Mark, tc.mark)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, mark %#x", cmd.Socket.Mark)
			}
			if !strings.HasPrefix(err.Error(), tc.refused) || !errors.Is(err, check.ErrUsage) {
				t.Errorf("error %q (usage: %v), want it to start %q", err, errors.Is(err, check.ErrUsage), tc.refused)
			}
			if strings.Contains(tc.refused, "refused") != errors.Is(err, check.ErrMarkRefused) {
				t.Errorf("errors.Is(%q, ErrMarkRefused) = %v", err, errors.Is(err, check.ErrMarkRefused))
			}
		})
	}
}

// A daemon's module is parsed by the same rule: lbcheckd given a file
// capability and run by a user with a configuration of its choosing
// would otherwise set its marks.
func TestModuleMarkUnderAT_SECURE(t *testing.T) {
	spec := checktest.New(func(context.Context, probe.Target) probe.Result { return probe.OK("fine") })
	t.Setenv("MARK", "")
	defer check.Privileged(true, 65534)()
	if _, err := check.ParseModule(&spec.Spec, []string{"--mark", "0x2a"}); !errors.Is(err, check.ErrMarkRefused) {
		t.Errorf("module's mark under AT_SECURE as uid 65534: %v", err)
	}
	restore := check.Privileged(true, 0)
	defer restore()
	if cmd, err := check.ParseModule(&spec.Spec, []string{"--mark", "0x2a"}); err != nil || cmd.Socket.Mark != 0x2a {
		t.Errorf("root's module mark: %v", err)
	}
}
