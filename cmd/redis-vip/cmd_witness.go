package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/logging"
	"github.com/redis-vip/redis-vip/sdnotify"
	"github.com/redis-vip/redis-vip/witness"
)

// witnessBadInput marks a witness configuration error as bad input (exit
// 2) and prints as the error it wraps.
type witnessBadInput struct{ err error }

func (e witnessBadInput) Error() string        { return e.err.Error() }
func (e witnessBadInput) Unwrap() error        { return e.err }
func (e witnessBadInput) Is(target error) bool { return target == errBadInput }

// witnessCommand is the lease service of the partition-safety work (issue
// 10): package witness, docs/witness.md.
func witnessCommand() *cli.Command {
	return &cli.Command{
		Name:  "witness",
		Usage: "the lease service on a third host that keeps a split pair to one master (systemd redis-vip-witness.service)",
		UsageText: "redis-vip witness --listen ADDR [--secret-file FILE] [--max-lease DURATION]\n\n" +
			"Holds one lease per pair of redis-vip nodes: at most one node holds it, it expires unless\n" +
			"renewed, its holder may give it back. Nothing is kept on disk: after a start it grants\n" +
			"nothing for --max-lease, so no lease from before the restart can still run. Requests and\n" +
			"answers are authenticated with the shared secret (the same file on both nodes; mode 0600\n" +
			"or 0400). Logs to stderr. SIGTERM/SIGINT: stop granting, finish the requests in flight,\n" +
			"exit 0. Exit codes: 0 stopped by a signal, 1 failed, 2 bad input (flags, secret file,\n" +
			"an address it cannot listen on). See docs/witness.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", EnvVars: []string{"REDIS_VIP_WITNESS_LISTEN"},
				Usage: "host:port to listen on (TCP), e.g. 0.0.0.0:7480 or [::]:7480; required"},
			&cli.StringFlag{Name: "secret-file", EnvVars: []string{"REDIS_VIP_WITNESS_SECRET_FILE"}, Value: "/etc/redis-vip/witness.secret",
				Usage: "the shared secret (at least 16 bytes; trailing newline ignored)"},
			&cli.DurationFlag{Name: "max-lease", EnvVars: []string{"REDIS_VIP_WITNESS_MAX_LEASE"}, Value: witness.DefaultMaxLease,
				Usage: "longest lease granted, and the restart grace (100ms to 10m)"},
			&cli.StringFlag{Name: "log-level", EnvVars: []string{"REDIS_VIP_WITNESS_LOG_LEVEL"}, Value: "info",
				Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", EnvVars: []string{"REDIS_VIP_WITNESS_LOG_FORMAT"}, Value: "console",
				Usage: "json or console"},
		},
		Action: runWitness,
	}
}

func runWitness(c *cli.Context) error {
	bad := func(format string, args ...any) error {
		return witnessBadInput{fmt.Errorf(format, args...)}
	}
	if c.Args().Len() > 0 {
		return bad("witness takes no arguments, got %q", c.Args().Slice())
	}
	listen := c.String("listen")
	if listen == "" {
		return bad("witness: --listen is required (e.g. --listen 0.0.0.0:7480)")
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return bad("witness: --listen %q: %v", listen, err)
	}
	maxLease := c.Duration("max-lease")
	if err := witness.CheckMaxLease(maxLease); err != nil {
		return witnessBadInput{err}
	}
	secret, err := witness.ReadSecretFile(c.String("secret-file"))
	if err != nil {
		return witnessBadInput{err}
	}
	log, flush, err := logging.New(logging.Options{Level: c.String("log-level"), Format: c.String("log-format"), Stderr: true})
	if err != nil {
		return bad("witness: %v", err)
	}
	defer flush()
	log = log.Named("witness")
	srv, err := witness.NewServer(secret, maxLease, 0, log)
	if err != nil {
		return witnessBadInput{err}
	}
	// Bind first: the restart grace starts in Serve, after the bind, so
	// after any earlier witness on this address stopped granting.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return bad("witness: --listen %s: %v", listen, err)
	}
	addr := ln.Addr().String()
	log.Info("listening", zap.String("addr", addr), zap.Duration("max_lease", maxLease),
		zap.String("grace", fmt.Sprintf("no grants for %s after the start (restart grace)", maxLease)))
	notify := sdnotify.FromEnv(os.Getenv)
	graceOver := time.AfterFunc(maxLease, func() {
		time.Sleep(srv.GraceLeft()) // Serve started the grace a moment after this timer
		log.Info("restart grace over: granting leases", zap.String("addr", addr))
		_ = notify.Notify("STATUS=serving on " + addr)
	})
	defer graceOver.Stop()
	_ = notify.Notify("READY=1", fmt.Sprintf("STATUS=serving on %s; restart grace: no grants for %s", addr, maxLease))
	err = srv.Serve(c.Context, ln)
	_ = notify.Notify("STOPPING=1")
	if err != nil {
		return err
	}
	log.Info("stopped", zap.String("addr", addr))
	return nil
}
