// Package privilege tells whether this process runs with privilege its
// caller did not have: a file capability (check_tcp_half_open's packaged
// cap_net_raw+ep) or a setuid or setgid bit. Such a process must not let
// its caller choose what the privilege was not given for.
package privilege

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// atSecure is AT_SECURE in the auxiliary vector (<linux/auxvec.h>);
// x/sys/unix has no name for it.
const atSecure = 23

// auxv is the auxiliary vector; tests replace it.
var auxv = unix.Auxv

// Elevated reports whether the kernel set AT_SECURE when it started this
// program: the exec gained capabilities (beyond the caller's ambient
// ones) or changed the effective user or group. It is the kernel's own
// word, the one ld.so and Go's runtime act on (the runtime then forces
// GOTRACEBACK=none). The vector is the runtime's copy, so asking costs no
// system call; still, ask only when it matters.
//
// If the vector cannot be read (some build modes hide it), Elevated says
// true: a caller is then refused what it may have been allowed, never
// allowed what it should have been refused.
func Elevated() bool {
	v, err := auxv()
	if err != nil {
		return true
	}
	for _, kv := range v {
		if kv[0] == atSecure {
			return kv[1] != 0
		}
	}
	return true // every Linux exec since 2.6 passes AT_SECURE
}

// Seal makes an elevated process non-dumpable, so that its caller cannot
// reach into it: no ptrace, no pidfd_getfd, no core, its /proc files
// root's. The kernel does this at exec only when the user or group
// changes (setuid, setgid), not for a file capability: such a process is
// protected from its caller (who runs as the same user) only while it
// holds capabilities the caller lacks. Once it drops them, as
// check_tcp_half_open does right after opening its raw socket, the caller
// could take that socket (pidfd_getfd), lift its filter and read every
// TCP packet of the host, or send what it likes. Call Seal before opening
// anything privileged. Dropping capabilities later does not undo it
// (commit_creds resets dumpability only when privilege grows).
func Seal() error {
	if !Elevated() {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_DUMPABLE: %w", err)
	}
	return nil
}
