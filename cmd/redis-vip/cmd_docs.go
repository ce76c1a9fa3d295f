package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/redis-vip/redis-vip/config"
)

// The hidden gen-docs command writes the man page and the bash and zsh
// completion scripts from the app's own commands and flags, so they cannot
// drift from --help. scripts/build-deb.sh and scripts/install.sh run it; it
// does not need urfave's documentation code (built out by the
// urfave_cli_no_docs tag), only the Commands and Flags.

func init() { devCommands = append(devCommands, docsCommand()) }

func docsCommand() *cli.Command {
	return &cli.Command{
		Name:      "gen-docs",
		Hidden:    true,
		Usage:     "write the man page or a shell completion script to stdout (for packagers)",
		UsageText: "redis-vip gen-docs [--date YYYY-MM-DD] man|bash|zsh",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "date", Usage: "date on the man page, YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else today)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return fmt.Errorf("%w: gen-docs takes one of man, bash, zsh", errBadInput)
			}
			cmds := docModel(c.App)
			switch kind := c.Args().First(); kind {
			case "man":
				date, err := manDate(c.String("date"), os.Getenv("SOURCE_DATE_EPOCH"), time.Now())
				if err != nil {
					return err
				}
				return writeMan(c.App.Writer, c.App, cmds, date)
			case "bash":
				return writeBash(c.App.Writer, c.App, cmds)
			case "zsh":
				return writeZsh(c.App.Writer, c.App, cmds)
			default:
				return fmt.Errorf("%w: gen-docs %q: want man, bash or zsh", errBadInput, kind)
			}
		},
	}
}

// manDate picks the man page's date: the flag, else SOURCE_DATE_EPOCH (for
// reproducible packages), else now.
func manDate(flag, epoch string, now time.Time) (string, error) {
	if flag != "" {
		if _, err := time.Parse("2006-01-02", flag); err != nil {
			return "", fmt.Errorf("%w: --date %q: want YYYY-MM-DD", errBadInput, flag)
		}
		return flag, nil
	}
	if epoch != "" {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%w: SOURCE_DATE_EPOCH %q: %w", errBadInput, epoch, err)
		}
		now = time.Unix(sec, 0)
	}
	return now.UTC().Format("2006-01-02"), nil
}

// valueKind says what a flag's value is, for completion.
type valueKind int

const (
	valueNone     valueKind = iota // a switch: no value
	valueFree                      // anything: no completion
	valueFile                      // a file name
	valueDir                       // a directory
	valueInstance                  // an instance name from the configuration file
	valueChoice                    // one of docFlag.choices
)

// docFlag is one flag as the man page and the completions show it.
type docFlag struct {
	long, short []string // names without dashes: long ones, one-letter ones
	usage       string
	def         string // default shown on the man page ("" for none)
	env         []string
	repeat      bool // may be given more than once
	kind        valueKind
	choices     []string
}

// key identifies a flag across commands (same names and same meaning).
func (f docFlag) key() string {
	return strings.Join(f.long, ",") + "|" + strings.Join(f.short, ",") + "|" + f.usage
}

// spellings are the flag's names with their dashes, long ones first.
func (f docFlag) spellings() []string {
	var out []string
	for _, n := range f.long {
		out = append(out, "--"+n)
	}
	for _, n := range f.short {
		out = append(out, "-"+n)
	}
	return out
}

// placeholder is the word the man page shows for the value.
func (f docFlag) placeholder() string {
	switch f.kind {
	case valueFile:
		return "FILE"
	case valueDir:
		return "DIR"
	case valueInstance:
		return "NAME"
	case valueChoice:
		return strings.Join(f.choices, "|")
	}
	return "VALUE"
}

// docCommand is one visible command.
type docCommand struct {
	name, usage string
	synopsis    []string // the first paragraph of UsageText
	body        string   // the rest of UsageText: examples, exit codes
	flags       []docFlag
	args        []docArg
}

// docArg is a positional argument named in the synopsis.
type docArg struct {
	name     string
	optional bool
	file     bool
}

// docModel collects the visible commands and their flags.
func docModel(app *cli.App) []docCommand {
	var out []docCommand
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		d := docCommand{name: c.Name, usage: c.Usage}
		text := strings.TrimSpace(c.UsageText)
		if text == "" {
			text = "redis-vip " + c.Name + " [options]"
		}
		head, body, _ := strings.Cut(text, "\n\n")
		d.synopsis = strings.Split(head, "\n")
		d.body = body
		d.args = synopsisArgs(c.Name, head)
		for _, f := range c.Flags {
			if df, ok := describeFlag(f); ok {
				d.flags = append(d.flags, df)
			}
		}
		out = append(out, d)
	}
	return out
}

// describeFlag reads one urfave flag; ok is false for hidden flags and help.
func describeFlag(f cli.Flag) (docFlag, bool) {
	if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
		return docFlag{}, false
	}
	var d docFlag
	for _, n := range f.Names() {
		if len(n) == 1 {
			d.short = append(d.short, n)
		} else {
			d.long = append(d.long, n)
		}
	}
	if len(d.long) > 0 && d.long[0] == "help" {
		return docFlag{}, false
	}
	takes := true
	if g, ok := f.(cli.DocGenerationFlag); ok {
		takes = g.TakesValue()
		d.usage = g.GetUsage()
		d.env = g.GetEnvVars()
		if takes {
			d.def = g.GetValue()
		}
	}
	if s, ok := f.(cli.DocGenerationSliceFlag); ok && s.IsSliceFlag() {
		d.repeat, d.def = true, ""
	}
	if strings.Contains(d.usage, "(default") {
		d.def = "" // the usage already says it
	}
	d.def = strings.Trim(d.def, `"`)
	d.kind = valueNone
	if takes {
		name := ""
		if len(d.long) > 0 {
			name = d.long[0]
		}
		d.kind, d.choices = classify(name, d.usage)
	}
	return d, true
}

var (
	// wordList matches a list of plain values: "a, b or c", "a, b, c".
	wordList      = regexp.MustCompile(`^[a-z][a-z0-9-]*((, | or )[a-z][a-z0-9-]*)+$`)
	listSep       = regexp.MustCompile(`, | or `)
	parenthesized = regexp.MustCompile(`\s*\([^)]*\)`)
	// synopsisOpt is an optional part of a synopsis: [--flag ...] or [WORD].
	synopsisOpt = regexp.MustCompile(`\[[^\[\]]*(\[[^\[\]]*\][^\[\]]*)*\](\.\.\.)?`)
	upperWord   = regexp.MustCompile(`^[A-Z][A-Z_]*$`)
)

// classify guesses what a flag's value is from its name and usage: paths
// by name (--config, --*-file, --*-dir, ...), instance names, and a fixed
// set of values when the usage is (or ends with) a plain list of words.
func classify(name, usage string) (valueKind, []string) {
	switch {
	case name == "instance":
		return valueInstance, nil
	case name == "config", strings.HasSuffix(name, "-file"), strings.HasSuffix(name, "-conf"),
		strings.HasSuffix(name, "-include"), strings.HasPrefix(usage, "file "):
		return valueFile, nil
	case strings.HasSuffix(name, "-dir"):
		return valueDir, nil
	}
	// The choices follow the last ": " outside parentheses ("(default: X)"
	// has one too).
	list := strings.TrimSpace(parenthesized.ReplaceAllString(usage, ""))
	if i := strings.LastIndex(list, ": "); i >= 0 {
		list = list[i+2:]
	}
	if wordList.MatchString(list) {
		return valueChoice, listSep.Split(list, -1)
	}
	return valueFree, nil
}

// synopsisArgs finds the positional arguments in a synopsis such as
// "redis-vip notify [--instance NAME] TYPE NAME STATE [PRIORITY]".
func synopsisArgs(cmd, head string) []docArg {
	line, _, _ := strings.Cut(head, "\n")
	line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "redis-vip "+cmd))
	var args []docArg
	for _, opt := range synopsisOpt.FindAllString(line, -1) {
		inner := strings.TrimSuffix(strings.TrimSuffix(opt, "..."), "]")[1:]
		if upperWord.MatchString(inner) {
			args = append(args, docArg{name: inner, optional: true})
		}
	}
	var required []docArg
	for _, w := range strings.Fields(synopsisOpt.ReplaceAllString(line, " ")) {
		if upperWord.MatchString(w) {
			required = append(required, docArg{name: w})
		}
	}
	args = append(required, args...)
	for i := range args {
		switch args[i].name {
		case "FIFO", "FILE", "PATH":
			args[i].file = true
		}
	}
	return args
}

// commonFlagKeys returns the flags shared by at least two commands: the man
// page lists them once.
func commonFlagKeys(cmds []docCommand) map[string]bool {
	count := map[string]int{}
	for _, c := range cmds {
		for _, f := range c.flags {
			count[f.key()]++
		}
	}
	common := map[string]bool{}
	for k, n := range count {
		if n >= 2 {
			common[k] = true
		}
	}
	return common
}

// roff escapes text for a man page line (not a request).
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`, "'", `\(aq`, "`", `\(ga`, `"`, `\(dq`).Replace(s)
	if strings.HasPrefix(s, ".") {
		s = `\&` + s
	}
	return s
}

// roffFlag renders "--name VALUE, --alias VALUE" in bold and italics.
func roffFlag(f docFlag) string {
	var parts []string
	for _, s := range f.spellings() {
		p := `\fB` + roff(s) + `\fR`
		if f.kind != valueNone {
			p += ` \fI` + roff(f.placeholder()) + `\fR`
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

func writeRoffFlags(w *strings.Builder, flags []docFlag) {
	for _, f := range flags {
		w.WriteString(".TP\n" + roffFlag(f) + "\n" + roff(f.usage))
		if f.def != "" {
			w.WriteString(" (default " + roff(f.def) + ")")
		}
		if f.repeat {
			w.WriteString("; may be repeated")
		}
		if len(f.env) > 0 {
			w.WriteString(".\nEnvironment: \\fB" + roff(strings.Join(f.env, ", ")) + "\\fR")
		}
		w.WriteString(".\n")
	}
}

func writeRoffLines(w *strings.Builder, text string) {
	w.WriteString(".PP\n.nf\n")
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			w.WriteString("\n") // .nf keeps blank lines
			continue
		}
		w.WriteString(roff(l) + "\n")
	}
	w.WriteString(".fi\n")
}

// writeMan writes redis-vip(1).
func writeMan(out io.Writer, app *cli.App, cmds []docCommand, date string) error {
	common := commonFlagKeys(cmds)
	var commonFlags []docFlag
	seen := map[string]bool{}
	for _, c := range cmds {
		for _, f := range c.flags {
			if common[f.key()] && !seen[f.key()] {
				seen[f.key()] = true
				commonFlags = append(commonFlags, f)
			}
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, ".\\\" Generated by `redis-vip gen-docs man`; do not edit.\n")
	fmt.Fprintf(&w, ".TH REDIS\\-VIP 1 %q %q \"User Commands\"\n", date, "redis-vip "+app.Version)
	w.WriteString(".nh\n.ad l\n")
	w.WriteString(".SH NAME\nredis\\-vip \\- " + roff(app.Usage) + "\n")
	w.WriteString(".SH SYNOPSIS\n")
	for _, c := range cmds {
		w.WriteString(".br\n.B redis\\-vip " + roff(c.name) + "\n")
		var rest []string
		if len(c.flags) > 0 {
			rest = append(rest, "[\\fIoptions\\fR]")
		}
		for _, a := range c.args {
			s := `\fI` + roff(a.name) + `\fR`
			if a.optional {
				s = "[" + s + "]"
			}
			rest = append(rest, s)
		}
		if len(rest) > 0 {
			w.WriteString(strings.Join(rest, " ") + "\n")
		}
	}
	w.WriteString(".br\n.B redis\\-vip\n\\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR\n")
	w.WriteString(".SH DESCRIPTION\n")
	for _, l := range strings.Split(app.Description, "\n") {
		w.WriteString(roff(l) + "\n")
	}
	w.WriteString(".PP\nEvery command reads one YAML configuration file, \\fI" + roff(config.DefaultPath) +
		"\\fR unless \\fB\\-\\-config\\fR or \\fBREDIS_VIP_CONFIG\\fR says otherwise; a flag or an environment variable " +
		"overrides the file for the instance chosen with \\fB\\-\\-instance\\fR. " +
		"An annotated example is in \\fI/usr/share/doc/redis\\-vip/examples/redis\\-vip.yml\\fR.\n")
	w.WriteString(".SH COMMANDS\n")
	for _, c := range cmds {
		w.WriteString(".SS \"redis\\-vip " + roff(c.name) + "\"\n" + roff(c.usage) + ".\n")
		writeRoffLines(&w, strings.Join(c.synopsis, "\n"))
		if c.body != "" {
			writeRoffLines(&w, c.body)
		}
		var own []docFlag
		var shared []string
		for _, f := range c.flags {
			if common[f.key()] {
				shared = append(shared, `\fB`+roff(f.spellings()[0])+`\fR`)
				continue
			}
			own = append(own, f)
		}
		if len(own) > 0 {
			w.WriteString(".PP\nOptions of \\fB" + roff(c.name) + "\\fR:\n")
			writeRoffFlags(&w, own)
		}
		switch {
		case len(shared) == 0:
		case len(shared) == len(commonFlags):
			w.WriteString(".PP\nIt also takes the common options below.\n")
		default:
			w.WriteString(".PP\nIt also takes " + strings.Join(shared, ", ") + " (see COMMON OPTIONS).\n")
		}
	}
	if len(commonFlags) > 0 {
		w.WriteString(".SH COMMON OPTIONS\nTaken by the commands that read the configuration; " +
			"each per-instance option overrides the file for the chosen instance.\n")
		writeRoffFlags(&w, commonFlags)
	}
	w.WriteString(".SH ENVIRONMENT\nEvery option has an environment variable, named with it above; " +
		"a flag wins over its variable, and both win over the file.\n")
	w.WriteString(".TP\n\\fBREDIS_VIP_PASSWORD\\fR\nThe Redis password. It is never a flag, since \\fBps\\fR would show it; " +
		"\\fBpassword_file\\fR or \\fBpassword_env\\fR in the file are the usual ways.\n")
	w.WriteString(".SH FILES\n")
	files := [][2]string{
		{config.DefaultPath, "the configuration (owner root, group redis-vip, mode 0640)"},
		{settingDefault("state_dir"), "state directory: per-instance lock, journal (one JSON line per transition) and last state"},
		{settingDefault("backup_dir"), "copies of datasets taken before they are discarded"},
		{"/var/log/redis-vip/", "the log, when log.file points there"},
		{settingDefault("guard.include"), "the file guard writes before redis-server starts"},
		{"/usr/share/doc/redis-vip/examples/", "keepalived configurations for both hosts, the redis-server drop-in, cron and the annotated configuration"},
	}
	for _, f := range files {
		if f[0] == "" {
			continue
		}
		w.WriteString(".TP\n\\fI" + roff(f[0]) + "\\fR\n" + roff(f[1]) + ".\n")
	}
	w.WriteString(".SH EXIT STATUS\n0 success; 1 failed, refused or (for \\fBcheck\\fR) not eligible to hold the VIP; " +
		"2 bad input: configuration, flags or arguments, and Redis is left untouched. " +
		"\\fBreport\\fR uses the Nagios codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. " +
		"Each command above lists its own.\n")
	w.WriteString(".SH SEE ALSO\n.BR keepalived (8),\n.BR keepalived.conf (5),\n.BR redis\\-server (1),\n.BR systemd.service (5)\n")
	_, err := io.WriteString(out, w.String())
	return err
}

// settingDefault is the default of a per-instance setting, "" if unknown.
func settingDefault(key string) string {
	for _, s := range config.Settings {
		if s.Key == key {
			return s.Default
		}
	}
	return ""
}

// shellQuote quotes s for bash and zsh single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// allFlags lists every distinct flag of every command, first seen first.
func allFlags(cmds []docCommand) []docFlag {
	var out []docFlag
	seen := map[string]bool{}
	for _, c := range cmds {
		for _, f := range c.flags {
			fresh := false
			for _, s := range f.spellings() {
				if !seen[s] {
					seen[s], fresh = true, true
				}
			}
			if fresh {
				out = append(out, f)
			}
		}
	}
	return out
}

// instancesAwk prints the keys under "instances:" in a redis-vip.yml: the
// instance names. Both completion scripts use it.
const instancesAwk = `/^instances:/ { inside = 1; next } ` +
	`inside && /^[^[:space:]#]/ { inside = 0 } ` +
	`inside && /^[[:space:]]+[A-Za-z0-9_.-]+:/ { ` +
	`match($0, /^[[:space:]]+/); ` +
	`if (ind == 0) ind = RLENGTH; ` +
	`if (RLENGTH == ind) { s = $0; sub(/^[[:space:]]+/, "", s); sub(/:.*/, "", s); print s } }`

// writeBash writes a bash completion script that needs nothing but bash
// (bash-completion's helpers are not required).
func writeBash(out io.Writer, app *cli.App, cmds []docCommand) error {
	var w strings.Builder
	w.WriteString("# bash completion for redis-vip " + app.Version + "\n")
	w.WriteString("# Generated by `redis-vip gen-docs bash`; do not edit.\n\n")
	w.WriteString("_redis_vip_instances() {\n")
	w.WriteString("    local conf=${1:-" + config.DefaultPath + "}\n")
	w.WriteString("    [[ -r $conf ]] || return 0\n")
	w.WriteString("    awk " + shellQuote(instancesAwk) + " \"$conf\" 2>/dev/null\n}\n\n")
	w.WriteString("_redis_vip() {\n")
	w.WriteString("    local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= conf= i w\n")
	w.WriteString("    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	w.WriteString("    # COMP_WORDBREAKS splits --flag=value at the '='.\n")
	w.WriteString("    if [[ $cur == = ]]; then cur=; elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then prev=${COMP_WORDS[COMP_CWORD-2]}; fi\n")
	w.WriteString("    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	w.WriteString("        w=${COMP_WORDS[i]}\n")
	w.WriteString("        case $w in\n")
	w.WriteString("        --config) conf=${COMP_WORDS[i+1]}; [[ $conf == = ]] && conf=${COMP_WORDS[i+2]} ;;\n")
	w.WriteString("        -*|=) ;;\n")
	w.WriteString("        *) [[ -z $cmd ]] && cmd=$w ;;\n")
	w.WriteString("        esac\n    done\n")
	w.WriteString("    conf=${conf:-${REDIS_VIP_CONFIG:-}}\n")
	w.WriteString("    COMPREPLY=()\n")
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	w.WriteString("    if [[ -z $cmd ]]; then\n")
	w.WriteString("        COMPREPLY=($(compgen -W " + shellQuote(strings.Join(names, " ")+" --help -h --version -v") + " -- \"$cur\"))\n")
	w.WriteString("        return 0\n    fi\n")
	// Values of flags.
	byKind := map[valueKind][]string{}
	var choiceCases []string
	for _, f := range allFlags(cmds) {
		switch f.kind {
		case valueChoice:
			choiceCases = append(choiceCases, "    "+strings.Join(f.spellings(), "|")+") COMPREPLY=($(compgen -W "+
				shellQuote(strings.Join(f.choices, " "))+" -- \"$cur\")); return 0 ;;\n")
		case valueNone:
		default:
			byKind[f.kind] = append(byKind[f.kind], f.spellings()...)
		}
	}
	w.WriteString("    case $prev in\n")
	if s := byKind[valueFile]; len(s) > 0 {
		w.WriteString("    " + strings.Join(s, "|") + ") compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;\n")
	}
	if s := byKind[valueDir]; len(s) > 0 {
		w.WriteString("    " + strings.Join(s, "|") + ") compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- \"$cur\")); return 0 ;;\n")
	}
	if s := byKind[valueInstance]; len(s) > 0 {
		w.WriteString("    " + strings.Join(s, "|") + ") COMPREPLY=($(compgen -W \"$(_redis_vip_instances \"$conf\")\" -- \"$cur\")); return 0 ;;\n")
	}
	for _, c := range choiceCases {
		w.WriteString(c)
	}
	if s := byKind[valueFree]; len(s) > 0 {
		w.WriteString("    " + strings.Join(s, "|") + ") return 0 ;;\n")
	}
	w.WriteString("    esac\n")
	// Flags and arguments of each command.
	w.WriteString("    local opts= files=\n")
	w.WriteString("    case $cmd in\n")
	for _, c := range cmds {
		var opts []string
		for _, f := range c.flags {
			opts = append(opts, f.spellings()...)
		}
		opts = append(opts, "--help", "-h")
		files := slices.ContainsFunc(c.args, func(a docArg) bool { return a.file })
		fmt.Fprintf(&w, "    %s) opts=%s", c.name, shellQuote(strings.Join(opts, " ")))
		if files {
			w.WriteString("; files=1")
		}
		w.WriteString(" ;;\n")
	}
	w.WriteString("    *) return 0 ;;\n    esac\n")
	w.WriteString("    if [[ $cur == -* || -z $files ]]; then\n")
	w.WriteString("        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n")
	w.WriteString("    else\n")
	w.WriteString("        compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))\n")
	w.WriteString("    fi\n    return 0\n}\n\n")
	w.WriteString("complete -F _redis_vip redis-vip\n")
	_, err := io.WriteString(out, w.String())
	return err
}

// zshEscape escapes text inside an _arguments description: [], : and \.
func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// zshSpec is one _arguments spec for a flag.
func zshSpec(f docFlag) string {
	names := f.spellings()
	desc := "[" + zshEscape(f.usage) + "]"
	var action string
	switch f.kind {
	case valueFile:
		action = ":file:_files"
	case valueDir:
		action = ":directory:_files -/"
	case valueInstance:
		action = ":instance:_redis_vip_instances"
	case valueChoice:
		action = ":value:(" + strings.Join(f.choices, " ") + ")"
	case valueFree:
		action = ":" + strings.ToLower(f.placeholder()) + ": "
	}
	eq := ""
	if f.kind != valueNone {
		eq = "="
	}
	repeat := ""
	if f.repeat {
		repeat = "*"
	}
	if len(names) == 1 {
		return shellQuote(repeat + names[0] + eq + desc + action)
	}
	excl := ""
	if !f.repeat {
		excl = "(" + strings.Join(names, " ") + ")"
	}
	var specs []string
	for _, n := range names {
		specs = append(specs, shellQuote(excl+repeat+n+eq+desc+action))
	}
	return strings.Join(specs, " \\\n        ")
}

// writeZsh writes a zsh completion function (#compdef): autoloaded from
// $fpath, or sourced after compinit.
func writeZsh(out io.Writer, app *cli.App, cmds []docCommand) error {
	var w strings.Builder
	w.WriteString("#compdef redis-vip\n")
	w.WriteString("# zsh completion for redis-vip " + app.Version + "\n")
	w.WriteString("# Generated by `redis-vip gen-docs zsh`; do not edit.\n\n")
	w.WriteString("_redis_vip_instances() {\n")
	w.WriteString("    local conf=${opt_args[--config]:-${REDIS_VIP_CONFIG:-" + config.DefaultPath + "}}\n")
	w.WriteString("    local -a names\n")
	w.WriteString("    [[ -r $conf ]] && names=(${(f)\"$(awk " + shellQuote(instancesAwk) + " $conf 2>/dev/null)\"})\n")
	w.WriteString("    _describe -t instances 'instance' names\n}\n\n")
	w.WriteString("_redis-vip() {\n")
	w.WriteString("    local curcontext=$curcontext state line ret=1\n")
	w.WriteString("    typeset -A opt_args\n")
	w.WriteString("    _arguments -C \\\n")
	w.WriteString("        '(- *)'{-h,--help}'[show help]' \\\n")
	w.WriteString("        '(- *)'{-v,--version}'[print the version]' \\\n")
	w.WriteString("        '1: :->command' \\\n")
	w.WriteString("        '*:: :->args' && ret=0\n")
	w.WriteString("    case $state in\n")
	w.WriteString("    command)\n")
	w.WriteString("        local -a commands=(\n")
	for _, c := range cmds {
		w.WriteString("            " + shellQuote(strings.ReplaceAll(c.name, ":", `\:`)+":"+c.usage) + "\n")
	}
	w.WriteString("        )\n")
	w.WriteString("        _describe -t commands 'redis-vip command' commands && ret=0\n")
	w.WriteString("        ;;\n")
	w.WriteString("    args)\n")
	w.WriteString("        curcontext=${curcontext%:*:*}:redis-vip-$words[1]:\n")
	w.WriteString("        case $words[1] in\n")
	for _, c := range cmds {
		w.WriteString("        " + c.name + ")\n            _arguments -s -S \\\n")
		w.WriteString("                '(- *)'{-h,--help}'[show help]' \\\n")
		for _, f := range c.flags {
			w.WriteString("                " + strings.ReplaceAll(zshSpec(f), "\n        ", "\n                ") + " \\\n")
		}
		for i, a := range c.args {
			action := " "
			if a.file {
				action = "_files"
			}
			opt := ""
			if a.optional {
				opt = ":"
			}
			w.WriteString("                " + shellQuote(strconv.Itoa(i+1)+":"+opt+strings.ToLower(a.name)+":"+action) + " \\\n")
		}
		w.WriteString("                && ret=0\n            ;;\n")
	}
	w.WriteString("        esac\n        ;;\n    esac\n    return ret\n}\n\n")
	w.WriteString("if [[ $funcstack[1] == _redis-vip ]]; then\n")
	w.WriteString("    _redis-vip \"$@\"\nelse\n    compdef _redis-vip redis-vip\nfi\n")
	_, err := io.WriteString(out, w.String())
	return err
}
