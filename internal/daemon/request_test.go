package daemon

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzRequestFromQuery: whatever the query, RequestFromQuery either
// refuses it or returns the one module and one target Go's own parser
// reads in it, with no other parameter: never a first-of-many.
func FuzzRequestFromQuery(f *testing.F) {
	for _, s := range []string{
		"module=m&target=192.0.2.5:80",
		"target=a&target=b",
		"module=m&module=n&target=x",
		"module=m&target=x;target=y",
		"module=m&target=%zz",
		"module=m&target=x&debug=1",
		"target=&module=",
		"module=m&target=x&",
		"&&module=m&&target=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := RequestFromQuery(raw)
		if err != nil {
			var r *Refused
			if !errors.As(err, &r) || (r.Reason != BadRequest && r.Reason != BadTarget) {
				t.Fatalf("%q: error %v is not a bad_request or bad_target refusal", raw, err)
			}
			if len(r.Msg) > 400 {
				t.Fatalf("%q: message of %d bytes", raw, len(r.Msg))
			}
			return
		}
		q, perr := url.ParseQuery(raw)
		if perr != nil {
			t.Fatalf("%q: accepted, but Go's parser says %v", raw, perr)
		}
		for k, v := range q {
			if (k != "module" && k != "target" && k != "debug") || len(v) != 1 {
				t.Fatalf("%q: accepted with parameter %q given %d times", raw, k, len(v))
			}
			if k == "debug" && v[0] != "true" && v[0] != "false" {
				t.Fatalf("%q: accepted with debug=%q", raw, v[0])
			}
		}
		if req.Target == "" || req.Target != q.Get("target") || req.Module != q.Get("module") {
			t.Fatalf("%q: read as %+v", raw, req)
		}
	})
}
