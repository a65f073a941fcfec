package debugfront

import (
	"strings"
)

// Masked stands for a secret on every page (as the FTP trace writes PASS):
// are for people reading what a module does, never for its credentials.
const Masked = "****"

// secretHeaders are the --header names whose values are credentials.
var secretHeaders = []string{"authorization", "proxy-authorization", "cookie"}

// MaskArgv is argv with the values of --password and of credential
// headers (--header 'Authorization: ...') replaced by Masked, in either
// form the options parser takes (--password VALUE, --password=VALUE).
func MaskArgv(argv []string) []string {
	out := make([]string, len(argv))
	copy(out, argv)
	// Every token after a --password token is masked, whether or not the
	// parser read that token as the option (it may be another option's
	// value, or follow "--"): masking too much is safe, too little not.
	for i, a := range argv {
		name, value, inline := strings.Cut(a, "=")
		switch name {
		case "--password":
			if inline {
				out[i] = name + "=" + Masked
			} else if i+1 < len(out) {
				out[i+1] = Masked
			}
		case "--header":
			if inline && out[i] != Masked { // a masked token may be a password that looks so
				out[i] = name + "=" + maskHeader(value)
			} else if i+1 < len(out) {
				out[i+1] = maskHeader(argv[i+1])
			}
		}
	}
	return out
}

// maskHeader keeps a header's name and hides a credential's value.
func maskHeader(h string) string {
	name, _, ok := strings.Cut(h, ":")
	if !ok {
		return h
	}
	for _, s := range secretHeaders {
		if strings.EqualFold(strings.TrimSpace(name), s) {
			return name + ": " + Masked
		}
	}
	return h
}

// shellLine writes argv as a shell would read it back, for copying.
func shellLine(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+[]", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
