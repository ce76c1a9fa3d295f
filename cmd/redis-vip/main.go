// Command redis-vip is keepalived's companion for a two-node Redis
// master/replica pair behind a virtual IP, and a standalone VRRP daemon.
// See the README for every subcommand and its exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
