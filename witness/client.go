package witness

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The classes of every error a Client returns (errors.Is). Whatever the
// class, an error means the call gave the caller no lease.
var (
	// ErrWrongSecret: the witness could not verify our MAC.
	ErrWrongSecret = errors.New("witness refused our secret")
	// ErrUnreachable: no usable answer in time (refused, no route, reset,
	// timeout, closed without a word, full, or ctx ended).
	ErrUnreachable = errors.New("witness unreachable")
	// ErrGarbage: an answer that is malformed, for another request, or
	// without a valid MAC.
	ErrGarbage = errors.New("witness answered garbage")
	// ErrStarting: the witness restarted recently and grants nothing
	// during its grace (see StartingError for how long).
	ErrStarting = errors.New("witness is starting")
)

// StartingError is ErrStarting with the witness's estimate of the wait.
type StartingError struct {
	Addr       string
	RetryAfter time.Duration
}

func (e *StartingError) Error() string {
	return fmt.Sprintf("witness %s is starting: it grants nothing for %s more", e.Addr, e.RetryAfter)
}

// Is makes errors.Is(err, ErrStarting) true.
func (e *StartingError) Is(target error) bool { return target == ErrStarting }

// Margin is what the client takes off a granted duration d, so that its
// view of the lease ends before the witness's does even when the two
// monotonic clocks run at different rates: 1% of d (clocks drifting apart
// by up to 10,000 ppm; NTP slews a Linux clock by at most 500 ppm) plus
// 5 ms (clock granularity and rounding).
func Margin(d time.Duration) time.Duration { return d/100 + 5*time.Millisecond }

// Lease is a client's view of the pair's lease after Acquire.
type Lease struct {
	// Held is true when the witness granted this node the lease.
	Held bool
	// Holder is the node holding it ("" if nobody): this node when Held.
	Holder string
	// Until is when this node's lease ends, on this host's monotonic
	// clock: the time the request was sent, plus the granted duration,
	// minus Margin. The witness keeps the lease at least that long, so no
	// other node can get it before Until. Zero when not Held.
	Until time.Time
	// Seq is the witness's number for this grant (Release uses it).
	Seq uint64

	sent time.Time     // when the request was sent
	life time.Duration // Until - sent
}

// Remaining is how long the lease still runs at now, which must come from
// time.Now() on this host; 0 when not Held or over. It is the smaller of
// what the monotonic clock says (Until - now) and what the wall clock says
// has passed since the request was sent: the monotonic clock stops while
// the host is suspended, the wall clock does not, and a wall clock stepped
// back only leaves the monotonic bound. Carrying a lease to another
// process, store the boot clock's now + Remaining(time.Now()).
func (l Lease) Remaining(now time.Time) time.Duration {
	if !l.Held {
		return 0
	}
	left := l.Until.Sub(now)
	if !l.sent.IsZero() {
		left = min(left, l.life-now.Round(0).Sub(l.sent.Round(0)))
	}
	return max(left, 0)
}

// Valid reports whether the lease is held at now (see Remaining).
func (l Lease) Valid(now time.Time) bool { return l.Remaining(now) > 0 }

// Client talks to one witness for one node of one pair. Safe for
// concurrent use, but a node should not Acquire and Release at once.
type Client struct {
	addr, pair, node string
	secret           []byte
	timeout          time.Duration
	dialer           net.Dialer

	mu      sync.Mutex
	lastSeq uint64 // the last grant this client was told of
}

// NewClient checks its arguments and returns a client; it does not dial.
// addr is host:port; pair names the pair (both nodes must use the same
// name) and node this node; timeout bounds every call.
func NewClient(addr, pair, node string, secret []byte, timeout time.Duration) (*Client, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%w: witness address %q: %w", ErrConfig, addr, err)
	}
	if err := checkName("pair", pair); err != nil {
		return nil, err
	}
	if err := checkName("node", node); err != nil {
		return nil, err
	}
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: empty secret", ErrConfig)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: timeout %s: want more than 0", ErrConfig, timeout)
	}
	return &Client{addr: addr, pair: pair, node: node, secret: append([]byte(nil), secret...), timeout: timeout}, nil
}

// Acquire asks for the lease for d (the witness may grant less), or renews
// it when this node holds it. The result is Held when granted; held by
// another node, it is not Held and names the holder, with a nil error.
// An error means this call granted nothing. A renewal that fails does not
// shorten a lease granted before: that one stays valid until its Until and
// no longer, so a holder must renew well before Until.
func (c *Client) Acquire(ctx context.Context, d time.Duration) (Lease, error) {
	if d < MinLease {
		return Lease{}, fmt.Errorf("%w: lease %s: want at least %s", ErrConfig, d, MinLease)
	}
	resp, sent, err := c.call(ctx, OpAcquire, millis(d), 0)
	if err != nil {
		return Lease{}, err
	}
	switch resp.Status {
	case StatusGranted:
		if resp.Holder != c.node || resp.MS == 0 {
			return Lease{}, c.garbage("a grant to %q for %d ms", resp.Holder, resp.MS)
		}
		c.setSeq(resp.Seq)
		granted := time.Duration(resp.MS) * time.Millisecond
		life := granted - Margin(granted)
		return Lease{Held: true, Holder: c.node, Until: sent.Add(life), Seq: resp.Seq, sent: sent, life: life}, nil
	case StatusHeld:
		if resp.Holder == "" || resp.Holder == c.node {
			return Lease{}, c.garbage("held by %q in answer to acquire", resp.Holder)
		}
		return Lease{Holder: resp.Holder}, nil
	}
	return Lease{}, c.unexpected(resp)
}

// Release gives the lease back, so the peer may take it at once (planned
// switchover). Stop acting as the holder before calling it: the lease ends
// when Release is called, whatever it returns. nil means the witness holds
// no lease for this node any more; an error means the lease may still run
// at the witness until it expires (never longer than the last grant).
func (c *Client) Release(ctx context.Context) error {
	seq := c.getSeq()
	for try := 0; ; try++ {
		resp, _, err := c.call(ctx, OpRelease, 0, seq)
		if err != nil {
			return err
		}
		switch resp.Status {
		case StatusReleased:
			return nil
		case StatusHeld:
			// We hold another grant than the one we named (a renewal whose
			// answer we missed, or another process of this node): name it.
			if resp.Holder == c.node && resp.Seq != seq && try == 0 {
				seq = resp.Seq
				continue
			}
			if resp.Holder == c.node {
				return fmt.Errorf("witness %s pair %s: the lease was renewed while releasing it; it ends within %s", c.addr, c.pair, time.Duration(resp.MS)*time.Millisecond)
			}
			return c.garbage("held by %q in answer to release", resp.Holder)
		}
		return c.unexpected(resp)
	}
}

// Status asks who holds the pair's lease and for how long the witness
// will keep it (from when it answered): "" and 0 when nobody holds it.
// For display and decisions to wait: it grants nothing.
func (c *Client) Status(ctx context.Context) (holder string, remaining time.Duration, err error) {
	resp, _, err := c.call(ctx, OpStatus, 0, 0)
	if err != nil {
		return "", 0, err
	}
	switch resp.Status {
	case StatusFree:
		return "", 0, nil
	case StatusHeld:
		if resp.Holder == "" {
			return "", 0, c.garbage("held by nobody")
		}
		return resp.Holder, time.Duration(resp.MS) * time.Millisecond, nil
	}
	return "", 0, c.unexpected(resp)
}

func (c *Client) setSeq(s uint64) {
	c.mu.Lock()
	c.lastSeq = s
	c.mu.Unlock()
}

func (c *Client) getSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq
}

// unexpected classifies an authenticated status the call cannot use.
func (c *Client) unexpected(r Response) error {
	switch r.Status {
	case StatusStarting:
		return &StartingError{Addr: c.addr, RetryAfter: time.Duration(r.MS) * time.Millisecond}
	case StatusBusy:
		return fmt.Errorf("witness %s pair %s: %w: the witness is full", c.addr, c.pair, ErrUnreachable)
	}
	return c.garbage("status %s", r.Status)
}

func (c *Client) garbage(format string, args ...any) error {
	return fmt.Errorf("witness %s pair %s: %w: %s", c.addr, c.pair, ErrGarbage, fmt.Sprintf(format, args...))
}

func (c *Client) unreachable(err error) error {
	return fmt.Errorf("witness %s pair %s: %w: %w", c.addr, c.pair, ErrUnreachable, err)
}

// call makes one exchange on a fresh connection, bounded by c.timeout and
// ctx. sent is when the request was about to be written: taken before the
// write, it is before the witness can have read the request.
func (c *Client) call(ctx context.Context, op Op, ms uint32, seq uint64) (resp Response, sent time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return resp, sent, c.unreachable(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A cancelled ctx (not only its deadline) ends the exchange too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	rd := bufio.NewReaderSize(conn, MaxLine)
	line, err := readLine(rd)
	if err != nil {
		return resp, sent, c.readErr(ctx, err, "greeting")
	}
	snonce, err := decodeHello(line)
	if err != nil {
		return resp, sent, c.garbage("greeting %.60q", line)
	}
	req := Request{Op: op, Pair: c.pair, Node: c.node, MS: ms, Seq: seq, SNonce: snonce}
	if _, err := rand.Read(req.CNonce[:]); err != nil {
		return resp, sent, fmt.Errorf("witness: nonce: %w", err)
	}
	req.Sign(c.secret)
	sent = time.Now()
	if _, err := conn.Write(req.Encode()); err != nil {
		return resp, sent, c.unreachable(ctxErr(ctx, err))
	}
	line, err = readLine(rd)
	if err != nil {
		return resp, sent, c.readErr(ctx, err, "answer")
	}
	resp, err = DecodeResponse(line)
	if err != nil {
		return resp, sent, c.garbage("answer %.60q", line)
	}
	if resp.CNonce != req.CNonce || resp.SNonce != snonce {
		return resp, sent, c.garbage("an answer to another request")
	}
	switch {
	case resp.Status == StatusWrongSecret:
		return resp, sent, fmt.Errorf("witness %s pair %s: %w (check that both sides use the same secret file)", c.addr, c.pair, ErrWrongSecret)
	case resp.Status == StatusBad:
		return resp, sent, c.garbage("it did not understand our request (another protocol version?)")
	case !resp.Verify(c.secret):
		return resp, sent, c.garbage("an answer without a valid MAC")
	}
	return resp, sent, nil
}

// readErr classifies a failed read: nothing at all (closed, reset,
// timeout) is unreachable; a partial or overlong line is garbage.
func (c *Client) readErr(ctx context.Context, err error, what string) error {
	switch {
	case errors.Is(err, errLineTooLong), errors.Is(err, errPartialLine):
		return c.garbage("%s: %v", what, err)
	}
	return c.unreachable(fmt.Errorf("reading the %s: %w", what, ctxErr(ctx, err)))
}

// ctxErr prefers ctx's reason (deadline, cancel) to the socket's. The
// socket's deadline is ctx's, so a socket timeout is ctx's deadline even
// when ctx's own timer has not fired yet.
func ctxErr(ctx context.Context, err error) error {
	if e := ctx.Err(); e != nil {
		return fmt.Errorf("%w (%v)", e, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

var (
	errLineTooLong = errors.New("line longer than the protocol allows")
	errPartialLine = errors.New("connection closed in the middle of a line")
)

// readLine reads one line of at most MaxLine bytes ("\n" included).
func readLine(rd *bufio.Reader) ([]byte, error) {
	line, err := rd.ReadSlice('\n')
	switch {
	case err == nil:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, errLineTooLong
	case len(line) > 0 && errors.Is(err, io.EOF):
		return nil, errPartialLine
	}
	return nil, err
}
