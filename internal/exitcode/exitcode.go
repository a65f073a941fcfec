// Package exitcode holds the four Nagios plugin states, how they combine,
// and how they map to a process exit code for each calling convention.
//
// The Nagios guidelines fix OK=0, WARNING=1, CRITICAL=2, UNKNOWN=3. Callers
// that only know "zero is up" (Farmguardian, HAProxy external-check) read
// these as they are. keepalived's MISC_CHECK with misc_dynamic does not: it
// reads exit 1 as down but 2..255 as "up with weight code-2", so a CRITICAL
// would keep a dead backend in the pool. The binary style exists for it.
package exitcode

import (
	"fmt"
	"strings"
)

// State is a Nagios plugin state. Its numeric value is the Nagios exit code.
type State int

// The four states, valued as the Nagios plugin guidelines define them.
const (
	OK       State = 0
	Warning  State = 1
	Critical State = 2
	Unknown  State = 3
)

var names = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// String returns the state's name as it appears on the plugin's first line.
func (s State) String() string {
	if s < OK || s > Unknown {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return names[s]
}

// ParseState reads a state name, in any case, as --timeout-state takes it.
func ParseState(s string) (State, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return State(i), nil
		}
	}
	return Unknown, fmt.Errorf("unknown state %q (want ok, warning, critical or unknown)", s)
}

// severity orders the states for Worst as monitoring-plugins' max_state_alt
// does: OK < UNKNOWN < WARNING < CRITICAL. A measured problem outranks an
// inability to measure, and a failure outranks a warning.
var severity = [...]int{OK: 0, Unknown: 1, Warning: 2, Critical: 3}

// Worst returns the most severe of the given states; OK for none.
func Worst(states ...State) State {
	w := OK
	for _, s := range states {
		if s < OK || s > Unknown {
			s = Unknown
		}
		if severity[s] > severity[w] {
			w = s
		}
	}
	return w
}

// Style is how a state becomes an exit code.
type Style int

const (
	// Nagios exits with the state's own code: 0, 1, 2 or 3.
	Nagios Style = iota
	// Binary exits 0 for OK and 1 for anything else, the only mapping that
	// keepalived's misc_dynamic cannot misread as "up".
	Binary
)

// ParseStyle reads --exit-style.
func ParseStyle(s string) (Style, error) {
	switch strings.ToLower(s) {
	case "nagios":
		return Nagios, nil
	case "binary":
		return Binary, nil
	}
	return Nagios, fmt.Errorf("unknown exit style %q (want nagios or binary)", s)
}

// String returns the style's name as --exit-style takes it.
func (y Style) String() string {
	if y == Binary {
		return "binary"
	}
	return "nagios"
}

// Code is the process exit code for state s under style y.
func (y Style) Code(s State) int {
	if y == Binary {
		if s == OK {
			return 0
		}
		return 1
	}
	if s < OK || s > Unknown {
		return int(Unknown)
	}
	return int(s)
}
