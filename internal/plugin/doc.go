// Package plugin is the process around a check: what a caller that runs a
// binary sees. It reads the command line with internal/check, answers
// --help, --version and --man, runs the check, writes the verdict as one
// Nagios line or one JSON object, and returns the exit code the caller's
// exit style asks for.
//
// A binary's main is one line:
//
//	func main() { os.Exit(run(plugin.SignalContext(), os.Args[1:], os.Stdout, os.Stderr)) }
//
// and run calls Run with the check's Spec. The context from SignalContext
// marks the run as the process's own; Run then also guarantees what only a
// process can: a verdict on SIGTERM, SIGINT or SIGHUP; exit by --timeout
// plus a few milliseconds even if a probe or a blocked stdout would hold
// it (a watchdog ends the process); a closed or broken stdout never kills
// it with SIGPIPE. Bad arguments give one UNKNOWN line before any packet
// is sent; a panic becomes an UNKNOWN line (its trace goes to stderr);
// nothing is ever forked.
package plugin
