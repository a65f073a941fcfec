package check

import (
	"errors"
	"os"
	"strconv"

	"github.com/lbcheck/lbcheck/internal/privilege"
)

// ErrMarkRefused is wrapped by the error Parse returns for a mark that a
// process running with privilege its caller lacks will not set.
var ErrMarkRefused = errors.New("mark refused")

// The process's facts, for mayMark; tests replace them.
var (
	elevated = privilege.Elevated
	getuid   = os.Getuid
)

// mayMark refuses a firewall mark when the kernel started the binary with
// privilege its caller did not have (AT_SECURE) and the caller is not
// root. Since Linux 5.17 SO_MARK is allowed with CAP_NET_RAW as well as
// CAP_NET_ADMIN, so check_tcp_half_open's packaged cap_net_raw+ep would
// let any local user pick the mark of its packets, and marks are what
// policy routing and firewall rules trust. Root (Farmguardian) may; so may
// a caller that has CAP_NET_ADMIN of its own, by running a copy of the
// binary that has no file capability, which is then no AT_SECURE exec.
// The auxiliary vector is looked at only when a mark is asked: the plain
// path pays nothing.
func mayMark(command string, mark uint32, fromEnv bool) error {
	if mark == 0 || !elevated() {
		return nil
	}
	uid := getuid()
	if uid == 0 {
		return nil
	}
	from := "--mark"
	if fromEnv {
		from = "MARK"
	}
	return &markRefused{from + " " + hexMark(mark) + " refused: " + command +
		" runs with privilege (file capability or setuid) that its caller, uid " + strconv.Itoa(uid) +
		", lacks; a mark needs root (as Farmguardian runs it) or the caller's own CAP_NET_ADMIN with a copy of " +
		command + " that has no file capability"}
}

func hexMark(m uint32) string { return "0x" + strconv.FormatUint(uint64(m), 16) }

// markRefused is an argument error (UNKNOWN, before any packet) that is
// also ErrMarkRefused.
type markRefused struct{ msg string }

func (e *markRefused) Error() string   { return e.msg }
func (e *markRefused) Unwrap() []error { return []error{ErrUsage, ErrMarkRefused} }
