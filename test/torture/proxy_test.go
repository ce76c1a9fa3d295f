package torture

import (
	"bufio"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// echoServer answers each line with the same line until the listener closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				for {
					l, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(l)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one line and reads the answer within d.
func roundTrip(c net.Conn, d time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

// testPath is a proxy to target standing for the path by which host B (1)
// reaches host A's (0) Redis, and a connection through it.
func testPath(t *testing.T, target string) (*proxy, *network, net.Conn) {
	t.Helper()
	nw := &network{}
	p, err := newProxy(func() string { return target }, nw.linkHole(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	nw.register(p)
	c, err := net.DialTimeout("tcp", p.addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, nw, c
}

// TestProxyEvidence: the three ways a path fails give what a node sees in
// each: a refusal (dead), silence without a reset (unknown), and, once a
// blackhole heals, the broken connections closed and new ones forwarded.
func TestProxyEvidence(t *testing.T) {
	p, nw, c := testPath(t, echoServer(t))
	if err := roundTrip(c, 2*time.Second); err != nil {
		t.Fatalf("healthy path: %v", err)
	}

	// Refused: the dial itself fails with ECONNREFUSED; then it listens again.
	if err := p.setRefusing(true); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", p.addr(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("refusing: dial err = %v, want ECONNREFUSED", err)
	}
	if err := p.setRefusing(false); err != nil {
		t.Fatal(err)
	}
	c2, err := net.DialTimeout("tcp", p.addr(), time.Second)
	if err != nil {
		t.Fatalf("listening again: %v", err)
	}
	defer c2.Close()
	if err := roundTrip(c2, 2*time.Second); err != nil {
		t.Fatalf("listening again: %v", err)
	}

	// Blackholed one way (the answers): the open connection times out, no
	// reset; a new dial succeeds and is never answered.
	nw.set(func(n *network) { n.link[0] = true })
	err = roundTrip(c2, 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackholed: err = %v, want a timeout", err)
	}
	c3, err := net.DialTimeout("tcp", p.addr(), time.Second)
	if err != nil {
		t.Fatalf("blackholed: dial refused: %v", err)
	}
	defer c3.Close()
	if err := roundTrip(c3, 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackholed new connection: err = %v, want a timeout", err)
	}

	// Healed: the connections the blackhole broke are closed, new ones work.
	nw.heal()
	if err := roundTrip(c2, 2*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("healed: a connection that lost bytes answered or hung (%v), want it closed", err)
	}
	c4, err := net.DialTimeout("tcp", p.addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if err := roundTrip(c4, 2*time.Second); err != nil {
		t.Fatalf("healed: %v", err)
	}
}

// TestProxyBlackholeEatsClose: a close on one side of a blackholed path
// does not reach the other side until the path heals.
func TestProxyBlackholeEatsClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ready, closed := make(chan struct{}), make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1)
		_, _ = c.Read(buf) // the client's first byte: forwarded
		close(ready)
		_, _ = c.Read(buf) // returns at EOF
		close(closed)
	}()
	_, nw, c := testPath(t, ln.Addr().String())
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	<-ready
	nw.set(func(n *network) { n.link[1] = true })
	c.Close()
	select {
	case <-closed:
		t.Fatal("the close crossed a blackhole")
	case <-time.After(300 * time.Millisecond):
	}
	nw.heal()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("healed: the broken connection was not closed")
	}
}
