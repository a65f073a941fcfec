// Package flags is the command-line parser every lbcheck binary and the
// daemon's modules share: GNU getopt_long syntax, as spf13/pflag reads it,
// in a form that costs next to nothing at start-up.
//
// A check binary parses its command line on every call, thousands of times
// a minute, so the parser allocates one Flag per option and nothing per
// lookup, keeps typed pointers instead of a Value per option, and formats
// defaults only when help or a man page asks for them. The syntax:
//
//	--name value   --name=value   -n value   -nvalue   -n=value
//	--bool   --bool=false   -abc (booleans and counts grouped)   -vv
//	--             ends the options; a lone "-" is an argument
//
// Options and arguments may come in any order, as with pflag.
package flags

import (
	"errors"
	"strconv"
	"strings"
)

// Value is an option of a type of its own (a duration, a range, a state).
type Value interface {
	String() string
	Set(string) error
	Type() string
}

type kind uint8

const (
	kString kind = iota
	kBool
	kInt
	kInt64
	kCount
	kStringArray
	kValue
)

// Flag is one option.
type Flag struct {
	Name      string // long name, without "--"
	Shorthand string // one letter, or ""
	Usage     string // help text; a `word` in backquotes names the value
	Hidden    bool   // left out of help and the man page
	Changed   bool   // set on the command line

	kind  kind
	str   *string
	b     *bool
	i     *int
	i64   *int64
	arr   *[]string
	val   Value
	def   string // the default for help, formatted when registered as a string
	defOK bool   // def is known (strings, values); else formatted on demand
	defI  int64  // numeric or bool default
}

// FlagSet is the options of one command.
type FlagSet struct {
	name  string
	flags []*Flag
	args  []string
}

// NewFlagSet returns an empty set for the command name (used in messages).
func NewFlagSet(name string) *FlagSet { return &FlagSet{name: name} }

func (f *FlagSet) add(fl *Flag) {
	if f.Lookup(fl.Name) != nil {
		panic("flags: option --" + fl.Name + " registered twice")
	}
	if fl.Shorthand != "" && (len(fl.Shorthand) != 1 || f.short(fl.Shorthand[0]) != nil) {
		panic("flags: bad or repeated shorthand -" + fl.Shorthand + " for --" + fl.Name)
	}
	f.flags = append(f.flags, fl)
}

// StringVar defines a string option.
func (f *FlagSet) StringVar(p *string, name, value, usage string) {
	f.StringVarP(p, name, "", value, usage)
}

// StringVarP defines a string option with a one-letter shorthand.
func (f *FlagSet) StringVarP(p *string, name, short, value, usage string) {
	*p = value
	f.add(&Flag{Name: name, Shorthand: short, Usage: usage, kind: kString, str: p, def: value, defOK: true})
}

// BoolVar defines a boolean option.
func (f *FlagSet) BoolVar(p *bool, name string, value bool, usage string) {
	f.BoolVarP(p, name, "", value, usage)
}

// BoolVarP defines a boolean option with a one-letter shorthand.
func (f *FlagSet) BoolVarP(p *bool, name, short string, value bool, usage string) {
	*p = value
	fl := &Flag{Name: name, Shorthand: short, Usage: usage, kind: kBool, b: p}
	if value {
		fl.defI = 1
	}
	f.add(fl)
}

// IntVar defines an integer option.
func (f *FlagSet) IntVar(p *int, name string, value int, usage string) {
	*p = value
	f.add(&Flag{Name: name, Usage: usage, kind: kInt, i: p, defI: int64(value)})
}

// Int64Var defines a 64-bit integer option.
func (f *FlagSet) Int64Var(p *int64, name string, value int64, usage string) {
	*p = value
	f.add(&Flag{Name: name, Usage: usage, kind: kInt64, i64: p, defI: value})
}

// CountVarP defines an option that counts its occurrences (-v, -vv).
func (f *FlagSet) CountVarP(p *int, name, short, usage string) {
	*p = 0
	f.add(&Flag{Name: name, Shorthand: short, Usage: usage, kind: kCount, i: p})
}

// StringArrayVar defines a repeatable option; each use adds one value, as
// given (commas are not split).
func (f *FlagSet) StringArrayVar(p *[]string, name string, value []string, usage string) {
	*p = value
	f.add(&Flag{Name: name, Usage: usage, kind: kStringArray, arr: p})
}

// Var defines an option of a type of its own; its current value is the
// default.
func (f *FlagSet) Var(v Value, name, usage string) { f.VarP(v, name, "", usage) }

// VarP defines an option of a type of its own with a shorthand.
func (f *FlagSet) VarP(v Value, name, short, usage string) {
	f.add(&Flag{Name: name, Shorthand: short, Usage: usage, kind: kValue, val: v, def: v.String(), defOK: true})
}

// MarkHidden keeps an option out of help and the man page.
func (f *FlagSet) MarkHidden(name string) {
	if fl := f.Lookup(name); fl != nil {
		fl.Hidden = true
	}
}

// Lookup finds an option by its long name.
func (f *FlagSet) Lookup(name string) *Flag {
	for _, fl := range f.flags {
		if fl.Name == name {
			return fl
		}
	}
	return nil
}

func (f *FlagSet) short(c byte) *Flag {
	for _, fl := range f.flags {
		if len(fl.Shorthand) == 1 && fl.Shorthand[0] == c {
			return fl
		}
	}
	return nil
}

// Changed reports whether the option was given on the command line.
func (f *FlagSet) Changed(name string) bool {
	fl := f.Lookup(name)
	return fl != nil && fl.Changed
}

// Args returns the arguments that are not options, in order.
func (f *FlagSet) Args() []string { return f.args }

// VisitAll calls fn for every option in the order they were defined.
func (f *FlagSet) VisitAll(fn func(*Flag)) {
	for _, fl := range f.flags {
		fn(fl)
	}
}

// takesValue reports whether the option needs an argument.
func (fl *Flag) takesValue() bool { return fl.kind != kBool && fl.kind != kCount }

// Parse reads args. On error the set is left partly filled; the caller
// reports the error and stops.
func (f *FlagSet) Parse(args []string) error {
	f.args = f.args[:0]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			f.args = append(f.args, args[i+1:]...)
			return nil
		case len(a) > 2 && a[:2] == "--":
			name, value, hasValue := strings.Cut(a[2:], "=")
			fl := f.Lookup(name)
			if fl == nil {
				return errors.New("unknown flag: --" + name)
			}
			if !hasValue && fl.takesValue() {
				if i+1 == len(args) {
					return errors.New("flag needs an argument: --" + name)
				}
				i++
				value, hasValue = args[i], true
			}
			if err := fl.set(value, hasValue); err != nil {
				return err
			}
		case len(a) > 1 && a[0] == '-':
			var err error
			if i, err = f.parseShort(args, i); err != nil {
				return err
			}
		default:
			f.args = append(f.args, a)
		}
	}
	return nil
}

// parseShort reads one group of shorthands, args[i], and returns the index
// of the last argument it used.
func (f *FlagSet) parseShort(args []string, i int) (int, error) {
	group := args[i][1:]
	for j := 0; j < len(group); j++ {
		c := group[j]
		fl := f.short(c)
		if fl == nil {
			return i, errors.New("unknown shorthand flag: '" + string(c) + "' in -" + group)
		}
		rest := group[j+1:]
		if !fl.takesValue() {
			if strings.HasPrefix(rest, "=") { // -v=true, as pflag allows
				return i, fl.set(rest[1:], true)
			}
			if err := fl.set("", false); err != nil {
				return i, err
			}
			continue
		}
		switch {
		case rest != "":
			// -t5 and -t=5
			return i, fl.set(strings.TrimPrefix(rest, "="), true)
		case i+1 < len(args):
			return i + 1, fl.set(args[i+1], true)
		}
		return i, errors.New("flag needs an argument: '" + string(c) + "' in -" + group)
	}
	return i, nil
}

// set stores one value; hasValue is false for a bare boolean or count.
func (fl *Flag) set(v string, hasValue bool) error {
	var err error
	switch fl.kind {
	case kString:
		*fl.str = v
	case kBool:
		b := true
		if hasValue {
			b, err = parseBool(v)
		}
		*fl.b = b
	case kCount:
		n := *fl.i + 1
		if hasValue {
			n, err = strconv.Atoi(v)
		}
		*fl.i = n
	case kInt:
		var n int64
		n, err = strconv.ParseInt(v, 0, strconv.IntSize)
		*fl.i = int(n)
	case kInt64:
		*fl.i64, err = strconv.ParseInt(v, 0, 64)
	case kStringArray:
		if !fl.Changed {
			*fl.arr = nil // the first use replaces the default
		}
		*fl.arr = append(*fl.arr, v)
	case kValue:
		err = fl.val.Set(v)
	}
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return errors.New("invalid argument " + strconv.Quote(v) + " for \"" + fl.names() + "\" flag: " + err.Error())
	}
	fl.Changed = true
	return nil
}

func parseBool(v string) (bool, error) {
	switch v {
	case "1", "t", "T", "true", "TRUE", "True":
		return true, nil
	case "0", "f", "F", "false", "FALSE", "False":
		return false, nil
	}
	return false, errors.New("want true or false")
}

// names is "-t, --timeout" or "--timeout".
func (fl *Flag) names() string {
	if fl.Shorthand != "" {
		return "-" + fl.Shorthand + ", --" + fl.Name
	}
	return "--" + fl.Name
}

// DefValue is the option's default as help shows it, "" for none.
func (fl *Flag) DefValue() string {
	switch {
	case fl.defOK:
		return fl.def
	case fl.kind == kBool:
		return strconv.FormatBool(fl.defI != 0)
	case fl.kind == kInt || fl.kind == kInt64 || fl.kind == kCount:
		return strconv.FormatInt(fl.defI, 10)
	}
	return ""
}

// showDefault reports whether help should mention the default.
func (fl *Flag) showDefault() bool {
	switch fl.kind {
	case kBool, kCount, kStringArray:
		return false
	case kInt, kInt64:
		return true
	}
	return fl.DefValue() != ""
}

// UnquoteUsage returns the name of the option's value (the first word in
// backquotes in its usage, else its type) and the usage without quotes.
// Booleans and counts take no value and return "".
func UnquoteUsage(fl *Flag) (name, usage string) {
	usage = fl.Usage
	if i := strings.IndexByte(usage, '`'); i >= 0 {
		if j := strings.IndexByte(usage[i+1:], '`'); j >= 0 {
			name = usage[i+1 : i+1+j]
			usage = usage[:i] + name + usage[i+1+j+1:]
			return name, usage
		}
	}
	switch fl.kind {
	case kBool, kCount:
		return "", usage
	case kString, kStringArray:
		return "string", usage
	case kInt, kInt64:
		return "int", usage
	}
	return fl.val.Type(), usage
}

// Usage is one option as help lists it: its names and value, and its
// usage with the default appended.
func (fl *Flag) usageLine() (left, right string) {
	name, usage := UnquoteUsage(fl)
	left = "      --" + fl.Name
	if fl.Shorthand != "" {
		left = "  -" + fl.Shorthand + ", --" + fl.Name
	}
	if name != "" {
		left += " " + name
	}
	if fl.showDefault() {
		d := fl.DefValue()
		if fl.kind == kString {
			d = strconv.Quote(d)
		}
		usage += " (default " + d + ")"
	}
	return left, usage
}

// Usages is the help listing of the given options, aligned in two columns.
func Usages(list []*Flag) string {
	width := 0
	for _, fl := range list {
		l, _ := fl.usageLine()
		width = max(width, len(l))
	}
	var b strings.Builder
	for _, fl := range list {
		l, u := fl.usageLine()
		b.WriteString(l)
		b.WriteString(strings.Repeat(" ", width-len(l)+3))
		b.WriteString(u)
		b.WriteByte('\n')
	}
	return b.String()
}
