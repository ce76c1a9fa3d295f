// Command redis-vip is keepalived's companion for a two-node Redis
// master/replica pair behind a virtual IP, and a standalone VRRP daemon.
// See the README for every subcommand and its exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Most runs live for milliseconds (keepalived runs check every second):
	// collect garbage only if the heap nears 64 MiB. The run daemon turns
	// the collector back on.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64 << 20)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
