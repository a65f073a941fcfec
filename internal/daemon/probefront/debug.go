package probefront

import "github.com/lbcheck/lbcheck/internal/daemon"

// Exposition is what /probe serves for res: the debug pages show it as
// "the metrics that would have been returned".
func Exposition(res daemon.Result) []byte {
	var x exposition
	collect(&x, res)
	return x.bytes()
}
