// Command muxcaps is a test helper of package halfopen (TestMuxAfterDropCaps):
// lbcheckd's order of start-up, OpenMux, Prepare for the configuration's
// marks, then DropCaps, and probes after that with no capability left.
// Built with CGO_ENABLED=0, without which capabilities cannot be dropped on
// every thread. Each argument is LABEL=ADDR:PORT or LABEL=ADDR:PORT/MARK;
// each probe prints "LABEL<TAB>STATE<TAB>SUMMARY".
package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lbcheck/lbcheck/internal/exitcode"
	"github.com/lbcheck/lbcheck/internal/probe"
	"github.com/lbcheck/lbcheck/internal/probe/halfopen"
	"github.com/lbcheck/lbcheck/internal/sockopt"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "muxcaps:", err)
		os.Exit(1)
	}
}

func run() error {
	m, err := halfopen.OpenMux()
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Prepare(sockopt.Options{Mark: 0x2a}); err != nil {
		return err
	}
	if err := halfopen.DropCaps(); err != nil {
		return err
	}
	caps, err := halfopen.ThreadCaps()
	if err != nil {
		return err
	}
	zero := 0
	for _, c := range caps {
		if c == "CapEff=0000000000000000 CapPrm=0000000000000000" {
			zero++
		}
	}
	fmt.Printf("threads\t%d\t%d without capabilities\n", len(caps), zero)
	for _, arg := range os.Args[1:] {
		label, spec, _ := strings.Cut(arg, "=")
		addr, markText, _ := strings.Cut(spec, "/")
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return err
		}
		var mark uint64
		if markText != "" {
			if mark, err = strconv.ParseUint(markText, 0, 32); err != nil {
				return err
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
		r := m.Probe(ctx, probe.Target{Addr: ap, Socket: sockopt.Options{Mark: uint32(mark)}, Log: probe.NewLog(0)})
		cancel()
		fmt.Printf("%s\t%s\t%s\n", label, exitcode.State(r.State), r.Summary)
	}
	err = m.Prepare(sockopt.Options{Mark: 0x2b})
	fmt.Printf("prepare-after-drop\t%v\t%v\n", errors.Is(err, halfopen.ErrNoPrivilege), err)
	return nil
}
