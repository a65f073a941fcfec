package conncap

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// served is one accepted connection, with the client's end.
type served struct {
	server net.Conn
	client net.Conn
}

func dialAccept(t *testing.T, ln net.Listener, accepted chan net.Conn) served {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-accepted:
		return served{s, c}
	case <-time.After(200 * time.Millisecond):
		return served{nil, c} // refused: Accept closed it and went on
	}
}

// closedByServer reports whether the server closed the client's
// connection (EOF or a reset), without waiting long.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestCap: at the cap, a new connection sheds the oldest idle one (never
// a busy one); when all are busy, the new one is closed; Close and Idle
// give places back in the right order.
func TestCap(t *testing.T) {
	type step struct {
		do   string // dial, busy N, idle N, close N
		n    int
		want []bool // after the step: which connections the server closed
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"under the cap", 3, []step{
			{"dial", 0, []bool{false}}, {"dial", 0, []bool{false, false}}, {"dial", 0, []bool{false, false, false}}}},
		{"the oldest idle is shed", 2, []step{
			{"dial", 0, nil}, {"dial", 0, nil}, {"dial", 0, []bool{true, false, false}}, {"dial", 0, []bool{true, true, false, false}}}},
		{"busy ones are kept", 2, []step{
			{"dial", 0, nil}, {"busy", 0, nil}, {"dial", 0, nil}, {"dial", 0, []bool{false, true, false}}}},
		{"all busy: the new one is refused", 2, []step{
			{"dial", 0, nil}, {"busy", 0, nil}, {"dial", 0, nil}, {"busy", 1, nil}, {"dial", 0, []bool{false, false, true}}}},
		{"idle again goes to the back", 2, []step{
			{"dial", 0, nil}, {"dial", 0, nil}, {"busy", 0, nil}, {"idle", 0, nil}, {"dial", 0, []bool{false, true, false}}}},
		{"a request waiting unread is spared", 2, []step{
			{"dial", 0, nil}, {"send", 0, nil}, {"dial", 0, nil}, {"dial", 0, []bool{false, true, false}}}},
		{"all waiting: the oldest goes", 2, []step{
			{"dial", 0, nil}, {"send", 0, nil}, {"dial", 0, nil}, {"send", 1, nil}, {"dial", 0, []bool{true, false, false}}}},
		{"close frees a place", 2, []step{
			{"dial", 0, nil}, {"dial", 0, nil}, {"close", 0, nil}, {"dial", 0, []bool{true, false, false}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c := New(tt.max)
			ln := c.Listener(raw)
			defer ln.Close()
			accepted := make(chan net.Conn, 16)
			go func() {
				for {
					s, err := ln.Accept()
					if err != nil {
						return
					}
					accepted <- s
				}
			}()
			var conns []served
			for i, st := range tt.steps {
				switch st.do {
				case "dial":
					conns = append(conns, dialAccept(t, ln, accepted))
				case "busy":
					Busy(conns[st.n].server)
				case "idle":
					Idle(conns[st.n].server)
				case "send": // a request the server has not read yet
					conns[st.n].client.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
					time.Sleep(20 * time.Millisecond)
				case "close":
					conns[st.n].server.Close()
				}
				if st.want == nil {
					continue
				}
				for j, want := range st.want {
					if got := closedByServer(conns[j].client); got != want {
						t.Errorf("step %d (%s): connection %d closed %v, want %v", i, st.do, j, got, want)
					}
				}
			}
			if open, _, _ := c.Stats(); open > tt.max {
				t.Errorf("%d open, cap %d", open, tt.max)
			}
		})
	}
}

// TestCapKeepsAnswering: a client that asks at once is answered however
// many silent connections came before it.
func TestCapKeepsAnswering(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := New(8).Listener(raw)
	defer ln.Close()
	go func() {
		for {
			s, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer s.Close()
				b := make([]byte, 1)
				if _, err := io.ReadFull(s, b); err != nil {
					return
				}
				Busy(s)
				s.Write(b)
			}()
		}
	}()
	for i := range 100 {
		silent, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		if i%10 != 9 {
			continue
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte{'x'})
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("after %d silent connections: %v", i+1, err)
		}
		c.Close()
	}
}
