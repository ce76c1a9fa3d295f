package witness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/redis-vip/redis-vip/witness/witnesstest"
)

var testSecret = []byte("0123456789abcdef-test-secret")

// testServer is a witness serving on a loopback port.
type testServer struct {
	*Server
	addr string
	logs *observer.ObservedLogs
	stop func() error // ends Serve and returns what it returned; idempotent
}

// startServer serves a witness on a loopback port; noGrace skips the
// restart grace (the tests of the grace do not). The test's end stops it.
func startServer(t *testing.T, maxLease time.Duration, noGrace bool, tune func(*Server)) *testServer {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s, err := NewServer(testSecret, maxLease, 0, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if noGrace {
		s.grace, s.table.grace = 0, 0
	}
	if tune != nil {
		tune(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	ts := &testServer{Server: s, addr: ln.Addr().String(), logs: logs, stop: func() error {
		once.Do(func() { cancel(); serveErr = <-done })
		return serveErr
	}}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

func newClient(t *testing.T, addr, pair, node string, secret []byte) *Client {
	t.Helper()
	c, err := NewClient(addr, pair, node, secret, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAcquireRenewReleaseStatus(t *testing.T) {
	ts := startServer(t, 10*time.Second, true, nil)
	addr, logs := ts.addr, ts.logs
	ctx := context.Background()
	a := newClient(t, addr, "redis/pair1", "a", testSecret)
	b := newClient(t, addr, "redis/pair1", "b", testSecret)

	if h, rem, err := a.Status(ctx); err != nil || h != "" || rem != 0 {
		t.Fatalf("status of a new pair: %q %s %v", h, rem, err)
	}
	d := 5 * time.Second
	before := time.Now()
	la, err := a.Acquire(ctx, d)
	after := time.Now()
	if err != nil || !la.Held || la.Holder != "a" || !la.Valid(time.Now()) {
		t.Fatalf("a: %+v %v", la, err)
	}
	// Until is the send time (between before and after) + d - Margin(d).
	if sent := la.Until.Add(-(d - Margin(d))); sent.Before(before) || sent.After(after) {
		t.Fatalf("Until %v is not sent+%s-%s with sent in [%v, %v]", la.Until, d, Margin(d), before, after)
	}
	lb, err := b.Acquire(ctx, d)
	if err != nil || lb.Held || lb.Holder != "a" || lb.Valid(time.Now()) {
		t.Fatalf("b while a holds: %+v %v", lb, err)
	}
	if h, rem, err := b.Status(ctx); err != nil || h != "a" || rem <= 0 || rem > d {
		t.Fatalf("status: %q %s %v", h, rem, err)
	}
	la2, err := a.Acquire(ctx, d)
	if err != nil || !la2.Held || la2.Seq == la.Seq || la2.Until.Before(la.Until) {
		t.Fatalf("renewal: %+v (first %+v) %v", la2, la, err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatalf("release by a non-holder: %v", err)
	}
	if h, _, _ := b.Status(ctx); h != "a" {
		t.Fatalf("b's release moved a's lease: holder %q", h)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err = b.Acquire(ctx, d)
	if err != nil || !lb.Held {
		t.Fatalf("b after a released: %+v %v", lb, err)
	}
	if logs.FilterMessage("lease moved").Len() != 0 || logs.FilterMessage("lease released").Len() != 1 {
		t.Errorf("log: %v", logs.All())
	}
}

// A client that does not know its grant number (another process of the
// node renewed) still releases: the witness names the grant, the client
// names it back.
func TestReleaseFromAnotherClientOfTheNode(t *testing.T) {
	addr := startServer(t, 10*time.Second, true, nil).addr
	ctx := context.Background()
	a1 := newClient(t, addr, "p", "a", testSecret)
	if l, err := a1.Acquire(ctx, time.Second); err != nil || !l.Held {
		t.Fatal(l, err)
	}
	a2 := newClient(t, addr, "p", "a", testSecret)
	if err := a2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _, err := a2.Status(ctx); err != nil || h != "" {
		t.Fatalf("after release: %q %v", h, err)
	}
}

// The lease moves only after the holder's view of it ended: the same
// host's monotonic clock orders the two.
func TestExpiryMovesTheLease(t *testing.T) {
	ts := startServer(t, 10*time.Second, true, nil)
	addr, logs := ts.addr, ts.logs
	ctx := context.Background()
	a := newClient(t, addr, "p", "a", testSecret)
	b := newClient(t, addr, "p", "b", testSecret)
	la, err := a.Acquire(ctx, 300*time.Millisecond)
	if err != nil || !la.Held {
		t.Fatal(la, err)
	}
	var lb Lease
	for deadline := time.Now().Add(20 * time.Second); !lb.Held; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b never got the lease")
		}
		if lb, err = b.Acquire(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if now := time.Now(); la.Valid(now) {
		t.Fatalf("b holds the lease while a's view of it runs until %v (now %v)", la.Until, now)
	}
	if logs.FilterMessage("lease moved").Len() != 1 {
		t.Errorf("no 'lease moved' line: %v", logs.All())
	}
}

func TestRestartGrace(t *testing.T) {
	grace := 400 * time.Millisecond
	t0 := time.Now()
	s := startServer(t, grace, false, nil)
	addr := s.addr
	a := newClient(t, addr, "p", "a", testSecret)
	var se *StartingError
	_, err := a.Acquire(context.Background(), grace)
	if !errors.Is(err, ErrStarting) || !errors.As(err, &se) || se.RetryAfter > grace {
		// A machine so loaded that the first call came after the grace.
		if err == nil && time.Since(t0) > grace {
			t.Skip("the first call came after the grace")
		}
		t.Fatalf("during the grace: %v", err)
	}
	if _, _, err := a.Status(context.Background()); !errors.Is(err, ErrStarting) {
		t.Fatalf("status during the grace: %v", err)
	}
	if s.GraceLeft() > grace {
		t.Fatalf("GraceLeft %s", s.GraceLeft())
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		l, err := a.Acquire(context.Background(), grace)
		if err == nil && l.Held {
			// Granted only once the grace (counted from Serve, after t0)
			// was over.
			if el := time.Since(t0); el < grace {
				t.Fatalf("granted %s after start, grace %s", el, grace)
			}
			return
		}
		if !errors.Is(err, ErrStarting) {
			t.Fatal(err)
		}
		time.Sleep(se.RetryAfter / 4)
	}
	t.Fatal("no grant 30 s after the grace")
}

func TestWrongSecret(t *testing.T) {
	ts := startServer(t, time.Second, true, nil)
	addr, logs := ts.addr, ts.logs
	other := []byte("another-secret-of-some-length")
	c := newClient(t, addr, "p", "a", other)
	_, err := c.Acquire(context.Background(), time.Second)
	if !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("got %v", err)
	}
	msg := err.Error()
	if strings.Contains(msg, string(other)) || strings.Contains(msg, string(testSecret)) || strings.Contains(msg, "\n") {
		t.Fatalf("error leaks or spans lines: %q", msg)
	}
	if logs.FilterMessageSnippet("wrong MAC").Len() != 1 {
		t.Fatalf("witness log: %v", logs.All())
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && (strings.Contains(s, string(testSecret)) || strings.Contains(s, string(other))) {
				t.Fatalf("log field %s leaks a secret", k)
			}
		}
	}
	// The honest client still works.
	if l, err := newClient(t, addr, "p", "a", testSecret).Acquire(context.Background(), time.Second); err != nil || !l.Held {
		t.Fatal(l, err)
	}
}

// answerWith greets like a witness, reads the request and answers with
// what mk returns for it.
func answerWith(mk func(req Request) []byte) func(net.Conn) {
	return func(c net.Conn) {
		var sn [nonceLen]byte
		sn[0] = 7
		_, _ = c.Write(helloLine(sn))
		line, err := bufio.NewReader(c).ReadSlice('\n')
		if err != nil {
			return
		}
		req, err := DecodeRequest(line)
		if err != nil {
			return
		}
		_, _ = c.Write(mk(req))
	}
}

func TestClientClassifiesBadWitnesses(t *testing.T) {
	signed := func(r Response, secret []byte) []byte { r.Sign(secret); return r.Encode() }
	cases := []struct {
		name string
		fn   func(net.Conn)
		want error
	}{
		{"junk instead of a greeting", func(c net.Conn) { _, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) }, ErrGarbage},
		{"binary junk", func(c net.Conn) { _, _ = c.Write([]byte{0, 1, 2, 0xff, '\n'}) }, ErrGarbage},
		{"an endless line", func(c net.Conn) { _, _ = c.Write([]byte(strings.Repeat("x", 4*MaxLine))) }, ErrGarbage},
		{"half a greeting", func(c net.Conn) { _, _ = c.Write([]byte("RVW1 hel")) }, ErrGarbage},
		{"closes at once", func(net.Conn) {}, ErrUnreachable},
		{"closes after the greeting", func(c net.Conn) { _, _ = c.Write(helloLine([nonceLen]byte{})) }, ErrUnreachable},
		{"junk answer", answerWith(func(Request) []byte { return []byte("OK\n") }), ErrGarbage},
		{"answer without a MAC", answerWith(func(r Request) []byte {
			return (&Response{Status: StatusGranted, Holder: r.Node, MS: 1000, CNonce: r.CNonce, SNonce: r.SNonce}).Encode()
		}), ErrGarbage},
		{"answer signed with another secret", answerWith(func(r Request) []byte {
			return signed(Response{Status: StatusGranted, Holder: r.Node, MS: 1000, CNonce: r.CNonce, SNonce: r.SNonce}, []byte("forged-forged-forged"))
		}), ErrGarbage},
		{"answer to another request", answerWith(func(r Request) []byte {
			return signed(Response{Status: StatusGranted, Holder: r.Node, MS: 1000, SNonce: r.SNonce}, testSecret)
		}), ErrGarbage},
		{"a request reflected as the answer", answerWith(func(r Request) []byte { return r.Encode() }), ErrGarbage},
		{"a grant to another node", answerWith(func(r Request) []byte {
			return signed(Response{Status: StatusGranted, Holder: "z", MS: 1000, CNonce: r.CNonce, SNonce: r.SNonce}, testSecret)
		}), ErrGarbage},
		{"wrong secret", answerWith(func(r Request) []byte {
			return (&Response{Status: StatusWrongSecret, CNonce: r.CNonce, SNonce: r.SNonce}).Encode()
		}), ErrWrongSecret},
		{"request not understood", answerWith(func(r Request) []byte { return (&Response{Status: StatusBad}).Encode() }), ErrGarbage},
		{"full", answerWith(func(r Request) []byte {
			return signed(Response{Status: StatusBusy, CNonce: r.CNonce, SNonce: r.SNonce}, testSecret)
		}), ErrUnreachable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, witnesstest.Serve(t, tc.fn), "p", "a", testSecret)
			l, err := c.Acquire(context.Background(), time.Second)
			if !errors.Is(err, tc.want) || l.Held {
				t.Fatalf("got %+v, %v; want %v", l, err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			for _, other := range []error{ErrGarbage, ErrUnreachable, ErrWrongSecret, ErrStarting} {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("%v is also %v", err, other)
				}
			}
		})
	}
}

func TestClientTimeoutBoundsEveryCall(t *testing.T) {
	block := make(chan struct{})
	silent := witnesstest.Serve(t, func(net.Conn) { <-block })
	greetsOnly := witnesstest.Serve(t, func(c net.Conn) { _, _ = c.Write(helloLine([nonceLen]byte{})); <-block })
	t.Cleanup(func() { close(block) }) // before Serve's cleanups (last in, first out)
	timeout := 300 * time.Millisecond
	for _, addr := range []string{silent, greetsOnly} {
		c, err := NewClient(addr, "p", "a", testSecret, timeout)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]func() error{
			"acquire": func() error { _, err := c.Acquire(context.Background(), time.Second); return err },
			"release": func() error { return c.Release(context.Background()) },
			"status":  func() error { _, _, err := c.Status(context.Background()); return err },
		}
		for name, call := range calls {
			start := time.Now()
			err := call()
			el := time.Since(start)
			if !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: %v", name, err)
			}
			if el < timeout || el > timeout+10*time.Second {
				t.Fatalf("%s took %s with a timeout of %s", name, el, timeout)
			}
		}
	}
	// The caller's ctx ends a call too.
	c := newClient(t, silent, "p", "a", testSecret)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := c.Acquire(ctx, time.Second); !errors.Is(err, ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestClientClosedPort(t *testing.T) {
	c := newClient(t, witnesstest.ClosedPort(t), "p", "a", testSecret)
	if _, err := c.Acquire(context.Background(), time.Second); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v", err)
	}
}

func TestNewClientChecksArguments(t *testing.T) {
	cases := []struct {
		addr, pair, node string
		secret           []byte
		timeout          time.Duration
	}{
		{"127.0.0.1", "p", "a", testSecret, time.Second},
		{"127.0.0.1:1", "", "a", testSecret, time.Second},
		{"127.0.0.1:1", "p", "a b", testSecret, time.Second},
		{"127.0.0.1:1", "p", "-", testSecret, time.Second},
		{"127.0.0.1:1", "p", strings.Repeat("n", MaxName+1), testSecret, time.Second},
		{"127.0.0.1:1", "p", "a", nil, time.Second},
		{"127.0.0.1:1", "p", "a", testSecret, 0},
	}
	for _, tc := range cases {
		if _, err := NewClient(tc.addr, tc.pair, tc.node, tc.secret, tc.timeout); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
	c := newClient(t, "127.0.0.1:1", "p", "a", testSecret)
	if _, err := c.Acquire(context.Background(), MinLease-1); !errors.Is(err, ErrConfig) {
		t.Errorf("short lease: %v", err)
	}
}

// rawCall sends lines to the server and returns its answer lines.
func rawCall(t *testing.T, addr string, send func(c net.Conn, snonce [nonceLen]byte)) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	hello, err := rd.ReadSlice('\n')
	if err != nil {
		t.Fatal(err)
	}
	sn, err := decodeHello(hello)
	if err != nil {
		t.Fatalf("greeting %q", hello)
	}
	send(c, sn)
	var out strings.Builder
	buf := make([]byte, 1024)
	for {
		n, err := rd.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

func TestServerSurvivesBadClients(t *testing.T) {
	ts := startServer(t, 10*time.Second, true, func(s *Server) { s.IOTimeout = 300 * time.Millisecond })
	addr, logs := ts.addr, ts.logs
	write := func(b []byte) func(net.Conn, [nonceLen]byte) {
		return func(c net.Conn, _ [nonceLen]byte) { _, _ = c.Write(b) }
	}
	signedReq := func(sn [nonceLen]byte, op Op, ms uint32) Request {
		r := Request{Op: op, Pair: "p", Node: "mallory", MS: ms, SNonce: sn}
		r.CNonce[0] = 1
		r.Sign(testSecret)
		return r
	}
	var captured Request
	cases := []struct {
		name string
		send func(net.Conn, [nonceLen]byte)
		want Status // "" : closed without an answer
	}{
		{"junk", write([]byte("GET / HTTP/1.1\r\n")), StatusBad},
		{"binary", write([]byte{0, 0xff, 0x80, '\n'}), StatusBad},
		// The answer may be lost: closing a socket with unread input resets it.
		{"oversized", write([]byte(strings.Repeat("A", 64*1024))), "bad or nothing"},
		{"half a line then close", func(c net.Conn, _ [nonceLen]byte) {
			_, _ = c.Write([]byte("RVW1 acq"))
			_ = c.(*net.TCPConn).CloseWrite()
		}, StatusBad},
		{"slowloris", func(c net.Conn, _ [nonceLen]byte) {
			for range 100 { // stops at the server's deadline, long before the end
				if _, err := c.Write([]byte("R")); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}, ""},
		{"silent", func(net.Conn, [nonceLen]byte) {}, ""},
		{"wrong MAC", func(c net.Conn, sn [nonceLen]byte) {
			r := signedReq(sn, OpAcquire, 1000)
			r.MAC[0] ^= 1
			_, _ = c.Write(r.Encode())
		}, StatusWrongSecret},
		{"lease below the minimum", func(c net.Conn, sn [nonceLen]byte) {
			r := signedReq(sn, OpAcquire, 1)
			_, _ = c.Write(r.Encode())
		}, StatusBad},
		{"capture", func(c net.Conn, sn [nonceLen]byte) {
			captured = signedReq(sn, OpStatus, 0)
			_, _ = c.Write(captured.Encode())
		}, StatusFree},
		{"replay on a new connection", func(c net.Conn, _ [nonceLen]byte) { _, _ = c.Write(captured.Encode()) }, StatusBad},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rawCall(t, addr, tc.send)
			if tc.want == "bad or nothing" {
				if got == "" {
					return
				}
				tc.want = StatusBad
			}
			if tc.want == "" {
				if got != "" {
					t.Fatalf("answered %q", got)
				}
				return
			}
			resp, err := DecodeResponse([]byte(got))
			if err != nil || resp.Status != tc.want || strings.Count(got, "\n") != 1 {
				t.Fatalf("answered %q (%v), want %s", got, err, tc.want)
			}
			if resp.Status.authenticated() && !resp.Verify(testSecret) {
				t.Fatalf("answer %q without a valid MAC", got)
			}
		})
	}
	// Still serving, and said so in few lines.
	l, err := newClient(t, addr, "p", "a", testSecret).Acquire(context.Background(), time.Second)
	if err != nil || !l.Held {
		t.Fatal(l, err)
	}
	if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n == 0 || n > 3 {
		t.Errorf("%d warnings for %d bad clients: want few, rate-limited: %v", n, len(cases), logs.All())
	}
}

// One host cannot take every slot: beyond MaxConnsPerHost its connections
// are closed at once, and slots come back when its connections end.
func TestServerLimitsConnectionsPerHost(t *testing.T) {
	addr := startServer(t, 10*time.Second, true, func(s *Server) { s.MaxConnsPerHost = 4; s.IOTimeout = 5 * time.Second }).addr
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		// Wait for the greeting: the server counted this one.
		if _, err := bufio.NewReader(c).ReadSlice('\n'); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, addr, "p", "a", testSecret)
	if _, err := c.Acquire(context.Background(), time.Second); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("over the limit: %v", err)
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		l, err := c.Acquire(context.Background(), time.Second)
		if err == nil && l.Held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots never came back: %v", err)
		}
	}
}

func TestServerManyPairs(t *testing.T) {
	addr := startServer(t, 10*time.Second, true, func(s *Server) { s.MaxConns, s.MaxConnsPerHost = 1000, 1000 }).addr
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pair := "pair-" + strconv.Itoa(i)
			for _, node := range []string{"a", "b"} {
				c, err := NewClient(addr, pair, node, testSecret, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				l, err := c.Acquire(context.Background(), time.Second)
				if err != nil || l.Held != (node == "a") || l.Holder != "a" {
					errs <- fmt.Errorf("%s %s: %+v %v", pair, node, l, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// After ctx ends the server grants nothing more, even to a connection it
// accepted before: a successor on the same address may be starting its
// grace.
func TestServerStopsGrantingWhenStopping(t *testing.T) {
	ts := startServer(t, time.Second, true, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	hello, err := rd.ReadSlice('\n')
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := decodeHello(hello)
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	// Serve is waiting for this connection; the listener is closed.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if x, err := net.Dial("tcp", ts.addr); err != nil {
			break
		} else {
			x.Close()
		}
		if time.Now().After(deadline) {
			t.Fatal("listener still open")
		}
	}
	r := Request{Op: OpAcquire, Pair: "p", Node: "a", MS: 1000, SNonce: sn}
	r.Sign(testSecret)
	if _, err := c.Write(r.Encode()); err != nil {
		t.Fatal(err)
	}
	line, err := rd.ReadSlice('\n')
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := DecodeResponse(line); err != nil || resp.Status != StatusBusy {
		t.Fatalf("while stopping: %q %v", line, err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// A lease ends by whichever clock says so first: a suspended host's
// monotonic clock stands still, its wall clock does not; a wall clock
// stepped back leaves the monotonic bound.
func TestLeaseRemainingTakesTheEarlierClock(t *testing.T) {
	sent := time.Now()
	l := Lease{Held: true, Until: sent.Add(time.Hour), sent: sent, life: time.Hour}
	now := time.Now()
	if r := l.Remaining(now); r <= 0 || r > time.Hour || !l.Valid(now) {
		t.Fatalf("fresh lease: %s", r)
	}
	suspended := l
	suspended.sent = sent.Add(-2 * time.Hour).Round(0) // the wall clock says 2 h passed
	if r := suspended.Remaining(now); r != 0 || suspended.Valid(now) {
		t.Fatalf("after a 2 h suspend: %s left", r)
	}
	steppedBack := l
	steppedBack.sent = sent.Add(24 * time.Hour).Round(0) // wall clock 1 day behind
	if r := steppedBack.Remaining(now); r <= 0 || r > time.Hour {
		t.Fatalf("wall clock stepped back: %s", r)
	}
	if r := (Lease{Until: sent.Add(time.Hour)}).Remaining(now); r != 0 {
		t.Fatalf("not held: %s", r)
	}
}
