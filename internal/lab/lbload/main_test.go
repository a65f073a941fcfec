package main

import (
	"bufio"
	"io"
	"net"
	"testing"
)

// askAgent's first word is how the bench tells an agent's answers apart:
// up, down, or none (lbcheckd's could-not-check closes without a line).
func TestAskAgent(t *testing.T) {
	for _, c := range []struct {
		name, reply, want string
	}{
		{"up", "up\n", "up"},
		{"up with a weight", "up 55%\n", "up"},
		{"down with why", "down #CRITICAL - refused\n", "down"},
		{"closed without a line", "", ""},
		{"a line without its end", "up", "up"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					got <- err.Error()
					return
				}
				defer conn.Close()
				line, _ := bufio.NewReader(conn).ReadString('\n')
				got <- line
				io.WriteString(conn, c.reply)
			}()
			if w := askAgent(ln.Addr().String(), "web 10.0.0.5 80"); w != c.want {
				t.Errorf("askAgent = %q, want %q", w, c.want)
			}
			if line := <-got; line != "web 10.0.0.5 80\n" {
				t.Errorf("the agent got %q", line)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		if w := askAgent(addr, "web 10.0.0.5 80"); w != "error" {
			t.Errorf("askAgent to a closed port = %q, want error", w)
		}
	})
}
