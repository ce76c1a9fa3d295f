package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/guard"
	"github.com/redis-vip/redis-vip/keepalived"
	"github.com/redis-vip/redis-vip/switchover"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/wiring"
)

// Exit codes shared by every subcommand (check and report add their own
// meanings of 1; see the README).
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
)

// exitCode ends a command with a code and no further message: the command
// already printed what it had to say.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// errBadInput marks problems with what the operator gave us (wiring's
// preflight checks use the same one).
var errBadInput = wiring.ErrBadInput

// run builds the app, runs it and maps its error to an exit code, printing
// at most one line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "redis-vip: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	if isBadInput(err) {
		return exitBadInput
	}
	return exitFailed
}

func isBadInput(err error) bool {
	for _, target := range []error{errBadInput, config.ErrConfig, keepalived.ErrBadNotify, transition.ErrPeerIsLocal, transition.ErrConfig, guard.ErrConfig, switchover.ErrConfig, guard.ErrLocalRunning} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// devCommands are appended to the command list; files with a build tag add
// to it in init (gen-docs today).
var devCommands []*cli.Command

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "redis-vip",
		Usage:   "keep one virtual IP on the Redis that holds the data",
		Version: version,
		Description: "keepalived's companion for a two-node Redis master/replica pair behind a VIP:\n" +
			"check for vrrp_script, notify-* for its hooks, guard before redis-server starts;\n" +
			"run for the built-in VRRP mode without keepalived; report for cron and monitoring.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// --version prints what the version command prints (urfave's own
		// flag would say "redis-vip version X").
		HideVersion:    true,
		Flags:          []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version", DisableDefaultText: true}},
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: %v (see redis-vip %s --help)", errBadInput, err, c.Command.Name)
		},
		Commands: []*cli.Command{
			checkCommand(),
			notifyCommand("notify-master", transition.EventMaster),
			notifyCommand("notify-backup", transition.EventBackup),
			notifyCommand("notify-fault", transition.EventFault),
			notifyCommand("notify-stop", transition.EventStop),
			genericNotifyCommand(),
			notifyFIFOCommand(),
			guardCommand(),
			switchoverCommand(),
			reconcileCommand(),
			maintenanceCommand(),
			runCommand(),
			reportCommand(),
			versionCommand(),
			witnessCommand(),
		},
	}
	// Commands only some builds carry (see devCommands).
	app.Commands = append(app.Commands, devCommands...)
	for _, cmd := range app.Commands {
		if cmd.OnUsageError == nil { // report maps usage errors to Nagios UNKNOWN
			cmd.OnUsageError = app.OnUsageError
		}
	}
	app.Action = func(c *cli.Context) error {
		if c.Bool("version") {
			printVersion(c.App.Writer)
			return nil
		}
		if c.Args().Len() > 0 {
			return fmt.Errorf("%w: unknown command %q (see redis-vip --help)", errBadInput, c.Args().First())
		}
		return cli.ShowAppHelp(c)
	}
	return app
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version",
		UsageText: "redis-vip version",
		Action: func(c *cli.Context) error {
			printVersion(c.App.Writer)
			return nil
		},
	}
}

// printVersion is the output of both `redis-vip version` and
// `redis-vip --version`.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "redis-vip %s\n", version)
}
