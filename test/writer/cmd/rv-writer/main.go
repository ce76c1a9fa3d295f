// Command rv-writer writes numbered entries through a VIP and reports which
// acknowledged writes survived on the final master. Run it in the lab's
// client namespace:
//
//	ip netns exec rv-client rv-writer --duration 30s --json
//
// It stops after --duration, --count or SIGINT/SIGTERM, then verifies. The
// JSON report goes to stdout with --json; a one-line summary always goes to
// stderr (stdout without --json). Exit codes: 0 no acknowledged write lost
// and one master holding the VIP, 1 otherwise, 2 bad usage.
//
// A writer that may be killed with its host (the lab's poweroff) records
// each acknowledgement as it arrives with --ack-log FILE; another rv-writer
// counts them later with --verify-log FILE, which also reads --save-log's
// file.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rv-writer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "192.0.2.10:6379", "where to write: the VIP")
	hosts := fs.String("hosts", "192.0.2.11:6379,192.0.2.12:6379", "the servers' own addresses, to find the final master")
	key := fs.String("key", "", "list key (default writer:<start time>)")
	interval := fs.Duration("interval", 10*time.Millisecond, "pause after each acknowledged write")
	timeout := fs.Duration("timeout", 300*time.Millisecond, "bound on each dial and command")
	retry := fs.Duration("retry", 20*time.Millisecond, "pause after a failure before reconnecting")
	duration := fs.Duration("duration", 30*time.Second, "stop writing after this long")
	count := fs.Int64("count", 0, "stop after this many writes (0: no limit)")
	settle := fs.Duration("settle", 15*time.Second, "how long to wait at the end for one master holding the VIP")
	progress := fs.Duration("progress", 0, "print a progress line this often (0: never)")
	asJSON := fs.Bool("json", false, "print the JSON report on stdout")
	saveLog := fs.String("save-log", "", "also write the acknowledged writes (JSON) to this file when the write phase ends")
	ackLog := fs.String("ack-log", "", "append each acknowledged write to this file as it arrives (one JSON line; survives the writer being killed)")
	verifyLog := fs.String("verify-log", "", "do not write: verify the writes in this file (from --save-log or --ack-log) against the servers now")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := writer.Config{Addr: *addr, Hosts: strings.Split(*hosts, ","), Key: *key, Interval: *interval,
		Timeout: *timeout, Retry: *retry, Duration: *duration, Count: *count, Settle: *settle}
	if cfg.Key == "" {
		cfg.Key = "writer:" + time.Now().UTC().Format("20060102T150405.000")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var l writer.Log
	if *verifyLog != "" {
		f, err := os.Open(*verifyLog)
		complete := false
		if err == nil {
			l, complete, err = writer.ReadLog(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "rv-writer: %s: %v\n", *verifyLog, err)
			return 2
		}
		if !complete {
			fmt.Fprintf(stderr, "rv-writer: %s: the writer did not end normally; verifying the %d acknowledgements it recorded\n", *verifyLog, len(l.Acks))
		}
		cfg.Key = l.Key
	} else {
		if *ackLog != "" {
			f, err := os.OpenFile(*ackLog, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				fmt.Fprintf(stderr, "rv-writer: %v\n", err)
				return 2
			}
			defer f.Close()
			cfg.AckLog = f
		}
		var err error
		l, err = writer.Write(ctx, cfg, *progress, func(p writer.Progress) {
			fmt.Fprintf(stderr, "rv-writer: t=%5.1fs sent=%d acked=%d last ack %d ms ago (server %s)\n",
				p.Elapsed.Seconds(), p.Sent, p.Acked, p.SinceAck.Milliseconds(), orDash(p.Server))
		})
		if err != nil && len(l.Acks) == 0 {
			fmt.Fprintf(stderr, "rv-writer: %v\n", err)
			return 2
		}
		if err != nil {
			// The ack log failed mid-run: say so, and still verify the
			// acknowledgements held in memory.
			fmt.Fprintf(stderr, "rv-writer: %v (stopped writing after %d acknowledgements)\n", err, len(l.Acks))
		}
		if *saveLog != "" {
			b, _ := json.Marshal(l)
			if err := os.WriteFile(*saveLog, b, 0o644); err != nil {
				fmt.Fprintf(stderr, "rv-writer: save log: %v\n", err)
			}
		}
	}
	stop() // a second signal during verification ends the program
	vctx, cancel := context.WithTimeout(context.Background(), cfg.Settle+10*time.Second)
	defer cancel()
	rep := writer.Verify(vctx, cfg, l)
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(stdout, string(b))
		fmt.Fprintln(stderr, rep.Summary())
	} else {
		fmt.Fprintln(stdout, rep.Summary())
	}
	if rep.Lost > 0 || !rep.VIPOnMaster || rep.VerifyError != "" {
		return 1
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
