package daemon

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/target"
)

const (
	// maxTargetsFileBytes bounds what is read of a targets_file: a
	// million HOST:PORT lines fit.
	maxTargetsFileBytes = 64 << 20
	maxTargetLine       = 512
	// targetsPollDefault is how often the targets files are looked at for a
	// change: a stat each, and only when a module has one.
	targetsPollDefault = 5 * time.Second
)

// listed says whether tg is one of the module's listed targets (targets
// or targets_file): watched from the start, never idle.
func (w *WatchSpec) listed(tg target.Spec) bool {
	if _, ok := slices.BinarySearchFunc(w.fileTargets, tg, compareSpec); ok {
		return true
	}
	return slices.Contains(w.Targets, tg)
}

// compareSpec orders a targets_file's targets, so that listed finds one
// by binary search: a map of 65,536 of them held 10 MB more.
func compareSpec(a, b target.Spec) int {
	if c := strings.Compare(a.Host, b.Host); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return a.IP.Compare(b.IP)
}

// allListed are the module's listed targets.
func (w *WatchSpec) allListed() []target.Spec {
	return append(slices.Clip(w.Targets), w.fileTargets...)
}

// ReadTargetsFiles reads every module's targets_file into its watch, and
// says in one line a file what it skipped: junk lines, duplicates, targets
// outside allow, what max_watches leaves no room for, a missing file. None
// of it refuses the configuration: the file is read again on SIGHUP and
// when it changes.
func (c *Config) ReadTargetsFiles() (notes []string) {
	room := c.MaxWatches
	names := make([]string, 0, len(c.Modules))
	for name, m := range c.Modules {
		if m.Watch != nil {
			room -= len(m.Watch.Targets)
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		w := c.Modules[name].Watch
		if w.TargetsFile == "" {
			continue
		}
		tgs, stamp, note := readTargetsFile(w.TargetsFile, c.Modules[name].Cmd, c, w, max(room, 0))
		room -= len(tgs)
		slices.SortFunc(tgs, compareSpec)
		w.fileTargets, w.fileStamp = tgs, stamp
		if note != "" {
			notes = append(notes, "module "+name+": targets_file "+w.TargetsFile+": "+note)
		}
	}
	return notes
}

// fileStamp tells a changed file from the one read.
type fileStamp struct {
	ino, size int64
	mtime     time.Time
	missing   bool
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{missing: true}
	}
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = int64(st.Ino)
	}
	return s
}

// readTargetsFile reads HOST:PORT a line (blank lines and # comments
// skipped), at most room targets.
func readTargetsFile(path string, cmd *check.Command, cfg *Config, w *WatchSpec, room int) (tgs []target.Spec, stamp fileStamp, note string) {
	stamp = stampOf(path)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, stamp, "missing: no targets from it until it appears"
		}
		return nil, stamp, oneLine(err.Error())
	}
	defer f.Close()
	seen := make(map[target.Spec]struct{})
	for _, tg := range w.Targets {
		seen[tg] = struct{}{}
	}
	var junk, dups, outside, over, lines int
	firstJunk := ""
	br := bufio.NewReaderSize(io.LimitReader(f, maxTargetsFileBytes+1), maxTargetLine)
	read := 0
	for {
		line, err := br.ReadSlice('\n')
		read += len(line)
		long := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of a long line
			var more []byte
			more, err = br.ReadSlice('\n')
			read += len(more)
		}
		if len(line) > 0 {
			lines++
			line = bytes.TrimSpace(line)
			switch {
			case long:
				junk++
				if firstJunk == "" {
					firstJunk = fmt.Sprintf("line %d: longer than %d bytes", lines, maxTargetLine)
				}
			case len(line) == 0 || line[0] == '#':
			default:
				tg, perr := parseWatchTarget(string(line), cmd)
				switch {
				case perr != nil:
					junk++
					if firstJunk == "" {
						firstJunk = fmt.Sprintf("line %d: %s", lines, oneLine(perr.Error()))
					}
				case tg.IP.IsValid() && !cfg.Allowed(tg.IP):
					outside++
				default:
					if _, dup := seen[tg]; dup {
						dups++
						break
					}
					if len(tgs) >= room {
						over++
						break
					}
					seen[tg] = struct{}{}
					tgs = append(tgs, tg)
				}
			}
		}
		if err != nil {
			break
		}
	}
	var parts []string
	if read > maxTargetsFileBytes {
		parts = append(parts, fmt.Sprintf("read only its first %d MiB", maxTargetsFileBytes>>20))
	}
	if junk > 0 {
		parts = append(parts, fmt.Sprintf("%d junk lines skipped (%s)", junk, firstJunk))
	}
	if dups > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicates skipped", dups))
	}
	if outside > 0 {
		parts = append(parts, fmt.Sprintf("%d targets outside allow skipped", outside))
	}
	if over > 0 {
		parts = append(parts, fmt.Sprintf("%d targets past max_watches %d skipped", over, cfg.MaxWatches))
	}
	if len(parts) > 0 {
		note = strconv.Itoa(len(tgs)) + " targets; "
		for i, p := range parts {
			if i > 0 {
				note += "; "
			}
			note += p
		}
	}
	return tgs, stamp, note
}

// WatchTargetsFiles reads the targets files again when one changes, until
// ctx ends, and logs what it skipped a line a file.
func (d *Daemon) WatchTargetsFiles(ctx context.Context, logf func(string)) {
	for {
		// Without a targets file it sleeps until a configuration has one.
		var tick <-chan time.Time
		if d.cfg.Load().hasTargetsFile() {
			tick = time.After(cmp.Or(d.targetsPoll, targetsPollDefault))
		}
		select {
		case <-ctx.Done():
			return
		case <-d.filesKick:
			continue
		case <-tick:
		}
		d.swapMu.Lock()
		cur := d.cfg.Load()
		changed := false
		for _, m := range cur.Modules {
			if m.Watch != nil && m.Watch.TargetsFile != "" && stampOf(m.Watch.TargetsFile) != m.Watch.fileStamp {
				changed = true
			}
		}
		if changed {
			next := cur.withFreshWatches()
			for _, n := range next.ReadTargetsFiles() {
				logf(n)
			}
			d.swapLocked(next)
		}
		d.swapMu.Unlock()
	}
}

func (c *Config) hasTargetsFile() bool {
	for _, m := range c.Modules {
		if m.Watch != nil && m.Watch.TargetsFile != "" {
			return true
		}
	}
	return false
}

// withFreshWatches is a copy of c whose watched modules have watch specs
// of their own, to read targets files into.
func (c *Config) withFreshWatches() *Config {
	n := *c
	n.Modules = make(map[string]*Module, len(c.Modules))
	for name, m := range c.Modules {
		if m.Watch != nil {
			// A new Module, not a copy: its cache of URL targets' commands
			// (and that cache's lock) starts anew.
			wc := *m.Watch
			m = &Module{Name: m.Name, Argv: m.Argv, Cmd: m.Cmd, Watch: &wc}
		}
		n.Modules[name] = m
	}
	return &n
}
