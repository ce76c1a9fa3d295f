package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Sentinel errors that callers check with errors.Is.
var (
	// ErrUnreachable: the server could not be dialled or did not answer in time.
	ErrUnreachable = errors.New("unreachable")
	// ErrAuth: the server refused the credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrUnknownCommand: the server does not know (or has renamed) a command.
	ErrUnknownCommand = errors.New("unknown command")
)

// Answered reports whether err came from a server that answered: any error
// but ErrUnreachable (wrong password, -BUSY, -LOADING, maxclients, -MISCONF,
// OOM). Such a server is alive (S9): it must never be taken for an absent one.
func Answered(err error) bool { return err != nil && !errors.Is(err, ErrUnreachable) }

// Options say how to reach one Redis.
type Options struct {
	Addr     string
	Username string
	Password string
	// TLS is nil for plain TCP.
	TLS            *tls.Config
	DialTimeout    time.Duration
	CommandTimeout time.Duration
}

// Client sends redis-vip's few commands to one Redis.
type Client struct {
	addr string
	opts Options
	rdb  *redis.Client
}

// Dial makes a client; the connection is opened lazily by the first command.
func Dial(o Options) *Client {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  o.Addr,
		Username:              o.Username,
		Password:              o.Password,
		TLSConfig:             o.TLS,
		DialTimeout:           o.DialTimeout,
		ReadTimeout:           o.CommandTimeout,
		WriteTimeout:          o.CommandTimeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              2,
		Protocol:              2,
		DisableIdentity:       true,
	})
	return &Client{addr: o.Addr, opts: o, rdb: rdb}
}

// DriverLogger sends go-redis's own messages (pool dial failures and the
// like) to zap at debug level instead of stderr; install it with
// redis.SetLogger once, in main.
type DriverLogger struct{ Log *zap.Logger }

// Printf logs one go-redis message.
func (d DriverLogger) Printf(_ context.Context, format string, v ...any) {
	d.Log.Debug(fmt.Sprintf(format, v...))
}

// Addr is the address this client talks to.
func (c *Client) Addr() string { return c.addr }

// Close releases the client's connections.
func (c *Client) Close() error { return c.rdb.Close() }

// classify wraps err with the sentinel that matches it and the address.
func (c *Client) classify(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"),
		strings.Contains(msg, "invalid password"), strings.Contains(msg, "without any password configured"),
		strings.Contains(msg, "invalid username-password"):
		return fmt.Errorf("%s %s: %w: %s", what, c.addr, ErrAuth, msg)
	case strings.HasPrefix(msg, "ERR unknown command"), strings.HasPrefix(msg, "ERR unknown subcommand"):
		return fmt.Errorf("%s %s: %w: %s", what, c.addr, ErrUnknownCommand, msg)
	case errors.As(err, &dnsErr), errors.As(err, &opErr), errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, redis.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s %s: %w: %w", what, c.addr, ErrUnreachable, err)
	}
	return fmt.Errorf("%s %s: %w", what, c.addr, err)
}

// bound limits one call to one connect and one command: go-redis opens a
// second connection when the first one's handshake times out, so a hung
// server (SIGSTOP) otherwise costs two command timeouts, not one.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.CommandTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.opts.DialTimeout+c.opts.CommandTimeout)
}

// Facts reads INFO server, replication, persistence and keyspace in one
// round trip (four INFO commands pipelined: old servers take one section each).
func (c *Client) Facts(ctx context.Context) (Facts, error) {
	return c.facts(ctx, "server", "replication", "persistence", "keyspace")
}

// FactsWithMemory is Facts plus INFO memory (used_memory, maxmemory), for
// reports; check and transitions do not need it.
func (c *Client) FactsWithMemory(ctx context.Context) (Facts, error) {
	return c.facts(ctx, "server", "replication", "persistence", "keyspace", "memory")
}

func (c *Client) facts(ctx context.Context, sections ...string) (Facts, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range sections {
			p.Info(ctx, s)
		}
		return nil
	})
	if err != nil {
		return Facts{}, c.classify("INFO", err)
	}
	var sb strings.Builder
	for _, cmd := range cmds {
		sb.WriteString(cmd.(*redis.StringCmd).Val())
		sb.WriteByte('\n')
	}
	f, err := ParseInfo(sb.String())
	if err != nil {
		return Facts{}, fmt.Errorf("INFO %s: %w", c.addr, err)
	}
	f.Addr = c.addr
	return f, nil
}

// do runs a command and returns its error classified.
func (c *Client) do(ctx context.Context, args ...any) error {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	return c.classify(strings.TrimSpace(fmt.Sprintln(args...)), c.rdb.Do(ctx, args...).Err())
}

// ReplicaOf makes the server replicate host:port, using SLAVEOF where REPLICAOF
// does not exist (Redis before 5.0, or a renamed command).
func (c *Client) ReplicaOf(ctx context.Context, host string, port int) error {
	err := c.do(ctx, "REPLICAOF", host, strconv.Itoa(port))
	if errors.Is(err, ErrUnknownCommand) {
		err = c.do(ctx, "SLAVEOF", host, strconv.Itoa(port))
	}
	return err
}

// PromoteNoOne turns the server into a master (REPLICAOF NO ONE).
func (c *Client) PromoteNoOne(ctx context.Context) error {
	err := c.do(ctx, "REPLICAOF", "NO", "ONE")
	if errors.Is(err, ErrUnknownCommand) {
		err = c.do(ctx, "SLAVEOF", "NO", "ONE")
	}
	return err
}

// FailoverTo asks this master to hand its role to the replica at host:port
// (Redis 6.2+): it pauses writes, waits for the replica to catch up within
// timeout, then the replica becomes master and this server follows it.
func (c *Client) FailoverTo(ctx context.Context, host string, port int, timeout time.Duration) error {
	return c.do(ctx, "FAILOVER", "TO", host, strconv.Itoa(port), "TIMEOUT", strconv.FormatInt(timeout.Milliseconds(), 10))
}

// FailoverAbort cancels a FAILOVER in progress.
func (c *Client) FailoverAbort(ctx context.Context) error {
	return c.do(ctx, "FAILOVER", "ABORT")
}

// PauseWrites blocks write commands for d (CLIENT PAUSE WRITE on 6.2+; all
// commands before that).
func (c *Client) PauseWrites(ctx context.Context, d time.Duration) error {
	ms := strconv.FormatInt(d.Milliseconds(), 10)
	err := c.do(ctx, "CLIENT", "PAUSE", ms, "WRITE")
	if err != nil && !errors.Is(err, ErrUnreachable) && !errors.Is(err, ErrAuth) {
		err = c.do(ctx, "CLIENT", "PAUSE", ms)
	}
	return err
}

// Unpause ends a CLIENT PAUSE; servers without CLIENT UNPAUSE (before 6.2)
// let the pause run out, which is not an error.
func (c *Client) Unpause(ctx context.Context) error {
	err := c.do(ctx, "CLIENT", "UNPAUSE")
	if errors.Is(err, ErrUnknownCommand) || (err != nil && strings.Contains(err.Error(), "syntax")) {
		return nil
	}
	return err
}

// KillNormalClients disconnects every normal client but this one, so they
// reconnect through the VIP; it returns how many were disconnected.
func (c *Client) KillNormalClients(ctx context.Context) (int64, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	n, err := c.rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Int64()
	return n, c.classify("CLIENT KILL TYPE normal", err)
}

// ConfigRewrite persists the running configuration into the config file.
func (c *Client) ConfigRewrite(ctx context.Context) error {
	return c.do(ctx, "CONFIG", "REWRITE")
}

// ConfigGet returns one configuration parameter's value.
func (c *Client) ConfigGet(ctx context.Context, name string) (string, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	m, err := c.rdb.ConfigGet(ctx, name).Result()
	if err != nil {
		return "", c.classify("CONFIG GET "+name, err)
	}
	v, ok := m[name]
	if !ok {
		return "", fmt.Errorf("CONFIG GET %s %s: no such parameter", name, c.addr)
	}
	return v, nil
}

// ConfigSet changes one configuration parameter.
func (c *Client) ConfigSet(ctx context.Context, name, value string) error {
	return c.do(ctx, "CONFIG", "SET", name, value)
}

// LastSave returns the time of the last successful save.
func (c *Client) LastSave(ctx context.Context) (time.Time, error) {
	ctx, cancel := c.bound(ctx)
	defer cancel()
	n, err := c.rdb.LastSave(ctx).Result()
	if err != nil {
		return time.Time{}, c.classify("LASTSAVE", err)
	}
	return time.Unix(n, 0), nil
}

// BGSave starts a background save (scheduled after a running rewrite).
func (c *Client) BGSave(ctx context.Context) error {
	err := c.do(ctx, "BGSAVE", "SCHEDULE")
	if err != nil && strings.Contains(err.Error(), "syntax") {
		err = c.do(ctx, "BGSAVE")
	}
	return err
}
