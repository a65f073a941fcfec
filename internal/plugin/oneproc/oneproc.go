// Package oneproc runs a check process on one P (GOMAXPROCS=1).
//
// A check does one thing at a time; a second P only makes the runtime
// start threads for it (about 27 µs and a stack's page faults each here).
// The package imports nothing but the runtime, so it is initialised among
// the first, before most package init work has woken an idle P. Only the
// check binaries import it (through internal/plugin), never the daemon.
package oneproc

import "runtime"

func init() { runtime.GOMAXPROCS(1) }
