// Command rv-lab is the operators' lab (make lab): two Redis hosts with
// keepalived and redis-vip, a witness host and a client, each in its own
// network namespace on a bridge in a namespace of its own (nothing touches
// the host's network), built by package test/lab exactly as the end-to-end
// tests build it, from the shipped packaging/keepalived configurations.
//
//	PREFIX-h1      192.0.2.11/24  redis-server + keepalived + redis-vip (host A)
//	PREFIX-h2      192.0.2.12/24  redis-server + keepalived + redis-vip (host B)
//	PREFIX-w       192.0.2.13/24  the witness host (`redis-vip witness`, port 7379)
//	PREFIX-c       192.0.2.100/24 the client
//	PREFIX-br      the bridge (ports vh1, vh2, vw, vc)
//	VIP            192.0.2.10/24, moved by keepalived (unicast VRRP, VRID 51)
//
// The lab keeps its processes in memory, so rv-lab is one foreground
// process: it builds the lab, prints how to reach it, then reads commands
// from stdin, one per line (help lists them); EOF, quit, SIGINT or SIGTERM
// tear everything down: every process, every namespace and, unless -keep,
// the lab dir. A bad command gets one line and the lab keeps running.
//
//	sudo go run ./test/lab/cmd/rv-lab [-notify fifo] [-profile tuned] [-preempt] ...
//	printf 'status\nstop-redis h1 --kill\nwait-settled 30\nstatus\n' | sudo go run ./test/lab/cmd/rv-lab
//
// Partitions drop frames in the bridge, so both ends see silence (no ICMP,
// no RST), as with a failed switch; the hosts keep carrier and addresses and
// their processes keep running. poweroff freezes every process of the host
// (SIGSTOP), pulls its cable (the veth pair deleted), kills them all and
// deletes the namespace: the host's kernel state (the VIP, ARP cache,
// sockets) is gone as after a reboot, but the page cache is not, so data
// Redis wrote but never fsynced survives (a real power loss can lose it),
// and the clock does not jump. poweron gives a fresh namespace and starts
// nothing.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/cmd/internal/labcmd"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rv-lab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", labcmd.Env("LAB_DIR", "/tmp/redis-vip-lab"), "the lab's files: configs, data, logs (env LAB_DIR)")
	prefix := fs.String("prefix", labcmd.Env("LAB_PREFIX", "rv"), "namespace names are PREFIX-h1 and so on (env LAB_PREFIX)")
	bin := fs.String("bin", labcmd.Env("LAB_BIN", ""), "redis-vip binary to run (default: built from the repository; env LAB_BIN)")
	notify := fs.String("notify", labcmd.Env("LAB_NOTIFY", "hooks"), "hooks (keepalived-host-*.conf) or fifo (keepalived-fifo-host-*.conf) (env LAB_NOTIFY)")
	profile := fs.String("profile", labcmd.Env("LAB_PROFILE", "shipped"), "shipped, or tuned: fall 1, rise 1 (env LAB_PROFILE)")
	preempt := fs.Bool("preempt", labcmd.Env("LAB_PREEMPT", "0") == "1", "drop nopreempt and give h2 priority -10: h1 preferred (env LAB_PREEMPT=1)")
	include := fs.String("include", labcmd.Env("LAB_INCLUDE", "cmdline"), "guard's include on redis-server's command line (cmdline, as the drop-in does) or only as the last line of redis.conf (conf) (env LAB_INCLUDE)")
	scriptUser := fs.String("script-user", labcmd.Env("LAB_SCRIPT_USER", "redis-vip"), "keepalived's script_user, created when missing; root allowed (env LAB_SCRIPT_USER)")
	logLevel := fs.String("log-level", labcmd.Env("LAB_LOG_LEVEL", "info"), "redis-vip's log level (env LAB_LOG_LEVEL)")
	netOnly := fs.Bool("net-only", false, "build namespaces, bridge, dirs and configs, start no process")
	keep := fs.Bool("keep", false, "keep the lab dir (configs, data, logs) at exit")
	cmdTimeout := fs.Duration("cmd-timeout", 2*time.Minute, "bound on each cli and exec command")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fmt.Fprintln(stderr, "rv-lab: no arguments, only flags (-h lists them); commands come on stdin")
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ses, err := labcmd.Start(*dir, *prefix, "make lab", "ip", "bridge", "redis-server", "redis-cli", "keepalived", "go")
	if ses == nil {
		fmt.Fprintln(stderr, "rv-lab:", err)
		return 1
	}
	s := &session{Session: ses, out: stdout, errw: stderr, cmdTimeout: *cmdTimeout}
	if err == nil {
		err = s.up(ctx, lab.Options{Bin: *bin, Notify: *notify, Profile: *profile, Preempt: *preempt,
			Include: *include, ScriptUser: *scriptUser, LogLevel: *logLevel}, *netOnly)
	}
	if err == nil {
		s.banner(ctx)
		s.loop(ctx, stdin)
	}
	keepDir := *keep || err != nil
	left, cerr := s.Close(keepDir)
	if len(left) > 0 {
		fmt.Fprintf(stderr, "rv-lab: namespaces left behind: %s\n", strings.Join(left, " "))
	}
	if cerr != nil {
		fmt.Fprintln(stderr, "rv-lab:", cerr)
	}
	if keepDir && s.Lab != nil {
		s.logf("the lab's files stay in %s", s.Dir)
	}
	if err != nil {
		fmt.Fprintln(stderr, "rv-lab:", err)
		return 1
	}
	return 0
}

// session is one lab from build to teardown, and its command loop.
type session struct {
	*labcmd.Session
	out, errw  io.Writer
	cmdTimeout time.Duration
}

func (s *session) logf(format string, a ...any) {
	fmt.Fprintf(s.errw, "lab: "+format+"\n", a...)
}

func (s *session) up(ctx context.Context, o lab.Options, netOnly bool) error {
	s.logf("building redis-vip and rv-writer")
	if err := s.Build(); err != nil {
		return err
	}
	o.Logf = s.logf
	l, err := s.NewLab(o)
	if err != nil {
		return err
	}
	uctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if netOnly {
		return l.UpNet(uctx)
	}
	return l.Up(uctx)
}

func (s *session) banner(ctx context.Context) {
	fmt.Fprintf(s.out, "%s\n\n", s.Lab.Status(ctx))
	fmt.Fprintf(s.out, "The lab is up (files in %s). From another shell:\n", s.Dir)
	for _, h := range []string{"h1", "h2", "w", "client"} {
		fmt.Fprintf(s.out, "  %-6s %-15s ip netns exec %s bash\n", h, lab.Addr[h], s.Lab.NS(h))
	}
	fmt.Fprintf(s.out, "  ip netns exec %s redis-cli -h 127.0.0.1 -p 6379 info replication\n", s.Lab.NS("h1"))
	fmt.Fprintf(s.out, "  ip netns exec %s redis-cli -h %s -p 6379 ping    (through the VIP)\n", s.Lab.NS("client"), lab.VIP)
	fmt.Fprintf(s.out, "  ip netns exec %s %s --addr %s:6379 --duration 60s --progress 1s    (a writer)\n", s.Lab.NS("client"), s.Writer, lab.VIP)
	fmt.Fprintf(s.out, "Logs: %s/{h1,h2}/log/{redis,keepalived,redis-vip}.log\n", s.Dir)
	fmt.Fprintln(s.out, "Type commands, one per line (help lists them); quit, EOF or Ctrl-C tear the lab down.")
}

// loop reads and runs commands until EOF, quit or a signal.
func (s *session) loop(ctx context.Context, stdin io.Reader) {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	prompt := func() {}
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			prompt = func() { fmt.Fprint(s.out, "rv-lab> ") }
		}
	}
	for {
		prompt()
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			fmt.Fprintln(s.out)
			s.logf("signal: tearing the lab down")
			return
		case line, ok = <-lines:
		}
		if !ok {
			s.logf("end of input: tearing the lab down")
			return
		}
		args, err := split(line)
		if err != nil {
			fmt.Fprintf(s.out, "error: %v\n", err)
			continue
		}
		if len(args) == 0 || strings.HasPrefix(args[0], "#") {
			continue
		}
		if args[0] == "quit" || args[0] == "exit" {
			s.logf("quit: tearing the lab down")
			return
		}
		fmt.Fprintf(s.out, "> %s\n", strings.TrimSpace(line))
		res, err := s.do(ctx, args[0], args[1:])
		// A failed exec or cli's error already carries its output.
		if res = strings.TrimSpace(res); res != "" && (err == nil || !strings.Contains(err.Error(), res)) {
			fmt.Fprintln(s.out, res)
		}
		if err != nil {
			fmt.Fprintf(s.out, "error: %v\n", err)
		}
	}
}

// errUsage is a command used wrongly; the message is its usage.
type errUsage string

func (e errUsage) Error() string { return "usage: " + string(e) }

// help lists the commands.
const help = `commands (HOST is h1 or h2 unless said otherwise):
  status                          namespaces, processes, Redis roles, the VIP, the partition
  vip                             the host holding the VIP (h1, h2, none, h1+h2)
  start-redis HOST [--no-guard] [--no-persist]   guard first (as the systemd drop-in), unless --no-guard
  stop-redis HOST [--term|--kill|--stop|--cont]  default --term (graceful); --stop/--cont: SIGSTOP/SIGCONT
  start-keepalived HOST | stop-keepalived HOST
  isolate HOST | heal HOST        HOST (h1, h2, w) cut from everything, its link and processes up (cut: isolate)
  split | heal-split              h1 and h2 no longer reach each other; the client and w reach both
  poweroff HOST | poweron HOST    power loss of HOST (h1, h2, w); poweron starts no process
  heal-all                        every host on and on the bridge, no split (no process started)
  partition                       the current shape: isolated=... split=... off=...
  wait-settled [SECONDS]          wait (default 30) for one master holding the VIP and its replica; print it
  cli HOST ARGS...                redis-cli against HOST's Redis, from inside HOST
  exec HOST CMD...                CMD inside HOST's namespace (HOST: h1 h2 w client br)
  start-witness [-- CMD...]       redis-vip witness on 192.0.2.13:7379 in w (or CMD there)
  stop-witness [--kill]           SIGTERM (SIGKILL after 5 s), or SIGKILL at once
  help | quit
Arguments split on blanks; '...' and "..." quote.`

func (s *session) do(ctx context.Context, cmd string, args []string) (string, error) {
	l := s.Lab
	one := func(usage string) (string, error) {
		if len(args) != 1 {
			return "", errUsage(usage)
		}
		return args[0], nil
	}
	none := func() error {
		if len(args) != 0 {
			return errUsage(cmd)
		}
		return nil
	}
	switch cmd {
	case "help", "-h", "--help":
		return help, nil
	case "status":
		if err := none(); err != nil {
			return "", err
		}
		return l.Status(ctx), nil
	case "vip":
		if err := none(); err != nil {
			return "", err
		}
		return l.VIPHolder(ctx), nil
	case "start-redis":
		if len(args) < 1 {
			return "", errUsage("start-redis HOST [--no-guard] [--no-persist]")
		}
		var flags []lab.RedisFlag
		for _, a := range args[1:] {
			switch a {
			case "--no-guard":
				flags = append(flags, lab.NoGuard)
			case "--no-persist":
				flags = append(flags, lab.NoPersist)
			default:
				return "", fmt.Errorf("start-redis: unknown option %s", a)
			}
		}
		_, err := l.StartRedis(ctx, args[0], flags...) // guard's output is in the lab's log
		return "", err
	case "stop-redis":
		if len(args) < 1 || len(args) > 2 {
			return "", errUsage("stop-redis HOST [--term|--kill|--stop|--cont]")
		}
		mode := "--term"
		if len(args) == 2 {
			mode = args[1]
		}
		switch mode {
		case "--term":
			return "", l.StopRedis(ctx, args[0])
		case "--kill":
			return "", l.KillRedis(ctx, args[0])
		case "--stop":
			return "", l.FreezeRedis(args[0])
		case "--cont":
			return "", l.ThawRedis(args[0])
		}
		return "", errUsage("stop-redis HOST [--term|--kill|--stop|--cont]")
	case "start-keepalived", "stop-keepalived":
		h, err := one(cmd + " HOST")
		if err != nil {
			return "", err
		}
		if cmd == "start-keepalived" {
			return "", l.StartKeepalived(ctx, h)
		}
		return "", l.StopKeepalived(ctx, h)
	case "isolate", "cut", "heal", "poweroff", "poweron":
		h, err := one(cmd + " HOST (h1, h2 or w)")
		if err != nil {
			return "", err
		}
		switch cmd {
		case "isolate", "cut":
			return "", l.Isolate(ctx, h)
		case "heal":
			return "", l.Heal(ctx, h)
		case "poweroff":
			return "", l.PowerOff(ctx, h)
		}
		return "", l.PowerOn(ctx, h)
	case "split", "heal-split", "heal-all", "partition":
		if err := none(); err != nil {
			return "", err
		}
		switch cmd {
		case "split":
			return "", l.Split(ctx)
		case "heal-split":
			return "", l.HealSplit(ctx)
		case "heal-all":
			return "", l.HealAll(ctx)
		}
		shape, err := l.Partition(ctx)
		return shape.String(), err
	case "wait-settled":
		secs := 30
		if len(args) > 1 {
			return "", errUsage("wait-settled [SECONDS]")
		}
		if len(args) == 1 {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > 3600 {
				return "", errUsage("wait-settled [SECONDS] (1 to 3600)")
			}
			secs = n
		}
		st, err := l.WaitSettled(ctx, time.Duration(secs)*time.Second, nil)
		if err != nil {
			return "", err
		}
		m, _ := st.Settled()
		return m, nil
	case "cli":
		if len(args) < 2 {
			return "", errUsage("cli HOST ARGS...")
		}
		if args[0] != "h1" && args[0] != "h2" {
			return "", fmt.Errorf("cli: host must be h1 or h2, got %q", args[0])
		}
		cctx, cancel := context.WithTimeout(ctx, s.cmdTimeout)
		defer cancel()
		return l.Cli(cctx, args[0], args[1:]...)
	case "exec":
		if len(args) < 2 {
			return "", errUsage("exec HOST CMD...")
		}
		switch args[0] {
		case "h1", "h2", "w", "client", "br":
		default:
			return "", fmt.Errorf("exec: host must be h1, h2, w, client or br, got %q", args[0])
		}
		cctx, cancel := context.WithTimeout(ctx, s.cmdTimeout)
		defer cancel()
		return l.Exec(cctx, args[0], args[1:]...)
	case "start-witness":
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		} else if len(args) > 0 {
			return "", errUsage("start-witness [-- CMD...]")
		}
		return "", l.StartWitness(ctx, args...)
	case "stop-witness":
		switch {
		case len(args) == 0:
			return "", l.StopWitness(ctx)
		case len(args) == 1 && args[0] == "--kill":
			return "", l.KillWitness(ctx)
		case len(args) == 1 && args[0] == "--term":
			return "", l.StopWitness(ctx)
		}
		return "", errUsage("stop-witness [--kill]")
	}
	return "", fmt.Errorf("unknown command %q (help lists them)", cmd)
}

// split cuts a command line into words: blanks separate, '...' and "..."
// quote (no escapes).
func split(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
