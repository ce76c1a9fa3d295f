package liveness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Defaults of the Options that have one.
const (
	DefaultDialTimeout = time.Second
	DefaultMinBackoff  = 20 * time.Millisecond
	DefaultMaxBackoff  = 500 * time.Millisecond
	DefaultMinHold     = time.Second
	DefaultGonePoll    = 10 * time.Millisecond
)

// Event is a change in what the Watcher knows about the server.
type Event struct {
	// Up is true when the server accepts connections (at start, or again
	// after it was gone), false when it is gone.
	Up bool
	// At is when the Watcher saw it.
	At time.Time
	// Reason says what the Watcher saw, for logs.
	Reason string
}

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options are what New needs.
type Options struct {
	// Addr is the server's host:port (the instance's local address).
	Addr string
	// Dial opens the connections (default: a net.Dialer).
	Dial DialFunc
	// DialTimeout bounds one connection attempt (default 1s). On loopback
	// a connect is refused or accepted at once; it times out only when
	// the server's accept backlog is full (a hung server), which proves
	// nothing either way.
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts that
	// neither succeed nor are refused (a timeout), and before reading a
	// connection that follows one closed soon after it opened (default
	// 20ms doubling up to 500ms).
	MinBackoff, MaxBackoff time.Duration
	// GonePoll is the wait between attempts while connections are refused
	// (default 10ms), without backing off: a refused connect costs the
	// kernel microseconds, and a server that comes back must be seen at
	// once (the built-in mode keeps the VIP on a host whose Redis died
	// until the new master announces it, and gives it up the moment that
	// Redis accepts connections again).
	GonePoll time.Duration
	// MinHold: when a connection closed sooner than this after it was
	// opened, the next one is read only after a backoff, so a server that
	// closes every connection (maxclients) cannot make the Watcher spin
	// (default 1s). The reconnect that confirms a close is always at once.
	MinHold time.Duration
	// Log receives debug lines about closed connections; nil discards.
	Log *zap.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Watcher holds one connection to a Redis server and reports at once when
// the server is gone and when it is back. Make one with New.
type Watcher struct {
	o Options
}

// New checks the options and applies the defaults.
func New(o Options) (*Watcher, error) {
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("liveness: address %q: %w", o.Addr, err)
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.MinHold <= 0 {
		o.MinHold = DefaultMinHold
	}
	if o.GonePoll <= 0 {
		o.GonePoll = DefaultGonePoll
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Watcher{o: o}, nil
}

// Addr is the address watched.
func (w *Watcher) Addr() string { return w.o.Addr }

// state is what the Watcher last reported.
type state int

const (
	unknown state = iota
	up
	gone
)

// Run watches the server until ctx ends, calling report from Run's own
// goroutine for every change: Up at the first accepted connection, not Up
// (gone) at the first refused one, and then at every change between the
// two. A connection that closes while the server still accepts a new one
// reports nothing. report must not block for long: the Watcher does not
// watch while it runs.
func (w *Watcher) Run(ctx context.Context, report func(Event)) {
	last := unknown
	emit := func(s state, reason string) {
		if s == last {
			return
		}
		last = s
		report(Event{Up: s == up, At: w.o.Now(), Reason: reason})
	}
	var backoff time.Duration
	grow := func() {
		backoff = min(max(2*backoff, w.o.MinBackoff), w.o.MaxBackoff)
	}
	why := ""      // why the previous connection ended ("" at start)
	short := false // it ended soon after it opened
	for ctx.Err() == nil {
		conn, err := w.dial(ctx)
		switch {
		case ctx.Err() != nil:
			if conn != nil {
				conn.Close()
			}
			return
		case errors.Is(err, syscall.ECONNREFUSED):
			reason := "connection refused: nothing listens on " + w.o.Addr
			if why != "" {
				reason = why + ", and a new connection was refused: nothing listens on " + w.o.Addr
			}
			emit(gone, reason)
			why, short = "", false
			if !sleep(ctx, w.o.GonePoll) {
				return
			}
			continue
		case err != nil:
			// Neither accepted nor refused (a timeout: the backlog of a
			// hung server is full): no proof either way.
			w.o.Log.Debug("liveness: connect failed; proves nothing, the health check decides", zap.String("addr", w.o.Addr), zap.Error(err))
			grow()
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		if last == gone {
			emit(up, "accepts connections again")
		} else {
			emit(up, "accepts connections")
		}
		if why != "" {
			w.o.Log.Debug("liveness: connection closed but the server accepts a new one: alive (CLIENT KILL, idle timeout or maxclients)",
				zap.String("addr", w.o.Addr), zap.String("closed", why))
		}
		if short {
			// The connection before this one closed soon after it opened:
			// the server may close every connection (maxclients). Wait
			// before reading this one, so the Watcher cannot spin; a
			// death in the meantime is seen when the wait ends.
			grow()
			if !sleep(ctx, backoff) {
				conn.Close()
				return
			}
		} else {
			backoff = 0
		}
		opened := w.o.Now()
		err = hold(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		why = closeReason(err)
		short = w.o.Now().Sub(opened) < w.o.MinHold
		// Confirm at once: the loop dials again right away.
	}
}

// dial opens one connection, bounded by DialTimeout.
func (w *Watcher) dial(ctx context.Context) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, w.o.DialTimeout)
	defer cancel()
	return w.o.Dial(dctx, "tcp", w.o.Addr)
}

// hold reads conn until it fails or ctx ends, discarding what it reads
// (a server may say why it closes), and closes it.
func hold(ctx context.Context, conn net.Conn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	buf := make([]byte, 256)
	for {
		if _, err := conn.Read(buf); err != nil {
			return err
		}
	}
}

// closeReason names how a held connection ended.
func closeReason(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "connection closed by the server (EOF)"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	}
	return fmt.Sprintf("connection failed (%v)", err)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
