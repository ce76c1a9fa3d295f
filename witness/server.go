package witness

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Server limits (the defaults of the Server's fields).
const (
	// DefaultIOTimeout bounds one connection from accept to close: a client
	// that has not sent its whole request by then is dropped.
	DefaultIOTimeout = 2 * time.Second
	// DefaultMaxConns bounds the connections served at once.
	DefaultMaxConns = 256
	// DefaultMaxConnsPerHost bounds those from one IP address, so one
	// slow or hostile host cannot take every slot.
	DefaultMaxConnsPerHost = 16
	// complaintEvery spaces the log lines about bad requests.
	complaintEvery = 10 * time.Second
)

// Server is the witness: it answers requests on a listener from a Table
// created with it. Set the exported limits before Serve.
type Server struct {
	// IOTimeout, MaxConns, MaxConnsPerHost: see their defaults.
	IOTimeout       time.Duration
	MaxConns        int
	MaxConnsPerHost int

	secret []byte
	log    *zap.Logger
	grace  time.Duration

	mu      sync.Mutex // guards the fields below
	table   *Table
	start   time.Time // the table's time zero: when Serve began
	serving bool      // Serve was called
	closing bool      // ctx ended: grant nothing more

	connMu  sync.Mutex
	conns   int
	perHost map[string]int

	complainMu sync.Mutex
	lastLog    time.Time // last bad-request line (monotonic)
	quiet      int       // bad requests not logged since

	wg sync.WaitGroup
}

// NewServer returns a witness granting leases of at most maxLease, with
// maxPairs pairs at most (<= 0: DefaultMaxPairs). Its restart grace (no
// grants) lasts maxLease from when Serve starts.
func NewServer(secret []byte, maxLease time.Duration, maxPairs int, log *zap.Logger) (*Server, error) {
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: empty secret", ErrConfig)
	}
	if err := CheckMaxLease(maxLease); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	table := NewTable(maxLease, maxPairs)
	// Grant numbers start at a random point in every run, so a number a
	// client kept from an earlier run never names a grant of this one (a
	// delayed release naming it would end someone else's lease).
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("witness: random: %w", err)
	}
	table.seq = binary.BigEndian.Uint64(b[:]) >> 1
	return &Server{
		IOTimeout: DefaultIOTimeout, MaxConns: DefaultMaxConns, MaxConnsPerHost: DefaultMaxConnsPerHost,
		secret: append([]byte(nil), secret...), log: log, grace: maxLease,
		table: table, perHost: map[string]int{},
	}, nil
}

// CheckMaxLease says whether d is a valid --max-lease.
func CheckMaxLease(d time.Duration) error {
	if d < MinLease || d > MaxMaxLease {
		return fmt.Errorf("%w: max lease %s: want %s to %s", ErrConfig, d, MinLease, MaxMaxLease)
	}
	return nil
}

// GraceLeft is how long the restart grace still runs (0 once over; the
// whole grace before Serve).
func (s *Server) GraceLeft() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.serving {
		return s.grace
	}
	return max(0, s.grace-time.Since(s.start))
}

// Serve answers on ln, which must be bound already: the restart grace
// starts now, after the bind, so it starts after any earlier witness on
// this address stopped granting (it does before closing its listener).
// When ctx ends, Serve stops granting, closes ln and waits for the
// connections in flight (each bounded by IOTimeout); it returns nil then,
// or the listener's error. Call it once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("witness: Serve called twice")
	}
	s.serving, s.start = true, time.Now()
	s.mu.Unlock()
	var once sync.Once
	shutdown := func() {
		once.Do(func() {
			s.mu.Lock()
			s.closing = true // before the close: see above
			s.mu.Unlock()
			ln.Close()
		})
	}
	defer s.wg.Wait()
	defer shutdown() // first: no grants while waiting
	stop := context.AfterFunc(ctx, shutdown)
	defer stop()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors or similar: back off, keep serving.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.complain("accept failed", zap.Error(err))
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			return fmt.Errorf("witness: accept: %w", err)
		}
		delay = 0
		host := remoteHost(conn)
		if !s.admit(host) {
			conn.Close()
			s.complain("too many connections: dropped one", zap.String("remote", host))
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.leave(host)
			s.handle(conn)
		}()
	}
}

func remoteHost(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	h, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return h
}

func (s *Server) admit(host string) bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conns >= s.MaxConns || s.perHost[host] >= s.MaxConnsPerHost {
		return false
	}
	s.conns++
	s.perHost[host]++
	return true
}

func (s *Server) leave(host string) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	s.conns--
	if s.perHost[host]--; s.perHost[host] <= 0 {
		delete(s.perHost, host)
	}
}

// complain logs a bad request or a refused connection at most once per
// complaintEvery, with the number left unsaid since.
func (s *Server) complain(msg string, fields ...zap.Field) {
	s.complainMu.Lock()
	now := time.Now()
	if !s.lastLog.IsZero() && now.Sub(s.lastLog) < complaintEvery {
		s.quiet++
		s.complainMu.Unlock()
		return
	}
	n := s.quiet
	s.lastLog, s.quiet = now, 0
	s.complainMu.Unlock()
	if n > 0 {
		fields = append(fields, zap.Int("similar_since_last_line", n))
	}
	s.log.Warn(msg, fields...)
}

// handle serves one connection: greeting, one request, one answer.
func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(s.IOTimeout))
	remote := conn.RemoteAddr().String()
	var snonce [nonceLen]byte
	if _, err := rand.Read(snonce[:]); err != nil {
		s.log.Error("nonce", zap.Error(err))
		return
	}
	if _, err := conn.Write(helloLine(snonce)); err != nil {
		return
	}
	rd := bufio.NewReaderSize(conn, MaxLine)
	line, err := readLine(rd)
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, errPartialLine), errors.Is(err, errLineTooLong):
		s.complain("bad request: "+err.Error(), zap.String("remote", remote))
		_, _ = conn.Write((&Response{Status: StatusBad, SNonce: snonce}).Encode())
		return
	case errors.As(err, &ne) && ne.Timeout():
		s.complain("no request in time: dropped the connection", zap.String("remote", remote), zap.Duration("timeout", s.IOTimeout))
		return
	default:
		return // closed without a request: a port scan, a health check
	}
	resp := s.answer(line, snonce, remote)
	_, _ = conn.Write(resp.Encode())
}

// answer decides the response to one request line.
func (s *Server) answer(line []byte, snonce [nonceLen]byte, remote string) Response {
	req, err := DecodeRequest(line)
	if err != nil {
		s.complain("bad request: not the witness protocol", zap.String("remote", remote), zap.ByteString("start", line[:min(len(line), 40)]))
		return Response{Status: StatusBad, SNonce: snonce}
	}
	resp := Response{CNonce: req.CNonce, SNonce: req.SNonce}
	switch {
	case !req.Verify(s.secret):
		s.complain("request with a wrong MAC: the client's secret differs from ours", zap.String("remote", remote), zap.String("pair", req.Pair), zap.String("node", req.Node))
		resp.Status = StatusWrongSecret
		return resp
	case req.SNonce != snonce:
		s.complain("replayed request (another connection's nonce): refused", zap.String("remote", remote), zap.String("pair", req.Pair), zap.String("node", req.Node))
		resp.Status = StatusBad
		return resp
	case req.Op == OpAcquire && time.Duration(req.MS)*time.Millisecond < MinLease:
		s.complain("acquire for less than the minimum lease", zap.String("remote", remote), zap.Uint32("ms", req.MS))
		resp.Status = StatusBad
		return resp
	}
	s.mu.Lock()
	now := time.Since(s.start)
	var a Answer
	closing := s.closing
	switch {
	case closing:
		a = Answer{Status: StatusBusy} // stopping: a successor may be starting
	case req.Op == OpAcquire:
		a = s.table.Acquire(now, req.Pair, req.Node, time.Duration(req.MS)*time.Millisecond)
	case req.Op == OpRelease:
		a = s.table.Release(now, req.Pair, req.Node, req.Seq)
	case req.Op == OpStatus:
		a = s.table.Status(now, req.Pair)
	}
	pairs := s.table.Len()
	s.mu.Unlock()
	if !closing {
		s.logAnswer(req, a, remote, pairs)
	}
	resp.Status, resp.Holder, resp.MS, resp.Seq = a.Status, a.Holder, millis(a.D), a.Seq
	resp.Sign(s.secret)
	return resp
}

func (s *Server) logAnswer(req Request, a Answer, remote string, pairs int) {
	f := []zap.Field{zap.String("pair", req.Pair), zap.String("node", req.Node), zap.String("remote", remote)}
	switch {
	case a.Status == StatusGranted && a.Prev != "":
		s.log.Info("lease moved", append(f, zap.String("from", a.Prev), zap.Duration("lease", a.D), zap.Uint64("seq", a.Seq))...)
	case a.Status == StatusGranted && a.Taken:
		s.log.Info("lease granted", append(f, zap.Duration("lease", a.D), zap.Uint64("seq", a.Seq))...)
	case a.Status == StatusGranted:
		s.log.Debug("lease renewed", append(f, zap.Duration("lease", a.D), zap.Uint64("seq", a.Seq))...)
	case a.Status == StatusReleased && a.Prev != "":
		s.log.Info("lease released", f...)
	case a.Status == StatusBusy:
		s.complain("table full: refused a new pair", append(f, zap.Int("pairs", pairs))...)
	default:
		s.log.Debug("answered", append(f, zap.String("op", string(req.Op)), zap.String("status", string(a.Status)), zap.String("holder", a.Holder))...)
	}
}
