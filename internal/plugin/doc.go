// Package plugin is the harness every lbcheck binary runs on: it parses the
// common command line (DESIGN.md section 2), resolves the target once, runs
// the probe with attempts inside one hard deadline, applies the response
// time thresholds, and prints the verdict as a Nagios line or JSON with the
// exit code the caller expects.
//
// A binary supplies a Spec (its name, options and probe) and calls Run from
// its own run function, which main wraps in os.Exit:
//
//	func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }
//
// Guarantees the callers depend on: bad arguments give one UNKNOWN line
// before any packet is sent; the verdict is printed within --timeout plus
// a few milliseconds whatever the peer does, because the probe runs in a
// goroutine the harness stops waiting for; a panic becomes an UNKNOWN line
// (its trace goes to stderr); nothing is ever forked.
package plugin
