package debugfront

import (
	"strings"
)

// Masked stands for a secret on every page (as the FTP trace writes PASS):
// are for people reading what a module does, never for its credentials.
const Masked = "****"

// plainHeaders are the header names whose values are shown: every other
// header's value is masked, for a header may carry a credential under any
// name (X-Api-Key, X-Auth-Token, a vendor's own).
var plainHeaders = []string{"accept", "accept-encoding", "accept-language", "user-agent", "content-type",
	"content-length", "connection", "cache-control", "transfer-encoding", "date", "server", "location",
	"last-modified", "etag", "vary", "expires", "age", "pragma"}

// MaskArgv is argv with the values of --password, of every request header
// but the plain ones (--header 'X-Api-Key: ...') and of the request path's
// query (-u '/health?token=...') replaced by Masked, in either form the
// options parser takes (--password VALUE, --password=VALUE).
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
		case "-u", "--path":
			if inline && out[i] != Masked {
				out[i] = name + "=" + maskQuery(value)
			} else if i+1 < len(out) && out[i+1] != Masked {
				out[i+1] = maskQuery(argv[i+1])
			}
		}
	}
	return out
}

// maskHeader keeps a header's name and hides its value unless the header
// is a plain one.
func maskHeader(h string) string {
	name, _, ok := strings.Cut(h, ":")
	if !ok {
		return h
	}
	for _, s := range plainHeaders {
		if strings.EqualFold(strings.TrimSpace(name), s) {
			return h
		}
	}
	return name + ": " + Masked
}

// maskQuery keeps a path or URL and its query's keys, and hides the
// query's values (a token in ?token=... is a credential).
func maskQuery(p string) string {
	base, query, ok := strings.Cut(p, "?")
	if !ok || query == "" {
		return p
	}
	pairs := strings.Split(query, "&")
	for i, kv := range pairs {
		if k, _, ok := strings.Cut(kv, "="); ok {
			pairs[i] = k + "=" + Masked
		}
	}
	return base + "?" + strings.Join(pairs, "&")
}

// MaskTrace is a probe's protocol trace with what MaskArgv hides hidden
// there too: the request line's query and the values of the headers sent
// ("> X-Api-Key: ...") and received ("< Set-Cookie: ..."), but the plain
// ones.
func MaskTrace(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l
		dir, rest, ok := strings.Cut(l, " ")
		if !ok || (dir != ">" && dir != "<") {
			continue
		}
		if name, _, isHeader := strings.Cut(rest, ": "); isHeader && !strings.ContainsAny(name, " /") {
			if !strings.EqualFold(name, "Host") {
				out[i] = dir + " " + maskHeader(rest)
			}
			continue
		}
		// a request line: > METHOD PATH HTTP/1.1
		if f := strings.Fields(rest); dir == ">" && len(f) == 3 && strings.HasPrefix(f[2], "HTTP/") {
			out[i] = dir + " " + f[0] + " " + maskQuery(f[1]) + " " + f[2]
		}
	}
	return out
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
