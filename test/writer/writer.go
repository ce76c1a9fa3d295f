package writer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config says where and how to write.
type Config struct {
	// Addr is where clients write: the VIP (host:port).
	Addr string
	// Hosts are the servers' own addresses, to find the final master.
	Hosts []string
	// Key is the list the numbers are pushed to.
	Key string
	// Interval is the pause after each acknowledged write.
	Interval time.Duration
	// Timeout bounds each dial and each command.
	Timeout time.Duration
	// Retry is the pause after a failed dial or command before trying again.
	Retry time.Duration
	// Duration bounds the write phase (required); Count, when positive, too.
	Duration time.Duration
	Count    int64
	// Settle bounds how long Verify waits for exactly one master holding the VIP.
	Settle time.Duration
	// AckLog, when not nil, receives the run as an ack log (see ReadLog):
	// the header before the first write, a line per acknowledgement as it
	// arrives, the trailer at the end. A failed write to it ends the run
	// with an error (an acknowledgement that is not recorded cannot be
	// counted).
	AckLog io.Writer
}

// Progress is a snapshot of the write phase, for progress lines.
type Progress struct {
	Elapsed time.Duration
	Sent    int64
	Acked   int
	// SinceAck is the time since the last ack (the gap in progress).
	SinceAck time.Duration
	Server   string
}

// Write pushes 1, 2, 3, ... to cfg.Key through cfg.Addr, one at a time,
// reconnecting after every failure, until ctx ends, cfg.Duration passes or
// cfg.Count numbers were sent. Every number is sent once: a failed one is
// not retried, so the acks say exactly which writes the client was told
// succeeded. progress (may be nil) is called about every tick. With
// cfg.AckLog each acknowledgement is recorded there before the next write
// is sent.
func Write(ctx context.Context, cfg Config, tick time.Duration, progress func(Progress)) (l Log, err error) {
	if cfg.Duration <= 0 {
		return Log{}, errors.New("writer: duration must be positive (the write phase is always bounded)")
	}
	start := time.Now()
	l = Log{Key: cfg.Key, Start: start, Errors: map[string]int{}}
	var alog *ackLog
	if cfg.AckLog != nil {
		alog = &ackLog{w: cfg.AckLog}
		if err := alog.header(cfg.Key, start); err != nil {
			return l, fmt.Errorf("%w: %w", errAckLog, err)
		}
		defer func() {
			if err == nil {
				if terr := alog.trailer(l); terr != nil {
					err = fmt.Errorf("%w: %w", errAckLog, terr)
				}
			}
		}()
	}
	deadline := start.Add(cfg.Duration)
	var conn *Conn
	server := ""
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	lastAck, lastTick := start, start
	for n := int64(1); ; {
		now := time.Now()
		if ctx.Err() != nil || !now.Before(deadline) || (cfg.Count > 0 && n > cfg.Count) {
			break
		}
		if progress != nil && tick > 0 && now.Sub(lastTick) >= tick {
			lastTick = now
			progress(Progress{Elapsed: now.Sub(start), Sent: l.Sent, Acked: len(l.Acks), SinceAck: now.Sub(lastAck), Server: server})
		}
		if conn == nil {
			c, err := Dial(cfg.Addr, cfg.Timeout)
			if err != nil {
				l.Errors[Classify(err)]++
				pause(ctx, cfg.Retry)
				continue
			}
			name, err := serverName(c)
			if err != nil {
				// The server accepted the connection but does not answer
				// (paused, overloaded): treat it like a failed dial.
				c.Close()
				l.Errors[Classify(err)]++
				pause(ctx, cfg.Retry)
				continue
			}
			conn, server = c, name
		}
		l.Sent = n
		_, err := conn.Do("RPUSH", cfg.Key, strconv.FormatInt(n, 10))
		n++
		if err != nil {
			l.Errors[Classify(err)]++
			conn.Close()
			conn, server = nil, ""
			pause(ctx, cfg.Retry)
			continue
		}
		lastAck = time.Now()
		a := Ack{N: l.Sent, At: lastAck.Sub(start), By: server}
		l.Acks = append(l.Acks, a)
		if alog != nil {
			if err := alog.ack(a); err != nil {
				l.Duration = time.Since(start)
				return l, fmt.Errorf("%w: %w", errAckLog, err)
			}
		}
		pause(ctx, cfg.Interval)
	}
	l.Duration = time.Since(start)
	return l, nil
}

// serverName asks the server which host it is (replica-announce-ip, set on
// every lab host), so acks can be attributed; "" when it does not say. Only
// a network failure is an error.
func serverName(c *Conn) (string, error) {
	v, err := c.Do("CONFIG", "GET", "replica-announce-ip")
	if errors.Is(err, ErrReply) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if a, ok := v.([]any); ok && len(a) == 2 {
		if s, ok := a[1].(string); ok && s != "" {
			return s, nil
		}
	}
	return "", nil
}

func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Classify names the kind of a failure for the error counts.
func Classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrReply):
		msg := err.Error()
		if i := strings.Index(msg, ErrReply.Error()+": "); i >= 0 {
			msg = msg[i+len(ErrReply.Error())+2:]
		}
		word, _, _ := strings.Cut(msg, " ")
		return word
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "EOF"):
		return "closed"
	}
	return "other"
}

// Roles asks each host for its role; unreachable hosts are left out.
func Roles(hosts []string, timeout time.Duration) map[string]string {
	out := map[string]string{}
	for _, h := range hosts {
		c, err := Dial(h, timeout)
		if err != nil {
			continue
		}
		v, err := c.Do("ROLE")
		c.Close()
		if a, ok := v.([]any); err == nil && ok && len(a) > 0 {
			if s, ok := a[0].(string); ok {
				out[h] = s
			}
		}
	}
	return out
}

// vipHost says which host the VIP reaches (by its replica-announce-ip and
// the port of addr), "" when nothing answers.
func vipHost(addr string, timeout time.Duration) string {
	c, err := Dial(addr, timeout)
	if err != nil {
		return ""
	}
	defer c.Close()
	name, _ := serverName(c)
	if name == "" {
		return ""
	}
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort(name, port)
}

// Verify waits (up to cfg.Settle) for exactly one master that the VIP
// reaches, reads the list back from the final master and analyzes the run.
func Verify(ctx context.Context, cfg Config, l Log) Report {
	deadline := time.Now().Add(cfg.Settle)
	var masters []string
	var vip string
	for {
		masters = masters[:0]
		for h, role := range Roles(cfg.Hosts, cfg.Timeout) {
			if role == "master" {
				masters = append(masters, h)
			}
		}
		vip = vipHost(cfg.Addr, cfg.Timeout)
		if (len(masters) == 1 && vip == masters[0]) || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		pause(ctx, 200*time.Millisecond)
	}
	final := ""
	switch {
	case len(masters) == 1:
		final = masters[0]
	case len(masters) > 1:
		for _, m := range masters {
			if m == vip {
				final = m
			}
		}
	}
	var present []int64
	var verr error
	if final == "" {
		verr = fmt.Errorf("no single master to read back from (masters %v, VIP reaches %q)", masters, vip)
	} else {
		present, verr = readList(final, cfg.Key, cfg.Timeout)
	}
	r := Analyze(l, present)
	r.Masters, r.FinalMaster, r.VIPHost = append([]string(nil), masters...), final, vip
	r.VIPOnMaster = final != "" && vip == final
	if verr != nil {
		r.VerifyError = verr.Error()
	}
	return r
}

// readList reads the whole list from addr.
func readList(addr, key string, timeout time.Duration) ([]int64, error) {
	c, err := Dial(addr, 10*timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	v, err := c.Do("LRANGE", key, "0", "-1")
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("LRANGE %s: unexpected reply %T", key, v)
	}
	out := make([]int64, 0, len(items))
	for _, it := range items {
		s, _ := it.(string)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("LRANGE %s: entry %q is not a number", key, s)
		}
		out = append(out, n)
	}
	return out, nil
}

// ReadList reads a list of numbers from addr, for tests that look at a
// server directly (a backup loaded into a scratch Redis, say).
func ReadList(addr, key string, timeout time.Duration) ([]int64, error) {
	return readList(addr, key, timeout)
}

// ParseList parses a writer's list as `redis-cli --raw LRANGE key 0 -1`
// prints it (a number per line), for tests that read it through redis-cli
// inside a namespace.
func ParseList(out string) ([]int64, error) {
	var ns []int64
	for _, f := range strings.Fields(out) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("list entry %q is not a number", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}
