//go:build gendocs

// The man page generator. It is only in a build with the gendocs tag and
// without urfave_cli_no_docs (which make build and build-deb.sh use, so
// that urfave/cli's documentation code and its Markdown-to-roff converter
// stay out of the shipped binary):
//
//	go run -tags gendocs ./cmd/redis-vip gen-docs man >redis-vip.1
//
// The page is urfave/cli's own Markdown of the app (every visible command,
// its usage text and its flags, as --help shows them) with the sections a
// man page needs that the app does not describe (environment, files, exit
// status), rendered to roff by go-md2man, the converter urfave's ToMan uses.

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// devCommands is app.go's hook for commands that only some builds carry.
func init() { devCommands = append(devCommands, genDocsCommand()) }

func genDocsCommand() *cli.Command {
	return &cli.Command{
		Name:      "gen-docs",
		Hidden:    true,
		Usage:     "write the man page (roff) or its Markdown source to stdout",
		UsageText: "redis-vip gen-docs man|markdown",
		Action: func(c *cli.Context) error {
			md, err := manMarkdown(c.App)
			if err != nil {
				return err
			}
			switch kind := c.Args().First(); {
			case kind == "man" && c.Args().Len() == 1:
				_, err = c.App.Writer.Write(md2man.Render([]byte(md)))
			case kind == "markdown" && c.Args().Len() == 1:
				_, err = io.WriteString(c.App.Writer, md)
			default:
				return fmt.Errorf("%w: gen-docs takes man or markdown", errBadInput)
			}
			return err
		},
	}
}

// manMarkdown is redis-vip(1) in go-md2man's Markdown: a title line, then
// urfave's ToMarkdown, then the sections below.
func manMarkdown(app *cli.App) (string, error) {
	body, err := app.ToMarkdown()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%% REDIS-VIP 1 \"\" \"redis-vip %s\" \"User Commands\"\n\n", app.Version)
	b.WriteString(strings.TrimRight(body, "\n") + "\n\n")
	b.WriteString("# ENVIRONMENT\n\n")
	b.WriteString("A flag wins over its environment variable, and both win over the configuration file.\n\n")
	for _, e := range envVars(app) {
		fmt.Fprintf(&b, "**%s**: %s\n\n", e[0], mdEscape(e[1]))
	}
	b.WriteString("**REDIS_VIP_PASSWORD**: the Redis password; never a flag, since ps would show it " +
		"(password_file or password_env in the file are the usual ways)\n\n")
	b.WriteString(manTail)
	return b.String(), nil
}

// envVars lists every visible flag's environment variables with the flag's
// usage, once each, in the order the commands list them.
func envVars(app *cli.App) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, c := range app.VisibleCommands() {
		for _, f := range c.VisibleFlags() {
			g, ok := f.(cli.DocGenerationFlag)
			if !ok {
				continue
			}
			for _, e := range g.GetEnvVars() {
				if !seen[e] {
					seen[e] = true
					out = append(out, [2]string{e, g.GetUsage()})
				}
			}
		}
	}
	return out
}

// mdEscape keeps Markdown from reading usage text as emphasis.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`").Replace(s)
}

// manTail is what the app itself does not say: the files and the exit
// codes every command shares (each command's usage text lists its own).
const manTail = `# FILES

**/etc/redis-vip/redis-vip.yml**: the configuration (owner root, group redis-vip, mode 0640); --config or REDIS\_VIP\_CONFIG name another

**/var/lib/redis-vip/**: per-instance lock, journal (one JSON line per transition) and last state

**/var/lib/redis-vip/backups/**: copies of datasets taken before they are discarded

**/var/log/redis-vip/**: the log, when log.file points there

**/usr/share/doc/redis-vip/examples/**: keepalived configurations for both hosts, the redis-server drop-in, cron and an annotated configuration

# EXIT STATUS

0 success; 1 failed, refused or (for check) not eligible to hold the VIP; 2 bad input (configuration, flags or arguments), and Redis is left untouched. report uses the Nagios codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

# SEE ALSO

keepalived(8), keepalived.conf(5), redis-server(1), systemd.service(5)
`
