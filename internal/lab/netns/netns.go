// Package netns runs a test binary in a network namespace of its own, so
// that tests can use raw sockets, bind any port and add nft rules without
// touching the host, and so that no packet they send can leave it.
//
// As root only the network namespace is new. Otherwise a user namespace
// comes with it, in which the test is root over its own network: raw
// sockets and nft work there unprivileged, where the kernel allows
// unprivileged user namespaces.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// envInside marks the re-executed binary.
const envInside = "LBCHECK_TEST_NETNS"

// Inside reports whether this process runs in the namespace Main made.
func Inside() bool { return os.Getenv(envInside) != "" }

// RealRoot reports whether the namespace was made by the host's root, who
// can switch users (setpriv) and set file capabilities inside it.
func RealRoot() bool { return os.Getenv(envInside) == "root" }

// Main runs the test binary again in a new network namespace with only
// loopback, up, and returns its exit code; inside that namespace it calls
// run (testing.M.Run). Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(netns.Main(m.Run)) }
func Main(run func() int) int {
	if Inside() {
		if err := loopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "netns: %v\n", err)
			return 1
		}
		return run()
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	who := "root"
	if uid, gid := os.Geteuid(), os.Getegid(); uid != 0 {
		who = "user"
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	}
	cmd.SysProcAttr = attr
	cmd.Env = append(os.Environ(), envInside+"="+who)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "netns: cannot run the tests in a network namespace of their own: %v\n"+
		"(they need root, or unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1)\n", err)
	return 1
}

// loopbackUp brings lo up, which gives the namespace 127.0.0.1/8 and ::1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}
