package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/wiring"
)

// reportFlags are the report's own flags: what to report and how, then the
// thresholds (package report's list), each with its
// REDIS_VIP_REPORT_<NAME> environment variable.
func reportFlags() []cli.Flag {
	env := func(name string) []string {
		return []string{"REDIS_VIP_REPORT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	}
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "all", EnvVars: env("all"), Usage: "report every configured instance (the default when there are several and no --instance)"},
		&cli.StringFlag{Name: "format", EnvVars: env("format"), Usage: "text, json or prometheus", Value: "text"},
		&cli.StringFlag{Name: "textfile-dir", EnvVars: env("textfile-dir"), Usage: "also write the metrics atomically to DIR/" + report.TextfileName + " (node_exporter textfile collector)"},
		&cli.BoolFlag{Name: "quiet", EnvVars: env("quiet"), Usage: "print nothing when every instance is OK (cron mails only on trouble)"},
		&cli.StringSliceFlag{Name: "vip", EnvVars: env("vip"), Usage: "a VIP to look for, [INSTANCE=]IP[:PORT] (port: the instance's announce port); repeat, or comma-separate in the env var"},
	}
	for _, f := range report.ThresholdFlags() {
		flags = append(flags, &cli.StringFlag{Name: f.Name, EnvVars: env(f.Name), Usage: f.Usage, Value: f.Default})
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
	vips        []report.VIPSpec
	th          report.Thresholds
}

func parseReportOptions(c *cli.Context) (reportOptions, error) {
	o := reportOptions{format: c.String("format"), textfileDir: c.String("textfile-dir"), quiet: c.Bool("quiet"), all: c.Bool("all"),
		vips: report.ParseVIPSpecs(c.StringSlice("vip")), th: report.DefaultThresholds()}
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
	th, err := report.ParseThresholds(c.String)
	if err != nil {
		return o, err
	}
	o.th = th
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
	cfg, log, flush, err := loadConfig(c)
	if err != nil {
		rep.Err = "redis-vip report: " + oneLineErr(err)
		return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, zap.NewNop())
	}
	defer flush()
	names := []string{c.String(config.SettingInstance.Flag)}
	if names[0] == "" && (opts.all || len(cfg.Names()) > 1) {
		names = cfg.Names()
	}
	for _, v := range opts.vips {
		if v.Instance != "" && !slices.Contains(cfg.Names(), v.Instance) {
			rep.Err = fmt.Sprintf("redis-vip report: --vip %s=%s: unknown instance %q (configured: %s)", v.Instance, v.Addr, v.Instance, strings.Join(cfg.Names(), ", "))
			return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
		}
	}
	// The reading runs for all at once, each within its own timeouts.check.
	type job struct {
		inst config.Instance
		vips []string
		ok   bool
	}
	jobs := make([]job, len(names))
	rep.Instances = make([]report.Instance, len(names))
	for i, name := range names {
		inst, err := cfg.Instance(name)
		if err != nil {
			if name == "" && len(cfg.Names()) == 0 {
				rep.Err = "redis-vip report: " + oneLineErr(err)
				return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
			}
			rep.Instances[i] = unknownInstance(name, err, opts.th, now)
			continue
		}
		vips, err := report.VIPsFor(opts.vips, inst.Name, inst.Announce.String())
		if err != nil {
			rep.Err = "redis-vip report: --vip: " + err.Error()
			return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
		}
		jobs[i] = job{inst: inst, vips: vips, ok: true}
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		if j.ok {
			wg.Go(func() { rep.Instances[i] = reportOne(c.Context, j.inst, j.vips, opts.th) })
		}
	}
	wg.Wait()
	return finishReport(c.App.Writer, c.App.ErrWriter, rep, opts, log)
}

// reportOne reads one instance within its timeouts.check.
func reportOne(ctx context.Context, inst config.Instance, vips []string, th report.Thresholds) report.Instance {
	src, closeAll, err := wiring.ReportSources(inst, vips)
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
