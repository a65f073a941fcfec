package flags

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// upper is a Value that refuses lowercase, to see Set's error reported.
type upper string

func (u *upper) String() string { return string(*u) }
func (u *upper) Type() string   { return "WORD" }
func (u *upper) Set(s string) error {
	if strings.ToUpper(s) != s {
		return errors.New("want capitals")
	}
	*u = upper(s)
	return nil
}

type opts struct {
	host, name string
	tcp, four  bool
	attempts   int
	max        int64
	verbose    int
	expect     []string
	word       upper
}

func newSet() (*FlagSet, *opts) {
	o := &opts{word: "DEF"}
	fs := NewFlagSet("check_x")
	fs.StringVarP(&o.host, "host", "H", "", "`HOST` to check")
	fs.StringVar(&o.name, "name", ".", "query `NAME`")
	fs.BoolVar(&o.tcp, "tcp", false, "over TCP")
	fs.BoolVarP(&o.four, "ipv4", "4", false, "IPv4 only")
	fs.IntVar(&o.attempts, "attempts", 1, "`N` tries")
	fs.Int64Var(&o.max, "max-body", 1<<20, "most body `BYTES`")
	fs.CountVarP(&o.verbose, "verbose", "v", "more trace")
	fs.StringArrayVar(&o.expect, "expect", nil, "`VALUE` to find; repeatable")
	fs.VarP(&o.word, "word", "w", "a word in capitals")
	fs.BoolVar(new(bool), "man", false, "roff")
	fs.MarkHidden("man")
	return fs, o
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want opts
		rest []string
	}{
		{"nothing", nil, opts{name: ".", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"long with space", []string{"--host", "a", "--name", "x."}, opts{host: "a", name: "x.", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"long with equals", []string{"--host=a=b", "--attempts=3"}, opts{host: "a=b", name: ".", attempts: 3, max: 1 << 20, word: "DEF"}, nil},
		{"empty value", []string{"--name="}, opts{attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"short with space", []string{"-H", "a"}, opts{host: "a", name: ".", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"short glued", []string{"-Ha"}, opts{host: "a", name: ".", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"short equals", []string{"-H=a"}, opts{host: "a", name: ".", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"value that looks like an option", []string{"-H", "-v"}, opts{host: "-v", name: ".", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"bools and counts grouped", []string{"-4vv", "-v"}, opts{name: ".", four: true, attempts: 1, max: 1 << 20, verbose: 3, word: "DEF"}, nil},
		{"group ending in a value", []string{"-vHa"}, opts{host: "a", name: ".", attempts: 1, max: 1 << 20, verbose: 1, word: "DEF"}, nil},
		{"count set", []string{"--verbose=2", "-v"}, opts{name: ".", attempts: 1, max: 1 << 20, verbose: 3, word: "DEF"}, nil},
		{"bool false", []string{"--tcp=false", "--ipv4=true"}, opts{name: ".", four: true, attempts: 1, max: 1 << 20, word: "DEF"}, nil},
		{"hex number", []string{"--max-body", "0x10"}, opts{name: ".", attempts: 1, max: 16, word: "DEF"}, nil},
		{"repeated", []string{"--expect", "a", "--expect=b,c"}, opts{name: ".", attempts: 1, max: 1 << 20, expect: []string{"a", "b,c"}, word: "DEF"}, nil},
		{"own type", []string{"-w", "ABC"}, opts{name: ".", attempts: 1, max: 1 << 20, word: "ABC"}, nil},
		{"interspersed", []string{"10.0.0.5", "--tcp", "53"}, opts{name: ".", tcp: true, attempts: 1, max: 1 << 20, word: "DEF"}, []string{"10.0.0.5", "53"}},
		{"dash is an argument", []string{"-", "--tcp"}, opts{name: ".", tcp: true, attempts: 1, max: 1 << 20, word: "DEF"}, []string{"-"}},
		{"double dash ends options", []string{"--tcp", "--", "-v", "--name"}, opts{name: ".", tcp: true, attempts: 1, max: 1 << 20, word: "DEF"}, []string{"-v", "--name"}},
		{"last one wins", []string{"--name", "a", "--name", "b"}, opts{name: "b", attempts: 1, max: 1 << 20, word: "DEF"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, o := newSet()
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if o.host != tt.want.host || o.name != tt.want.name || o.tcp != tt.want.tcp || o.four != tt.want.four ||
				o.attempts != tt.want.attempts || o.max != tt.want.max || o.verbose != tt.want.verbose ||
				!slices.Equal(o.expect, tt.want.expect) || o.word != tt.want.word {
				t.Errorf("got %+v\nwant %+v", *o, tt.want)
			}
			if !slices.Equal(fs.Args(), tt.rest) {
				t.Errorf("args %q, want %q", fs.Args(), tt.rest)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown long", []string{"--nope"}, "unknown flag: --nope"},
		{"unknown long with value", []string{"--nope=1"}, "unknown flag: --nope"},
		{"unknown short", []string{"-x"}, "unknown shorthand flag: 'x' in -x"},
		{"unknown in a group", []string{"-4x"}, "unknown shorthand flag: 'x' in -4x"},
		{"missing long value", []string{"--name"}, "flag needs an argument: --name"},
		{"missing short value", []string{"-H"}, "flag needs an argument: 'H' in -H"},
		{"bad number", []string{"--attempts", "two"}, `invalid argument "two" for "--attempts" flag: invalid syntax`},
		{"number out of range", []string{"--max-body", "99999999999999999999"}, `invalid argument "99999999999999999999" for "--max-body" flag: value out of range`},
		{"bad bool", []string{"--tcp=maybe"}, `invalid argument "maybe" for "--tcp" flag: want true or false`},
		{"own type refuses", []string{"--word", "abc"}, `invalid argument "abc" for "-w, --word" flag: want capitals`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, _ := newSet()
			err := fs.Parse(tt.args)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	fs, _ := newSet()
	if err := fs.Parse([]string{"--name", ".", "-v"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"name": true, "verbose": true, "host": false, "nope": false} {
		if got := fs.Changed(name); got != want {
			t.Errorf("Changed(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestUsages(t *testing.T) {
	fs, _ := newSet()
	var list []*Flag
	fs.VisitAll(func(f *Flag) {
		if !f.Hidden {
			list = append(list, f)
		}
	})
	want := `  -H, --host HOST        HOST to check
      --name NAME        query NAME (default ".")
      --tcp              over TCP
  -4, --ipv4             IPv4 only
      --attempts N       N tries (default 1)
      --max-body BYTES   most body BYTES (default 1048576)
  -v, --verbose          more trace
      --expect VALUE     VALUE to find; repeatable
  -w, --word WORD        a word in capitals (default DEF)
`
	if got := Usages(list); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	for _, tt := range []struct {
		name string
		add  func(*FlagSet)
	}{
		{"long", func(fs *FlagSet) { fs.BoolVar(new(bool), "tcp", false, "") }},
		{"short", func(fs *FlagSet) { fs.BoolVarP(new(bool), "other", "4", false, "") }},
		{"long shorthand", func(fs *FlagSet) { fs.BoolVarP(new(bool), "other", "ab", false, "") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs, _ := newSet()
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.add(fs)
		})
	}
}

// FuzzParse: any argument vector parses or fails with one line, never
// panics, and every argument that is not an option comes back in order.
func FuzzParse(f *testing.F) {
	f.Add("-4vv\x00--name=x\x00a\x00--\x00-b")
	f.Add("-H\x00--expect\x00e\x00-w=ABC")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		fs, _ := newSet()
		err := fs.Parse(args)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && !strings.ContainsAny(joined, "\n") {
				t.Errorf("error on two lines: %q", err)
			}
			return
		}
		for _, a := range fs.Args() {
			if !slices.Contains(args, a) {
				t.Errorf("argument %q was not given", a)
			}
		}
	})
}
