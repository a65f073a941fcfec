package main

import (
	"fmt"
	"net/netip"
	"time"
)

// judge grades what /watches says, poll after poll, against the faults
// made: each target's state at each poll, when it last changed (the
// daemon's own timestamp, so a poll every interval is precise enough),
// and its recent verdicts (history: a down verdict between two polls
// shows there).
type judge struct {
	module string
	start  time.Time
	grace  time.Duration // a verdict may lag its cause this much
	every  time.Duration
	known  map[netip.AddrPort]bool
	faults map[netip.AddrPort]*faultSeen

	// wrongDown: down, never faulted or by a probe that started after
	// the fault was lifted; wrongUp: OK by a probe that started while
	// faulted. Either is a verdict that lies, not a late one.
	wrongDown, wrongUp, unknown map[netip.AddrPort]bool
	watched                     int
	last                        time.Duration // the latest poll, from start
	notes                       []string
}

// faultSeen is what the polls saw of a fault.
type faultSeen struct {
	fault
	down, up     time.Duration // how long after on (off) the verdict changed; -1 until seen
	missed, slow bool          // not down when due; not up when due
}

func newJudge(module string, list []netip.AddrPort, faults []fault, start time.Time, grace, every time.Duration) *judge {
	j := &judge{module: module, start: start, grace: grace, every: every,
		known: make(map[netip.AddrPort]bool, len(list)), faults: make(map[netip.AddrPort]*faultSeen, len(faults)),
		wrongDown: map[netip.AddrPort]bool{}, wrongUp: map[netip.AddrPort]bool{}, unknown: map[netip.AddrPort]bool{}}
	for _, t := range list {
		j.known[t] = true
	}
	for _, f := range faults {
		j.faults[f.target] = &faultSeen{fault: f, down: -1, up: -1}
	}
	return j
}

func (j *judge) note(format string, a ...any) { j.notes = append(j.notes, fmt.Sprintf(format, a...)) }

// settle is how long after a rule's change a probe that starts surely
// meets the new rule: nft is run at the second's tick, and takes a moment.
const settle = time.Second

// isDown says whether a state is a down verdict: CRITICAL or WARNING.
// UNKNOWN (could not check) is neither up nor down.
func isDown(state string) bool { return state == "CRITICAL" || state == "WARNING" }

// observe grades one poll, made at at.
func (j *judge) observe(at time.Time, snap []watchEntry) {
	t := at.Sub(j.start)
	j.last = max(j.last, t)
	seen := 0
	for _, e := range snap {
		if e.Module != j.module {
			continue
		}
		tg, err := netip.ParseAddrPort(e.Target)
		if err != nil || !j.known[tg] {
			j.note("%s: %q watched, not in the targets file", t.Round(time.Second), e.Target)
			continue
		}
		seen++
		anyDown, allDown, allUp := isDown(e.State), isDown(e.State), e.State == "OK"
		for _, h := range e.History {
			anyDown = anyDown || isDown(h)
			allDown = allDown && isDown(h)
			allUp = allUp && h == "OK"
		}
		if e.State == "UNKNOWN" && !j.unknown[tg] {
			j.unknown[tg] = true
			j.note("%s: %s UNKNOWN (could not check)", t.Round(time.Second), tg)
		}
		changed := time.Unix(0, int64(e.LastChange*1e9)).Sub(j.start)
		// when the latest verdict's probe started
		started := time.Unix(0, int64(e.VerdictTime*1e9)).Sub(j.start)
		if e.Duration != nil {
			started -= time.Duration(*e.Duration * 1e9)
		}
		f := j.faults[tg]
		if f == nil {
			if anyDown && !j.wrongDown[tg] {
				j.wrongDown[tg] = true
				j.note("%s: %s down (%s, history %v), never faulted", t.Round(time.Second), tg, e.State, e.History)
			}
			continue
		}
		// The verdicts in history came over the last len+1 intervals (a
		// slot's probe may end a deadline after it).
		span := time.Duration(len(e.History)+1) * j.every
		switch {
		case t < f.on:
			if anyDown && !j.wrongDown[tg] {
				j.wrongDown[tg] = true
				j.note("%s: %s down (%s) before its fault at %s", t.Round(time.Second), tg, e.State, f.on)
			}
		case t < f.off:
			if e.State == "OK" && started >= f.on+settle && !j.wrongUp[tg] {
				j.wrongUp[tg] = true
				j.note("%s: %s (%s at %s) OK from a probe started at %s", t.Round(time.Second), tg, setNames[f.kind], f.on, started.Round(time.Millisecond))
			}
			if isDown(e.State) && f.down < 0 {
				f.down = changed - f.on
				if f.down > j.grace || f.down < 0 {
					f.missed = true
					j.note("%s: %s (%s at %s) went down %s after it", t.Round(time.Second), tg, setNames[f.kind], f.on, f.down)
				}
			}
			due := t >= f.on+j.grace
			if due && !f.missed && (!isDown(e.State) || (t-span >= f.on+j.grace && !allDown)) {
				f.missed = true
				j.note("%s: %s (%s at %s) not down: %s, history %v, latest probe started at %s", t.Round(time.Second), tg, setNames[f.kind], f.on, e.State, e.History, started.Round(time.Millisecond))
			}
		default:
			if isDown(e.State) && started >= f.off+settle && !j.wrongDown[tg] {
				j.wrongDown[tg] = true
				j.note("%s: %s (%s lifted at %s) %s from a probe started at %s", t.Round(time.Second), tg, setNames[f.kind], f.off, e.State, started.Round(time.Millisecond))
			}
			if e.State == "OK" && f.up < 0 {
				f.up = changed - f.off
				if f.up > j.grace || f.up < 0 {
					f.slow = true
					j.note("%s: %s (%s lifted at %s) came up %s after it", t.Round(time.Second), tg, setNames[f.kind], f.off, f.up)
				}
			}
			due := t >= f.off+j.grace
			if due && !f.slow && (e.State != "OK" || (t-span >= f.off+j.grace && !allUp)) {
				f.slow = true
				j.note("%s: %s (%s lifted at %s) not up: %s, history %v, latest probe started at %s", t.Round(time.Second), tg, setNames[f.kind], f.off, e.State, e.History, started.Round(time.Millisecond))
			}
		}
	}
	j.watched = seen
	if seen != len(j.known) {
		j.note("%s: %d of %d targets watched", t.Round(time.Second), seen, len(j.known))
	}
}

type summary struct {
	watched, wrongDown, wrongUp, missedDown, slowUp, unknown int
	unjudged                                                 int // changes due after the last poll
	downMax, upMax                                           time.Duration
}

// summary counts the errors; a fault whose change no poll saw counts as
// missed (or slow), unless no poll came after it was due: then it is
// unjudged.
func (j *judge) summary() summary {
	s := summary{watched: j.watched, wrongDown: len(j.wrongDown), wrongUp: len(j.wrongUp), unknown: len(j.unknown)}
	for _, f := range j.faults {
		switch {
		case f.down >= 0 || f.missed:
		case j.last < f.on+j.grace:
			s.unjudged++
		default:
			f.missed = true
			j.note("%s (%s at %s): never seen down", f.target, setNames[f.kind], f.on)
		}
		switch {
		case f.up >= 0 || f.slow:
		case j.last < f.off+j.grace:
			s.unjudged++
		default:
			f.slow = true
			j.note("%s (%s lifted at %s): never seen up again", f.target, setNames[f.kind], f.off)
		}
		if f.missed {
			s.missedDown++
		}
		if f.slow {
			s.slowUp++
		}
		s.downMax = max(s.downMax, f.down)
		s.upMax = max(s.upMax, f.up)
	}
	return s
}
