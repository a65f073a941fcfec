// Package check turns a command line into a verdict: it parses the options
// every check shares (DESIGN.md section 2) and the check's own, with one
// parser, validates them before anything is sent, resolves the target once,
// runs the probe's attempts inside one deadline, and grades the result by
// the response-time thresholds and --timeout-state.
//
// It knows nothing of processes. The check binaries (internal/plugin adds
// stdout, exit codes, signals) and the daemon's modules (cmd/lbcheckd: a
// module is a command line without HOST and PORT) both stand on it, so an
// option means the same wherever it is written.
//
//	cmd, err := check.Parse(&spec, args)   // bad usage: err wraps ErrUsage
//	v := cmd.Run(ctx, cmd.Target, log)     // the verdict, within cmd.Deadline
//	line := v.Line()                        // NAME STATE - summary | perfdata
package check
