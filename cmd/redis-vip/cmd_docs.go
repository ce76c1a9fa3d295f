package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/config"
)

// Shell completion is urfave/cli's own: the bash and zsh scripts in
// packaging/completion run
//
//	redis-vip __complete WORD... [CUR] --generate-bash-completion
//
// and offer what it prints: the commands, a command's flags, and after
// --instance the instance names of the configuration the line names
// (--config, REDIS_VIP_CONFIG or the default path), read by the config
// loader. The hidden __complete command runs the app again with urfave's
// completion switched on; the man page generator is not in this binary
// (gendocs.go, built with -tags gendocs).
//
// The wrapper stays, rather than switching completion on in newApp: it is
// what makes a completion request unable to run a command (urfave runs
// one when "--" precedes its flag), and it keeps the completion-only
// settings (hidden help commands, instance completion) out of the app
// that operators and keepalived run.
func init() { devCommands = append(devCommands, completeCommand()) }

func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            "__complete",
		Hidden:          true,
		HideHelp:        true,
		SkipFlagParsing: true,
		Usage:           "print the completions of a command line (the shell completion scripts run it)",
		UsageText:       "redis-vip __complete WORD... [CUR] " + completionFlag,
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			// Completion never runs a command: urfave runs one when the
			// line lacks its flag at the end or holds "--" anywhere.
			n := len(args)
			if n == 0 || args[n-1] != completionFlag {
				return fmt.Errorf("%w: __complete: the last word must be %s", errBadInput, completionFlag)
			}
			args = slices.Clone(args)
			for i, a := range args[:n-1] {
				if a == "--" {
					if i < n-2 {
						return nil // only arguments follow "--": nothing to offer
					}
					args[i] = "-" // completing "--" itself: every flag
				}
			}
			app := newApp(c.App.Writer, c.App.ErrWriter)
			app.EnableBashCompletion = true
			prepareCompletion(app.Commands)
			return app.RunContext(c.Context, append([]string{c.App.Name}, args...))
		},
	}
}

// completionFlag is urfave/cli's: the last word of a completion request.
const completionFlag = "--generate-bash-completion"

// prepareCompletion sets each command's completion, and hides urfave's
// help subcommand, which it would otherwise offer as an argument of every
// command.
func prepareCompletion(cmds []*cli.Command) {
	for _, cmd := range cmds {
		cmd.HideHelpCommand = true
		cmd.BashComplete = completeInstances(cmd)
		prepareCompletion(cmd.Subcommands)
	}
}

// completeInstances is urfave's completion of cmd's flags, and the instance
// names after --instance. Like urfave's own, it reads the word being
// completed from os.Args: the one before --generate-bash-completion.
func completeInstances(cmd *cli.Command) cli.BashCompleteFunc {
	flags := cli.DefaultCompleteWithFlags(cmd)
	instance := "--" + config.SettingInstance.Flag
	return func(c *cli.Context) {
		last := ""
		if n := len(os.Args); n > 2 {
			last = os.Args[n-2]
		}
		prefix := ""
		switch {
		case last == instance:
		case strings.HasPrefix(last, instance+"="):
			prefix = instance + "="
		default:
			flags(c)
			return
		}
		cfg, err := config.Load(source(c))
		if err != nil {
			return // nothing to offer: an unreadable or broken file
		}
		for _, name := range cfg.Names() {
			fmt.Fprintln(c.App.Writer, prefix+name)
		}
	}
}
