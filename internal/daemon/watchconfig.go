package daemon

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/lbcheck/lbcheck/internal/check"
	"github.com/lbcheck/lbcheck/internal/target"
)

// Defaults and bounds of the watch keys.
const (
	DefaultMaxWatches = 100_000
	DefaultIdle       = 10 * time.Minute
	maxMaxWatches     = 10_000_000
	maxFallRise       = 100
	// minEvery keeps a typo (every: 1ms) from turning the daemon into a
	// flood.
	minEvery = 100 * time.Millisecond
	maxEvery = 24 * time.Hour
)

// ModuleEntry is a module as written: a command line (the list form, a
// probe per ask), or the map form, whose every makes it keep watch.
type ModuleEntry struct {
	Check       []string
	Every       string
	Idle        string
	Targets     []string
	TargetsFile string
	AgentWeight bool
	Fall, Rise  int
	mapForm     bool
}

// UnmarshalYAML reads either form; in the map form an unknown key is
// refused, as everywhere in the file.
func (e *ModuleEntry) UnmarshalYAML(unmarshal func(any) error) error {
	var list []string
	if err := unmarshal(&list); err == nil {
		*e = ModuleEntry{Check: list}
		return nil
	}
	var m struct {
		Check       []string `yaml:"check"`
		Every       *string  `yaml:"every"`
		Idle        *string  `yaml:"idle"`
		Targets     []string `yaml:"targets"`
		TargetsFile string   `yaml:"targets_file"`
		AgentWeight bool     `yaml:"agent_weight"`
		Fall        *int     `yaml:"fall"`
		Rise        *int     `yaml:"rise"`
	}
	if err := unmarshal(&m); err != nil {
		return err
	}
	*e = ModuleEntry{Check: m.Check, Targets: m.Targets, TargetsFile: m.TargetsFile, AgentWeight: m.AgentWeight, mapForm: true}
	if m.Every != nil {
		e.Every = *m.Every
		if e.Every == "" {
			e.Every = `""`
		}
	}
	if m.Idle != nil {
		e.Idle = *m.Idle
		if e.Idle == "" {
			e.Idle = `""`
		}
	}
	e.Fall, e.Rise = -1, -1 // unset
	if m.Fall != nil {
		e.Fall = *m.Fall
	}
	if m.Rise != nil {
		e.Rise = *m.Rise
	}
	return nil
}

// MarshalYAML writes the entry in the form it was read in (/config).
func (e ModuleEntry) MarshalYAML() (any, error) {
	if !e.mapForm {
		return e.Check, nil
	}
	type mapForm struct {
		Check       []string `yaml:"check"`
		Every       string   `yaml:"every,omitempty"`
		Idle        string   `yaml:"idle,omitempty"`
		Targets     []string `yaml:"targets,omitempty"`
		TargetsFile string   `yaml:"targets_file,omitempty"`
		AgentWeight bool     `yaml:"agent_weight,omitempty"`
		Fall        int      `yaml:"fall,omitempty"`
		Rise        int      `yaml:"rise,omitempty"`
	}
	return mapForm{Check: e.Check, Every: e.Every, Idle: e.Idle, Targets: e.Targets, TargetsFile: e.TargetsFile,
		AgentWeight: e.AgentWeight, Fall: max(e.Fall, 0), Rise: max(e.Rise, 0)}, nil
}

// WatchSpec is how a module keeps watch.
type WatchSpec struct {
	// Every is the interval between a target's probes.
	Every time.Duration
	// Idle ends the watch of a target nobody asked about for this long.
	Idle time.Duration
	// Targets are watched from the start and never idle.
	Targets []target.Spec
	// TargetsFile lists more such targets, HOST:PORT a line.
	TargetsFile string
	// AgentWeight answers the agent "up N%" from the response
	// time's EWMA: 100% at or under WeightFull (-w), 10% at WeightLow (-c).
	AgentWeight           bool
	WeightFull, WeightLow float64
	Fall, Rise            int

	// What ReadTargetsFiles found in TargetsFile.
	fileTargets []target.Spec
	fileStamp   fileStamp
}

// watchSpec checks the map form's watch keys against the module's command.
// A module without every has none (nil), whatever else it says, unless it
// says watch keys that need every.
func (e ModuleEntry) watchSpec(cmd *check.Command) (*WatchSpec, error) {
	if !e.mapForm {
		return nil, nil
	}
	if e.Every == "" {
		switch {
		case e.Idle != "":
			return nil, errors.New("idle: needs every (how often to probe a watched target)")
		case e.Targets != nil:
			return nil, errors.New("targets: needs every (how often to probe a watched target)")
		case e.TargetsFile != "":
			return nil, errors.New("targets_file: needs every (how often to probe a watched target)")
		case e.AgentWeight:
			return nil, errors.New("agent_weight: needs every: the weight comes from a watch's measured response times")
		case e.Fall >= 0 || e.Rise >= 0:
			return nil, errors.New("fall, rise: need every: they count a watch's verdicts in a row")
		}
		return nil, nil
	}
	w := &WatchSpec{Idle: DefaultIdle, TargetsFile: e.TargetsFile, AgentWeight: e.AgentWeight, Fall: 1, Rise: 1}
	every, err := time.ParseDuration(e.Every)
	switch {
	case err != nil:
		return nil, fmt.Errorf("every %s: want a duration such as 2s or 1m", strconv.Quote(e.Every))
	case every <= 0:
		return nil, fmt.Errorf("every %s: want a duration above zero, such as 2s", e.Every)
	case every < minEvery || every > maxEvery:
		return nil, fmt.Errorf("every %s: want %s to %s", e.Every, minEvery, maxEvery)
	case every < cmd.Deadline:
		// A probe could still run when the next is due: never two in
		// flight for one target.
		return nil, fmt.Errorf("every %s: shorter than the module's deadline %s (-t): a probe must end before the next is due; lower -t or raise every", every, cmd.Deadline)
	}
	w.Every = every
	if e.Idle != "" {
		idle, err := time.ParseDuration(e.Idle)
		switch {
		case err != nil:
			return nil, fmt.Errorf("idle %s: want a duration such as 10m", strconv.Quote(e.Idle))
		case idle < every:
			return nil, fmt.Errorf("idle %s: shorter than every %s: a watch would end before its next probe", e.Idle, every)
		}
		w.Idle = idle
	}
	for _, k := range []struct {
		name string
		v    int
		dst  *int
	}{{"fall", e.Fall, &w.Fall}, {"rise", e.Rise, &w.Rise}} {
		if k.v == -1 {
			continue
		}
		if k.v < 1 || k.v > maxFallRise {
			return nil, fmt.Errorf("%s %d: want 1 to %d verdicts in a row", k.name, k.v, maxFallRise)
		}
		*k.dst = k.v
	}
	if w.AgentWeight {
		wr, cr := cmd.Thresholds.Warning, cmd.Thresholds.Critical
		if wr == nil || cr == nil || wr.Inside || cr.Inside || wr.Start > 0 || cr.Start > 0 ||
			math.IsInf(wr.End, 1) || math.IsInf(cr.End, 1) || !(wr.End < cr.End) {
			return nil, errors.New(`agent_weight: needs the check's -w and -c as response times in seconds, -w below -c (e.g. -w "0.2" -c "1")`)
		}
		w.WeightFull, w.WeightLow = wr.End, cr.End
	}
	for _, s := range e.Targets {
		tg, err := parseWatchTarget(s, cmd)
		if err != nil {
			return nil, fmt.Errorf("targets: %w", err)
		}
		if slices.Contains(w.Targets, tg) {
			return nil, fmt.Errorf("targets: %s listed twice", strconv.Quote(clip(s)))
		}
		w.Targets = append(w.Targets, tg)
	}
	return w, nil
}

// parseWatchTarget reads a listed target: HOST:PORT ([v6]:PORT), or HOST
// alone where the check has a default port.
func parseWatchTarget(s string, cmd *check.Command) (target.Spec, error) {
	tg, err := target.FromArgs("", "", []string{s})
	if err != nil {
		return tg, fmt.Errorf("%s: %v", strconv.Quote(clip(s)), err)
	}
	if tg.Port == 0 {
		tg.Port = cmd.Options.DefaultPort()
	}
	if tg.Port == 0 {
		return tg, fmt.Errorf("%s: want HOST:PORT", strconv.Quote(clip(s)))
	}
	return tg, nil
}

// checkStaticTargets refuses listed targets outside allow, and more listed
// targets than max_watches.
func (c *Config) checkStaticTargets(names []string) error {
	n := 0
	for _, name := range names {
		m := c.Modules[name]
		if m.Watch == nil {
			continue
		}
		for _, tg := range m.Watch.Targets {
			if tg.IP.IsValid() && !c.Allowed(tg.IP) {
				return fmt.Errorf("module %s: targets: %s is outside allow", name, tg.IP)
			}
		}
		n += len(m.Watch.Targets)
	}
	if n > c.MaxWatches {
		return fmt.Errorf("max_watches %d: the modules list %d targets", c.MaxWatches, n)
	}
	return nil
}
