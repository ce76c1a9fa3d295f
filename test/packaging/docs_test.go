package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// helpCommands lists the commands `redis-vip --help` shows.
func helpCommands(t *testing.T, bin string) []string {
	t.Helper()
	out := mustRun(t, cmdSpec{}, bin, "--help")
	_, rest, ok := strings.Cut(out, "COMMANDS:\n")
	if !ok {
		t.Fatalf("no COMMANDS in --help:\n%s", out)
	}
	var cmds []string
	for _, l := range strings.Split(rest, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasSuffix(f[0], ":") {
			break
		}
		cmds = append(cmds, strings.TrimSuffix(f[0], ","))
	}
	if len(cmds) < 5 {
		t.Fatalf("found only %v in --help", cmds)
	}
	return cmds
}

// helpFlags lists the flags `redis-vip CMD --help` shows, without --help.
func helpFlags(t *testing.T, bin, cmd string) []string {
	t.Helper()
	out := mustRun(t, cmdSpec{}, bin, cmd, "--help")
	_, rest, _ := strings.Cut(out, "OPTIONS:\n")
	var flags []string
	for _, l := range strings.Split(rest, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "-") {
			continue
		}
		names, _, _ := strings.Cut(l, "  ")
		for _, n := range strings.Split(names, ", ") {
			n, _, _ = strings.Cut(n, " ")
			if n != "--help" && n != "-h" && n != "[" {
				flags = append(flags, n)
			}
		}
	}
	return flags
}

// buildGendocs builds redis-vip with the man page generator (the gendocs
// tag, urfave's documentation code in), stamped with version.
func buildGendocs(t *testing.T, dir, version string) string {
	t.Helper()
	return goBuild(t, filepath.Join(dir, "redis-vip-gendocs"), "gendocs", "-X main.version="+version)
}

// docsBins are the two builds the docs tests share, made once per test
// process: bin/redis-vip as make build makes it, and a gendocs build.
var docsBins struct {
	once             sync.Once
	dir              string
	shipped, gendocs string
	failed           bool
}

// docsBinaries returns the shipped and the gendocs build of version 0.3.0;
// bin/ holds only the shipped one, named redis-vip, for PATH.
func docsBinaries(t *testing.T) (shipped, gendocs string) {
	t.Helper()
	docsBins.once.Do(func() {
		docsBins.failed = true
		dir, err := os.MkdirTemp("", "rvtest-docs-")
		if err != nil {
			t.Fatal(err)
		}
		docsBins.dir = dir
		docsBins.shipped = buildBinary(t, filepath.Join(dir, "bin"), "0.3.0")
		docsBins.gendocs = buildGendocs(t, dir, "0.3.0")
		docsBins.failed = false
	})
	if docsBins.failed {
		t.Fatal("the docs tests' builds failed (see the first test that made them)")
	}
	return docsBins.shipped, docsBins.gendocs
}

// generatorMarks are what a binary that carries the man page generator
// holds: the command's name, and urfave's Markdown-to-roff converter.
var generatorMarks = []string{"gen-docs", "github.com/cpuguy83/go-md2man"}

// TestShippedBinaryHasNoGenerator checks that the binary make build makes
// carries neither the gen-docs command nor urfave's documentation code,
// and that the same check finds both in a gendocs build.
func TestShippedBinaryHasNoGenerator(t *testing.T) {
	shipped, gendocs := docsBinaries(t)
	for _, b := range []struct {
		path string
		want bool
	}{{shipped, false}, {gendocs, true}} {
		data := readFile(t, b.path)
		for _, mark := range generatorMarks {
			if got := bytes.Contains(data, []byte(mark)); got != b.want {
				t.Errorf("%s: holds %q: %v, want %v", filepath.Base(b.path), mark, got, b.want)
			}
		}
		info := mustRun(t, cmdSpec{env: goEnv(t)}, "go", "version", "-m", b.path)
		if got := strings.Contains(info, "github.com/cpuguy83/go-md2man"); got != b.want {
			t.Errorf("%s: go version -m lists go-md2man: %v, want %v", filepath.Base(b.path), got, b.want)
		}
	}
	if out, err := run(t, cmdSpec{}, shipped, "gen-docs", "man"); err == nil || !strings.Contains(out, "unknown command") {
		t.Errorf("shipped binary: gen-docs man: %v, %q; want an unknown command", err, out)
	}
}

// TestManPage checks the man page a gendocs build writes: the same twice,
// rendered by man and groff without a warning, naming every command and
// flag --help shows and not the hidden ones.
func TestManPage(t *testing.T) {
	dir := t.TempDir()
	bin, gen := docsBinaries(t)
	page := mustRun(t, cmdSpec{}, gen, "gen-docs", "man")
	if again := mustRun(t, cmdSpec{}, gen, "gen-docs", "man"); again != page {
		t.Error("two runs wrote different man pages")
	}
	if want := `.TH REDIS-VIP 1 "" "redis-vip 0.3.0" "User Commands"`; !strings.Contains(page, want) {
		t.Errorf("man page has no %q", want)
	}
	for _, section := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ENVIRONMENT", "FILES", `EXIT STATUS`, `SEE ALSO`} {
		if !strings.Contains(page, "\n.SH "+section+"\n") {
			t.Errorf("man page has no %s section", section)
		}
	}
	for _, c := range helpCommands(t, bin) {
		if !strings.Contains(page, "\n.SH "+c+"\n") {
			t.Errorf("man page has no section for command %s", c)
		}
		for _, f := range helpFlags(t, bin, c) {
			if !strings.Contains(page, `\fB`+f) {
				t.Errorf("man page does not describe %s %s", c, f)
			}
		}
	}
	for _, hidden := range []string{"gen-docs", "__complete"} {
		if strings.Contains(page, hidden) {
			t.Errorf("man page documents the hidden %s command", hidden)
		}
	}
	file := filepath.Join(dir, "redis-vip.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	requireTools(t, "man", "groff")
	// Warnings only: the rendered page goes to /dev/null.
	if out := mustRun(t, cmdSpec{}, "sh", "-c", `groff -man -Tutf8 -ww -z "$1" 2>&1 >/dev/null`, "sh", file); out != "" {
		t.Errorf("groff warns:\n%s", out)
	}
	// What lintian runs on man pages.
	env := []string{"LC_ALL=C.UTF-8", "MANWIDTH=80"}
	if out := mustRun(t, cmdSpec{env: env}, "sh", "-c", `man --warnings -E UTF-8 -l -Tutf8 -Z "$1" 2>&1 >/dev/null`, "sh", file); out != "" {
		t.Errorf("man --warnings:\n%s", out)
	}
	text := mustRun(t, cmdSpec{env: env}, "man", "-l", file)
	for _, want := range []string{"REDIS-VIP(1)", "redis-vip - keep one virtual IP", "redis-vip check [--instance NAME]", "--timeouts-check, --timeout", "REDIS_VIP_CONFIG"} {
		if !strings.Contains(text, want) {
			t.Errorf("man -l shows no %q", want)
		}
	}
}

// TestCompletion checks packaging/completion against the binary make build
// makes: the bash and zsh scripts load, and complete commands, flags and
// instance names (read from the configuration the line names); where the
// binary offers nothing, they leave it to file name completion.
func TestCompletion(t *testing.T) {
	requireTools(t, "bash")
	dir := t.TempDir()
	bin, _ := docsBinaries(t)
	binDir := filepath.Dir(bin)
	cmds := helpCommands(t, bin)
	full := filepath.Join(repoRoot(t), "config", "testdata", "full.yml")
	path := []string{"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH")}

	t.Run("bash", func(t *testing.T) {
		script := filepath.Join(repoRoot(t), "packaging", "completion", "redis-vip.bash")
		got := mustRun(t, cmdSpec{}, "bash", "-c", `source "$1"; complete -p redis-vip`, "bash", script)
		if strings.TrimSpace(got) != "complete -o bashdefault -o default -F _redis_vip redis-vip" {
			t.Errorf("complete -p redis-vip: %q", got)
		}
		// complete prints what completing the last word offers.
		complete := func(t *testing.T, env []string, words ...string) []string {
			t.Helper()
			driver := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _redis_vip; printf '%s\n' "${COMPREPLY[@]}"`
			out := mustRun(t, cmdSpec{env: append(slices.Clone(path), env...)}, "bash", append([]string{"-c", driver, "bash", script}, words...)...)
			return strings.Fields(out)
		}
		cases := []struct {
			name  string
			env   []string
			words []string
			want  []string
		}{
			{name: "commands", words: []string{"redis-vip", ""}, want: cmds},
			{name: "command prefix", words: []string{"redis-vip", "notify-f"}, want: []string{"notify-fault", "notify-fifo"}},
			{name: "global flags", words: []string{"redis-vip", "--"}, want: []string{"--help", "--version"}},
			{name: "flags of check", words: []string{"redis-vip", "check", "--"}, want: append(helpFlags(t, bin, "check"), "--help")},
			{name: "flags of report", words: []string{"redis-vip", "report", "--"}, want: append(helpFlags(t, bin, "report"), "--help")},
			{name: "flag prefix", words: []string{"redis-vip", "check", "--log-l"}, want: []string{"--log-level"}},
			{name: "instances from --config", words: []string{"redis-vip", "check", "--config", full, "--instance", ""}, want: []string{"cache", "sessions"}},
			{name: "instances from --config=", words: []string{"redis-vip", "guard", "--config", "=", full, "--instance", "=", "s"}, want: []string{"sessions"}},
			{name: "instances from REDIS_VIP_CONFIG", env: []string{"REDIS_VIP_CONFIG=" + full}, words: []string{"redis-vip", "report", "--instance", ""}, want: []string{"cache", "sessions"}},
			{name: "no instances without a file", words: []string{"redis-vip", "check", "--config", filepath.Join(dir, "none.yml"), "--instance", ""}},
			{name: "config file: left to bash", words: []string{"redis-vip", "check", "--config", ""}},
			{name: "fifo path: left to bash", words: []string{"redis-vip", "notify-fifo", ""}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := complete(t, tc.env, tc.words...)
				if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) {
					t.Errorf("%q: got %q, want %q", tc.words, got, tc.want)
				}
			})
		}
	})

	t.Run("zsh", func(t *testing.T) {
		ensureZsh(t)
		fpathDir := filepath.Join(repoRoot(t), "packaging", "completion")
		script := filepath.Join(fpathDir, "_redis-vip")
		mustRun(t, cmdSpec{}, "zsh", "-n", script)
		got := mustRun(t, cmdSpec{}, "zsh", "-fc", `autoload -U compinit; compinit -u -D; source "$1"; print -r -- $_comps[redis-vip]`, "zsh", script)
		if strings.TrimSpace(got) != "_redis-vip" {
			t.Errorf("sourced after compinit, compdef gave %q, want _redis-vip", got)
		}
		driver := filepath.Join(repoRoot(t), "test", "packaging", "testdata", "zcomplete.zsh")
		cases := []struct {
			name string
			env  []string
			line string
			want []string
		}{
			{name: "commands", line: "redis-vip ", want: cmds},
			{name: "command prefix", line: "redis-vip rep", want: []string{"report"}},
			{name: "flag prefix", line: "redis-vip check --log-l", want: []string{"--log-level"}},
			{name: "instances from --config", line: "redis-vip check --config " + full + " --instance ", want: []string{"cache", "sessions"}},
			{name: "instances from REDIS_VIP_CONFIG", env: []string{"REDIS_VIP_CONFIG=" + full}, line: "redis-vip notify-master --instance ", want: []string{"cache", "sessions"}},
			{name: "instance=", env: []string{"REDIS_VIP_CONFIG=" + full}, line: "redis-vip check --instance=s", want: []string{"--instance=sessions"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				out := mustRun(t, cmdSpec{env: append(slices.Clone(path), tc.env...)}, "zsh", "-f", driver, fpathDir, tc.line)
				got := strings.Fields(out)
				if !slices.Equal(got, slices.Sorted(slices.Values(tc.want))) {
					t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
				}
			})
		}
	})
}

// checkInstalledCompletion checks an installed bash completion script
// against the installed binary: it registers, and the binary answers it.
func checkInstalledCompletion(t *testing.T, script, bin string) {
	t.Helper()
	if got := mustRun(t, cmdSpec{}, "bash", "-c", `source "$1"; complete -p redis-vip`, "bash", script); strings.TrimSpace(got) != "complete -o bashdefault -o default -F _redis_vip redis-vip" {
		t.Errorf("bash completion: %q", got)
	}
	driver := `source "$1"; COMP_WORDS=(redis-vip repo); COMP_CWORD=1; _redis_vip; printf '%s\n' "${COMPREPLY[@]}"`
	env := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	if got := mustRun(t, cmdSpec{env: env}, "bash", "-c", driver, "bash", script); strings.TrimSpace(got) != "report" {
		t.Errorf("bash completion of %q with %s: %q, want report", "redis-vip repo", bin, got)
	}
}

// ensureZsh installs zsh from Debian's package when it is missing and this
// is root; otherwise the zsh checks skip.
func ensureZsh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("zsh"); err == nil {
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("zsh not installed (root would install it)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("zsh not installed and no apt-get")
	}
	if out, err := run(t, cmdSpec{env: []string{"DEBIAN_FRONTEND=noninteractive"}, timeout: aptTimeout}, "apt-get", "install", "-y", "-q", "--no-install-recommends", "zsh"); err != nil {
		t.Skipf("zsh not installed, and apt-get could not install it: %v\n%s", err, out)
	}
}
