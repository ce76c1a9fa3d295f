package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Writes says what a node's replication stream since a point holds. Offsets
// move with key expiry, eviction, replication PINGs and SELECTs as much as
// with client writes (S11); the commands themselves tell them apart.
type Writes int

// What a stream can hold, from least to most.
const (
	// WritesUnknown: the stream could not be read (backlog too short,
	// permission denied, timeout): decide as if both sides took writes.
	WritesUnknown Writes = iota
	// WritesNone: only PING, SELECT, REPLCONF, MULTI/EXEC: no data changed.
	WritesNone
	// WritesDeletesOnly: only DEL and UNLINK, which is what key expiry and
	// eviction propagate (a client's DEL looks the same).
	WritesDeletesOnly
	// WritesSome: at least one command that adds or changes data.
	WritesSome
)

// String names the value for logs and journals.
func (w Writes) String() string {
	switch w {
	case WritesNone:
		return "none"
	case WritesDeletesOnly:
		return "deletes-only"
	case WritesSome:
		return "writes"
	}
	return "unknown"
}

// Known reports whether the stream was read.
func (w Writes) Known() bool { return w != WritesUnknown }

// Stream is what StreamSince read.
type Stream struct {
	Writes Writes `json:"writes"`
	// From and To are the first and last offsets read.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Commands counts the commands read; First names the first one that
	// changed data ("" when none did).
	Commands int    `json:"commands"`
	First    string `json:"first_write,omitempty"`
	// Why says why Writes is unknown.
	Why string `json:"why,omitempty"`
}

// MarshalText writes the classification's name.
func (w Writes) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// maxStream bounds how much of a stream StreamSince reads.
const maxStream = 64 << 20

// ErrNoHistory: the node does not hold the stream asked for (not on its
// history, or no longer in its backlog).
var ErrNoHistory = errors.New("stream not in the replication backlog")

// Covers reports whether f's backlog holds its own stream from offset from
// on, so a PSYNC from there continues without a full resync.
func (f Facts) Covers(from int64) bool {
	if !f.BacklogActive || f.ReplID == "" {
		return false
	}
	return from >= f.BacklogFirstByte && from <= f.BacklogFirstByte+f.BacklogHistLen && from <= f.ReplOffset+1
}

// ClassifyCommand says what one replicated command does to the data.
func ClassifyCommand(name string) Writes {
	switch strings.ToUpper(name) {
	case "PING", "SELECT", "REPLCONF", "MULTI", "EXEC":
		return WritesNone
	case "DEL", "UNLINK":
		return WritesDeletesOnly
	}
	return WritesSome
}

// StreamSince reads the server's replication stream from offset from (the
// first byte after a fork point) to its current offset, as a replica asking
// for a partial resync would, and classifies what it holds. It asks only
// when the server's backlog covers the range (INFO first), so it never
// triggers a full resync; anything it cannot read is WritesUnknown with the
// reason, not an error, except an unreachable server.
func (c *Client) StreamSince(ctx context.Context, from int64) (Stream, error) {
	f, err := c.Facts(ctx)
	if err != nil {
		return Stream{}, err
	}
	s := Stream{From: from, To: f.ReplOffset}
	switch {
	case f.ReplOffset < from:
		s.Writes = WritesNone
		return s, nil
	case !f.Covers(from):
		s.Why = fmt.Sprintf("%v: offset %d not in the backlog of %s", ErrNoHistory, from, f.Summary())
		return s, nil
	case f.ReplOffset-from+1 > maxStream:
		s.Why = fmt.Sprintf("stream of %d bytes is longer than the %d read", f.ReplOffset-from+1, maxStream)
		return s, nil
	}
	readBy, _ := ctx.Deadline() // zero: no bound but ctx's
	if f.Role == RoleMaster && f.GoodReplicasCounted {
		var why string
		readBy, why = c.holdFence(ctx, f, readBy)
		if why != "" {
			s.Why = why
			return s, nil
		}
	}
	conn, err := c.rawDial(ctx)
	if err != nil {
		return Stream{}, c.classify("PSYNC", err)
	}
	defer conn.Close()
	if !readBy.IsZero() {
		_ = conn.SetDeadline(readBy)
	}
	r := bufio.NewReader(conn)
	if err := c.rawAuth(conn, r); err != nil {
		return Stream{}, err
	}
	if _, err := io.WriteString(conn, respCommand("PSYNC", f.ReplID, strconv.FormatInt(from, 10))); err != nil {
		return Stream{}, c.classify("PSYNC", err)
	}
	line, err := readLine(r)
	if err != nil {
		return Stream{}, c.classify("PSYNC", err)
	}
	if !strings.HasPrefix(line, "+CONTINUE") {
		s.Why = "PSYNC answered " + line
		return s, nil
	}
	n := f.ReplOffset - from + 1
	w, cmds, first, err := classifyStream(io.LimitReader(r, n))
	if err != nil {
		s.Why = fmt.Sprintf("reading %d bytes of stream: %v", n, err)
		return s, nil
	}
	s.Writes, s.Commands, s.First = w, cmds, first
	return s, nil
}

// maxFencedRead bounds the write pause holdFence takes, and so the stream
// read under it; fencedReadMargin is left between the read's end and the
// pause's, for the server to drop the reader before writes go on.
const (
	maxFencedRead    = time.Second
	minFencedRead    = 50 * time.Millisecond
	fencedReadMargin = 250 * time.Millisecond
)

// holdFence keeps a master's fence shut while StreamSince reads its
// stream. A PSYNC that continues is an online replica with a fresh
// acknowledgement until it disconnects, and Redis counts it for
// min-replicas-to-write: on a master whose fence refuses writes one good
// replica short, the reader alone would let them through. So when the
// reader would be the replica that lifts the refusal (or the setting
// cannot be read and fewer than two replicas are good), holdFence pauses
// writes (CLIENT PAUSE WRITE, never UNPAUSE: a longer pause another caller
// holds is not shortened, and writes held by it are judged by the fence
// again when it ends) and returns the time by which the read must end
// (readBy is the caller's, zero for none). why is set when the stream must
// not be read: the server cannot pause writes alone (before 6.2), or the
// pause failed.
func (c *Client) holdFence(ctx context.Context, f Facts, readBy time.Time) (time.Time, string) {
	need, known := int64(0), false
	if v, err := c.ConfigGet(ctx, "min-replicas-to-write"); err == nil {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			need, known = n, true
		}
	}
	switch {
	case known && f.GoodReplicas >= need:
		return readBy, "" // writes flow anyway
	case known && f.GoodReplicas+1 < need:
		return readBy, "" // one more replica, the reader, still leaves them refused
	case !known && f.GoodReplicas >= 2:
		return readBy, "" // more than a pair's fence asks
	}
	pause := maxFencedRead
	if !readBy.IsZero() {
		pause = min(pause, time.Until(readBy))
	}
	if pause < minFencedRead {
		return readBy, "no time left to read the stream of a fenced master under a write pause"
	}
	if err := c.do(ctx, "CLIENT", "PAUSE", strconv.FormatInt(pause.Milliseconds(), 10), "WRITE"); err != nil {
		return readBy, fmt.Sprintf("not read: its fence refuses writes (%d good replicas) and a PSYNC would count as one more, but CLIENT PAUSE WRITE failed: %v", f.GoodReplicas, err)
	}
	return time.Now().Add(pause - min(fencedReadMargin, pause/4)), ""
}

// classifyStream reads RESP commands until r ends and returns the most a
// command did, the count, and the first data-changing command's name.
func classifyStream(r io.Reader) (Writes, int, string, error) {
	br := bufio.NewReader(r)
	most, n, first := WritesNone, 0, ""
	for {
		args, err := readCommand(br)
		if errors.Is(err, io.EOF) {
			return most, n, first, nil
		}
		if err != nil {
			return WritesUnknown, n, first, err
		}
		n++
		if len(args) == 0 {
			continue
		}
		w := ClassifyCommand(args[0])
		if w > most {
			most = w
		}
		if w == WritesSome && first == "" {
			first = strings.ToUpper(args[0])
		}
	}
}

// readCommand reads one RESP multibulk command; io.EOF only at a boundary.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, err
	}
	if line == "" {
		return nil, nil
	}
	if line[0] != '*' {
		return strings.Fields(line), nil // inline command
	}
	count, err := strconv.Atoi(line[1:])
	if err != nil || count < 0 || count > 1<<20 {
		return nil, fmt.Errorf("bad multibulk header %q", line)
	}
	args := make([]string, 0, min(count, 8))
	for i := 0; i < count; i++ {
		h, err := readLine(r)
		if err != nil {
			return nil, noEOF(err)
		}
		if h == "" || h[0] != '$' {
			return nil, fmt.Errorf("bad bulk header %q", h)
		}
		size, err := strconv.Atoi(h[1:])
		if err != nil || size < 0 || size > maxStream {
			return nil, fmt.Errorf("bad bulk length %q", h)
		}
		if i > 0 {
			// Only the command's name matters: skip the arguments.
			if _, err := r.Discard(size + 2); err != nil {
				return nil, noEOF(err)
			}
			continue
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, noEOF(err)
		}
		args = append(args, string(b[:size]))
	}
	return args, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if line != "" && errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// rawDial opens a plain (or TLS) connection to the server, outside the
// client's pool: a connection that turns into a replication stream must
// never go back to a pool.
func (c *Client) rawDial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: c.opts.DialTimeout}
	if d.Timeout == 0 {
		d.Timeout = time.Second
	}
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if c.opts.TLS == nil {
		return conn, nil
	}
	tc := tls.Client(conn, c.opts.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// rawAuth authenticates a raw connection when a password is configured.
func (c *Client) rawAuth(conn net.Conn, r *bufio.Reader) error {
	if c.opts.Password == "" {
		return nil
	}
	args := []string{"AUTH", c.opts.Password}
	if c.opts.Username != "" {
		args = []string{"AUTH", c.opts.Username, c.opts.Password}
	}
	if _, err := io.WriteString(conn, respCommand(args...)); err != nil {
		return c.classify("AUTH", err)
	}
	line, err := readLine(r)
	if err != nil {
		return c.classify("AUTH", err)
	}
	if line != "+OK" {
		return c.classify("AUTH", errors.New(strings.TrimPrefix(line, "-")))
	}
	return nil
}

// Class is s's classification; WritesUnknown for a nil stream.
func (s *Stream) Class() Writes {
	if s == nil {
		return WritesUnknown
	}
	return s.Writes
}

// UnmarshalText reads a name written by MarshalText.
func (w *Writes) UnmarshalText(b []byte) error {
	for _, v := range []Writes{WritesUnknown, WritesNone, WritesDeletesOnly, WritesSome} {
		if v.String() == string(b) {
			*w = v
			return nil
		}
	}
	return fmt.Errorf("stream classification %q: want unknown, none, deletes-only or writes", b)
}

// StreamSincer reads a server's replication stream since an offset;
// *Client has it.
type StreamSincer interface {
	StreamSince(ctx context.Context, from int64) (Stream, error)
}

// ForkStreams reads what a's and b's replication streams hold since their
// fork, when one continued the other's history (ForkPoint; nil, nil
// otherwise). Both are read concurrently within ctx; a stream that could
// not be read is WritesUnknown, with the reason in Why.
func ForkStreams(ctx context.Context, a, b StreamSincer, af, bf Facts) (*Stream, *Stream) {
	from, ok := ForkPoint(af, bf)
	if !ok {
		return nil, nil
	}
	read := func(s StreamSincer) <-chan Stream {
		ch := make(chan Stream, 1)
		go func() {
			st, err := s.StreamSince(ctx, from)
			if err != nil {
				st = Stream{From: from, Why: err.Error()}
			}
			ch <- st
		}()
		return ch
	}
	wait := func(ch <-chan Stream) *Stream {
		select {
		case st := <-ch:
			return &st
		case <-ctx.Done():
			return &Stream{From: from, Why: fmt.Sprintf("no answer in time: %v", ctx.Err())}
		}
	}
	ac, bc := read(a), read(b)
	return wait(ac), wait(bc)
}
