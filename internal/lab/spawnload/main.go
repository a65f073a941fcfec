// Command spawnload starts N copies of a command at once, as a loaded
// monitoring host does, and prints the spread of their wall times (from
// spawn to exit) and how many took longer than a bound: issue 13's
// "the deadline under load".
//
//	socat -u TCP-LISTEN:8099,bind=127.0.0.1,reuseaddr,fork OPEN:/dev/null &
//	spawnload -n 300 -bound 2.1s bin/check_http_status -t 2 127.0.0.1 8099
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 300, "copies started at once")
	bound := flag.Duration("bound", 2100*time.Millisecond, "a wall time counted as late")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: spawnload [-n N] [-bound D] COMMAND [ARG...]")
		os.Exit(2)
	}
	var (
		mu      sync.Mutex
		took    []time.Duration
		fastest string
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t := time.Now()
			out, _ := exec.Command(args[0], args[1:]...).Output()
			d := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			if len(took) == 0 || d < slices.Min(took) {
				fastest = string(out)
			}
			took = append(took, d)
		}()
	}
	close(start)
	wg.Wait()
	slices.Sort(took)
	late := len(took) - len(slices.DeleteFunc(slices.Clone(took), func(d time.Duration) bool { return d > *bound }))
	q := func(p int) time.Duration { return took[len(took)*p/100] }
	fmt.Printf("fastest %v, median %v, p90 %v, slowest %v; over %v: %d of %d\n",
		took[0], q(50), q(90), took[len(took)-1], *bound, late, len(took))
	fmt.Printf("the fastest said: %s", fastest)
}
