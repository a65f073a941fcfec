// Package lbfront is lbcheckd's front for load balancers: GET
// /check?module=M&target=HOST:PORT for HAProxy's http-check and
// keepalived's HTTP_GET, and HAProxy's agent-check protocol.
//
// /check answers 200 and the verdict line when the verdict is OK, 503 and
// the line when it is WARNING or CRITICAL: "up" is OK only, as for the
// binaries' exit codes. A request that gets no verdict is answered with
// neither: 400 (unknown module, bad target, not one question), 405 (not
// GET or HEAD), 403 (target outside allow), 429 (too many probes in
// flight), 500 (the check could not check: UNKNOWN; the daemon's resolver
// failed), 504 (no verdict in time; the resolver did not answer in time),
// so that a load balancer's log names
// the daemon, not the backend. (HAProxy's http-check and keepalived's
// HTTP_GET have no answer that keeps a server's state: any of these fails
// the check. The agent protocol has one, and the agent front uses it.)
package lbfront

import (
	"io"
	"net/http"

	"github.com/lbcheck/lbcheck/internal/daemon"
	"github.com/lbcheck/lbcheck/internal/exitcode"
)

// CheckHandler serves /check from d, within the module's -t.
func CheckHandler(d *daemon.Daemon) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, status, err := daemon.RequestFromHTTP(w, r)
		if err != nil {
			http.Error(w, err.Error(), status)
			return
		}
		res, err := d.Check(r.Context(), req)
		if err != nil {
			// The daemon, not the backend, ran out of time: 504.
			http.Error(w, err.Error(), daemon.HTTPStatus(err, http.StatusGatewayTimeout))
			return
		}
		code := http.StatusServiceUnavailable
		switch res.State {
		case exitcode.OK:
			code = http.StatusOK
		case exitcode.Unknown:
			code = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		io.WriteString(w, res.Line(res.Module.Cmd.Spec.Name)+"\n")
	})
}
