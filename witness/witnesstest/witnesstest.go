// Package witnesstest has helpers for tests of the witness and its
// clients: a loopback TCP listener that plays a (bad) witness.
package witnesstest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Serve listens on 127.0.0.1:0 and runs fn on each connection it accepts
// (closing the connection after fn, and giving fn 10 s at most); it
// returns the address. The test's end closes the listener and waits for
// every fn: an fn that waits for the test must be released by a Cleanup
// registered after Serve (cleanups run last in, first out).
func Serve(t testing.TB, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fn(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ClosedPort returns a loopback address nothing listens on (one that was
// just free).
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
