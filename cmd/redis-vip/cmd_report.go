package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/report"
)

// reportFlag is one report-only flag with its environment variable.
type reportFlag struct {
	name, usage, def string
	isBool, isList   bool
}

func (f reportFlag) env() string {
	return "REDIS_VIP_REPORT_" + strings.ToUpper(strings.ReplaceAll(f.name, "-", "_"))
}

func reportFlagList() []reportFlag {
	return []reportFlag{
		{name: "all", usage: "report every configured instance (the default when there are several and no --instance)", isBool: true},
		{name: "format", usage: "text, json or prometheus", def: "text"},
		{name: "textfile-dir", usage: "also write the metrics atomically to DIR/" + report.TextfileName + " (node_exporter textfile collector)"},
		{name: "quiet", usage: "print nothing when every instance is OK (cron mails only on trouble)", isBool: true},
		{name: "vip", usage: "a VIP to look for, [INSTANCE=]IP[:PORT] (port: the instance's announce port); repeat, or comma-separate in the env var", isList: true},
		{name: "lag-bytes-warn", usage: "replication lag in bytes (KiB, MiB, GiB), for WARNING (0 off)", def: "1MiB"},
		{name: "lag-bytes-crit", usage: "replication lag in bytes (KiB, MiB, GiB), for CRITICAL (0 off)", def: "16MiB"},
		{name: "lag-seconds-warn", usage: "seconds since the replica heard from its master, for WARNING (0 off)", def: "30s"},
		{name: "lag-seconds-crit", usage: "seconds since the replica heard from its master, for CRITICAL (0 off)", def: "2m"},
		{name: "save-age-warn", usage: "age of the last RDB save with unsaved changes (RDB-only nodes), for WARNING (0 off)", def: "2h"},
		{name: "save-age-crit", usage: "age of the last RDB save with unsaved changes (RDB-only nodes), for CRITICAL (0 off)", def: "24h"},
		{name: "memory-warn", usage: "used memory in percent of maxmemory, for WARNING (0 off)", def: "90%"},
		{name: "memory-crit", usage: "used memory in percent of maxmemory, for CRITICAL (0 off)", def: "98%"},
		{name: "journal-window", usage: "failed, refused or timed-out transitions this recent are a WARNING (0: any in the journal)", def: "24h"},
		{name: "journal-entries", usage: "how many of the newest transitions to show", def: "5"},
	}
}

func reportFlags() []cli.Flag {
	var flags []cli.Flag
	for _, f := range reportFlagList() {
		env := []string{f.env()}
		switch {
		case f.isBool:
			flags = append(flags, &cli.BoolFlag{Name: f.name, EnvVars: env, Usage: f.usage})
		case f.isList:
			flags = append(flags, &cli.StringSliceFlag{Name: f.name, EnvVars: env, Usage: f.usage})
		default:
			flags = append(flags, &cli.StringFlag{Name: f.name, EnvVars: env, Usage: f.usage, Value: f.def})
		}
	}
	return flags
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "health report of the pair: both nodes, replication, persistence, VIP, journal (cron, systemd timer, Nagios, Prometheus)",
		UsageText: "redis-vip report [--instance NAME | --all] [--format text|json|prometheus] [--quiet]\n" +
			"                 [--textfile-dir DIR] [--vip [INSTANCE=]IP[:PORT]]... [--timeout 1s] [thresholds]\n\n" +
			"cron.d (mail only on trouble):\n  */10 * * * * redis-vip /usr/bin/redis-vip report --all --quiet --vip 192.0.2.10\n" +
			"node_exporter textfile collector (the systemd timer's):\n  redis-vip report --all --quiet --textfile-dir /var/lib/redis-vip-textfile\n\n" +
			"Reads only (INFO, CONFIG GET): a report never changes Redis. Each instance is read within\n" +
			"its timeouts.check (--timeout), both nodes at once, so a dead peer cannot stall it.\n" +
			"Exit codes (Nagios): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (the report itself failed,\n" +
			"e.g. unreadable configuration, a bad flag value, or the metrics file could not be written).\n" +
			"The text's first line is the Nagios status line, with perfdata after \"|\".",
		Flags: append(commonFlags(), reportFlags()...),
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			fmt.Fprintf(c.App.Writer, "UNKNOWN: redis-vip report: %v (see redis-vip report --help)\n", err)
			return exitCode(report.Unknown.ExitCode())
		},
		Action: runReport,
	}
}

// reportOptions are the report-only flags, checked.
type reportOptions struct {
	format      string
	textfileDir string
	quiet, all  bool
	vips        []vipSpec
	th          report.Thresholds
}

// vipSpec is one --vip: for one instance, or for every one ("").
type vipSpec struct{ instance, addr string }

func parseReportOptions(c *cli.Context) (reportOptions, error) {
	o := reportOptions{format: c.String("format"), textfileDir: c.String("textfile-dir"), quiet: c.Bool("quiet"), all: c.Bool("all"),
		th: report.DefaultThresholds()}
	switch o.format {
	case "text", "json", "prometheus":
	default:
		return o, fmt.Errorf("--format %q: want text, json or prometheus", o.format)
	}
	if o.textfileDir != "" {
		if st, err := os.Stat(o.textfileDir); err != nil || !st.IsDir() {
			return o, fmt.Errorf("--textfile-dir %s: not a directory", o.textfileDir)
		}
	}
	for _, v := range c.StringSlice("vip") {
		for _, one := range strings.Split(v, ",") {
			one = strings.TrimSpace(one)
			if one == "" {
				continue
			}
			spec := vipSpec{addr: one}
			if name, addr, ok := strings.Cut(one, "="); ok {
				spec = vipSpec{instance: name, addr: addr}
			}
			o.vips = append(o.vips, spec)
		}
	}
	var errs []string
	bytesFlag := func(name string, dst *int64) {
		n, err := report.ParseBytes(c.String(name))
		if err != nil {
			errs = append(errs, "--"+name+": "+err.Error())
		}
		*dst = n
	}
	secondsFlag := func(name string, dst *time.Duration) {
		d, err := report.ParseSeconds(c.String(name))
		if err != nil {
			errs = append(errs, "--"+name+": "+err.Error())
		}
		*dst = d
	}
	percentFlag := func(name string, dst *float64) {
		p, err := report.ParsePercent(c.String(name))
		if err != nil {
			errs = append(errs, "--"+name+": "+err.Error())
		}
		*dst = p
	}
	bytesFlag("lag-bytes-warn", &o.th.LagBytesWarn)
	bytesFlag("lag-bytes-crit", &o.th.LagBytesCrit)
	secondsFlag("lag-seconds-warn", &o.th.LagSecondsWarn)
	secondsFlag("lag-seconds-crit", &o.th.LagSecondsCrit)
	secondsFlag("save-age-warn", &o.th.SaveAgeWarn)
	secondsFlag("save-age-crit", &o.th.SaveAgeCrit)
	percentFlag("memory-warn", &o.th.MemoryWarn)
	percentFlag("memory-crit", &o.th.MemoryCrit)
	secondsFlag("journal-window", &o.th.JournalWindow)
	n, err := strconv.Atoi(c.String("journal-entries"))
	if err != nil || n < 0 {
		errs = append(errs, fmt.Sprintf("--journal-entries %q: want a number >= 0", c.String("journal-entries")))
	}
	o.th.JournalEntries = n
	if len(errs) > 0 {
		return o, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return o, nil
}

// runReport is the report's action: it never returns an error run() would
// map to exit 1 or 2; every failure of its own is UNKNOWN (3), printed in
// the chosen format.
func runReport(c *cli.Context) error {
	now := time.Now()
	host, _ := os.Hostname()
	rep := report.Report{GeneratedAt: now.UTC(), Host: host, Thresholds: report.DefaultThresholds()}
	opts, err := parseReportOptions(c)
	if err != nil {
		rep.Err = "redis-vip report: " + err.Error()
		return finishReport(c.App.Writer, c.App.ErrWriter, rep, reportOptions{format: opts.format}, zap.NewNop())
	}
	rep.Thresholds = opts.th
	cfg, src, log, flush, err := loadConfig(c)
	if err != nil {
		rep.Err = "redis-vip report: " + oneLineErr(err)
		return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, zap.NewNop())
	}
	defer flush()
	names := []string{c.String(config.SettingInstance.Flag)}
	if names[0] == "" && (opts.all || len(cfg.Instances) > 1) {
		names = cfg.Names()
	}
	for _, v := range opts.vips {
		if _, ok := cfg.Instances[v.instance]; v.instance != "" && !ok {
			rep.Err = fmt.Sprintf("redis-vip report: --vip %s=%s: unknown instance %q (configured: %s)", v.instance, v.addr, v.instance, strings.Join(cfg.Names(), ", "))
			return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
		}
	}
	// Select (which applies flags and env vars) runs one instance at a time;
	// the reading runs for all at once, each within its own timeouts.check.
	type job struct {
		inst *config.Instance
		vips []string
	}
	jobs := make([]job, len(names))
	rep.Instances = make([]report.Instance, len(names))
	for i, name := range names {
		inst, err := cfg.Select(name, src)
		if err != nil {
			if name == "" && len(cfg.Instances) == 0 {
				rep.Err = "redis-vip report: " + oneLineErr(err)
				return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
			}
			rep.Instances[i] = unknownInstance(name, err, opts.th, now)
			continue
		}
		var vips []string
		for _, v := range opts.vips {
			if v.instance != "" && v.instance != inst.Name {
				continue
			}
			addr, err := report.VIPAddr(v.addr, inst.Announce)
			if err != nil {
				rep.Err = "redis-vip report: --vip: " + err.Error()
				return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
			}
			vips = append(vips, addr)
		}
		jobs[i] = job{inst: inst, vips: vips}
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.inst == nil {
			continue
		}
		wg.Add(1)
		go func(i int, j job) {
			defer wg.Done()
			rep.Instances[i] = reportOne(c.Context, j.inst, j.vips, opts.th)
		}(i, j)
	}
	wg.Wait()
	return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
}

// reportOne reads one instance within its timeouts.check.
func reportOne(ctx context.Context, inst *config.Instance, vips []string, th report.Thresholds) report.Instance {
	src, closeAll, err := report.ForInstance(inst, vips)
	if err != nil {
		return unknownInstance(inst.Name, err, th, time.Now())
	}
	defer closeAll()
	ctx, cancel := context.WithTimeout(ctx, inst.Timeouts.Check)
	defer cancel()
	return report.Gather(ctx, src, th)
}

func unknownInstance(name string, err error, th report.Thresholds, now time.Time) report.Instance {
	in := report.Instance{Name: name, Err: oneLineErr(err)}
	report.Evaluate(&in, th, now)
	return in
}

func oneLineErr(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// finishReport writes the metrics file and the output, logs the verdict
// and returns the Nagios exit code. A metrics file that cannot be written
// makes the verdict at least UNKNOWN, and the output says why (the status
// line, the JSON's textfile_error, stderr for the Prometheus format).
func finishReport(stdout, stderr io.Writer, rep report.Report, opts reportOptions, log *zap.Logger) error {
	if opts.textfileDir != "" {
		if err := report.WriteTextfile(opts.textfileDir, rep); err != nil {
			rep.TextfileErr = oneLineErr(err)
			if opts.format == "prometheus" {
				fmt.Fprintf(stderr, "redis-vip report: %s\n", rep.TextfileErr)
			}
		}
	}
	status := rep.Status()
	log.Info("report", zap.String("status", status.String()), zap.String("headline", report.Headline(rep)))
	if !(opts.quiet && status == report.OK) {
		var err error
		switch opts.format {
		case "json":
			err = report.RenderJSON(stdout, rep)
		case "prometheus":
			err = report.RenderPrometheus(stdout, rep)
		default:
			err = report.RenderText(stdout, rep)
		}
		if err != nil {
			fmt.Fprintf(stderr, "redis-vip report: %s\n", oneLineErr(err))
			status = report.Worse(status, report.Unknown)
		}
	}
	if status != report.OK {
		return exitCode(status.ExitCode())
	}
	return nil
}
