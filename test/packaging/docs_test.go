package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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

// TestGeneratedDocs checks what `redis-vip gen-docs` writes: a man page
// that groff and man render without a warning and that names every command
// and flag --help shows, and bash and zsh completions that load and
// complete commands, flags, fixed values, files and instance names.
func TestGeneratedDocs(t *testing.T) {
	requireTools(t, "bash")
	dir := t.TempDir()
	bin := buildBinary(t, dir, "0.3.0")
	cmds := helpCommands(t, bin)
	full := filepath.Join(repoRoot(t), "config", "testdata", "full.yml")

	t.Run("man", func(t *testing.T) {
		page := mustRun(t, cmdSpec{env: []string{"SOURCE_DATE_EPOCH=86400"}}, bin, "gen-docs", "man")
		if again := mustRun(t, cmdSpec{env: []string{"SOURCE_DATE_EPOCH=86400"}}, bin, "gen-docs", "man"); again != page {
			t.Error("two runs wrote different man pages")
		}
		if want := `.TH REDIS\-VIP 1 "1970-01-02" "redis-vip 0.3.0"`; !strings.Contains(page, want) {
			t.Errorf("man page has no %q", want)
		}
		for _, c := range cmds {
			if !strings.Contains(page, `.SS "redis\-vip `+strings.ReplaceAll(c, "-", `\-`)+`"`) {
				t.Errorf("man page has no section for command %s", c)
			}
			for _, f := range helpFlags(t, bin, c) {
				if !strings.Contains(page, `\fB`+strings.ReplaceAll(f, "-", `\-`)+`\fR`) {
					t.Errorf("man page does not describe %s %s", c, f)
				}
			}
		}
		if strings.Contains(page, `gen\-docs`) {
			t.Error("man page documents the hidden gen-docs command")
		}
		file := filepath.Join(dir, "redis-vip.1")
		if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath("groff"); err == nil {
			// Warnings only: the rendered page goes to /dev/null.
			if out := mustRun(t, cmdSpec{}, "sh", "-c", `groff -man -Tutf8 -ww -z "$1" 2>&1 >/dev/null`, "sh", file); out != "" {
				t.Errorf("groff warns:\n%s", out)
			}
		}
		if _, err := exec.LookPath("man"); err == nil {
			// What lintian runs on man pages.
			out := mustRun(t, cmdSpec{env: []string{"LC_ALL=C.UTF-8", "MANWIDTH=80"}}, "sh", "-c",
				`man --warnings -E UTF-8 -l -Tutf8 -Z "$1" 2>&1 >/dev/null`, "sh", file)
			if out != "" {
				t.Errorf("man --warnings:\n%s", out)
			}
		}
	})

	t.Run("bash", func(t *testing.T) {
		script := filepath.Join(dir, "redis-vip.bash")
		if err := os.Mkdir(filepath.Join(dir, "textfiles"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(script, []byte(mustRun(t, cmdSpec{}, bin, "gen-docs", "bash")), 0o644); err != nil {
			t.Fatal(err)
		}
		got := mustRun(t, cmdSpec{}, "bash", "-c", `source "$1"; complete -p redis-vip`, "bash", script)
		if strings.TrimSpace(got) != "complete -F _redis_vip redis-vip" {
			t.Errorf("complete -p redis-vip: %q", got)
		}
		// complete LINE prints what completing its last word offers.
		complete := func(t *testing.T, env []string, words ...string) []string {
			t.Helper()
			driver := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _redis_vip; printf '%s\n' "${COMPREPLY[@]}"`
			out := mustRun(t, cmdSpec{env: env}, "bash", append([]string{"-c", driver, "bash", script}, words...)...)
			return strings.Fields(out)
		}
		checkFlags := helpFlags(t, bin, "check")
		cases := []struct {
			name  string
			env   []string
			words []string
			want  []string
			exact bool
		}{
			{name: "commands", words: []string{"redis-vip", ""}, want: append(slices.Clone(cmds), "--help", "--version")},
			{name: "command prefix", words: []string{"redis-vip", "notify-f"}, want: []string{"notify-fault", "notify-fifo"}, exact: true},
			{name: "flags of check", words: []string{"redis-vip", "check", "--"}, want: checkFlags},
			{name: "flag prefix", words: []string{"redis-vip", "check", "--log-l"}, want: []string{"--log-level"}, exact: true},
			{name: "log levels", words: []string{"redis-vip", "check", "--log-level", ""}, want: []string{"debug", "info", "warn", "error"}, exact: true},
			{name: "report formats", words: []string{"redis-vip", "report", "--format", ""}, want: []string{"text", "json", "prometheus"}, exact: true},
			{name: "handover", words: []string{"redis-vip", "notify-master", "--handover", "p"}, want: []string{"pause"}, exact: true},
			{name: "instances from --config", words: []string{"redis-vip", "check", "--config", full, "--instance", ""}, want: []string{"cache", "sessions"}, exact: true},
			{name: "instances from --config=", words: []string{"redis-vip", "guard", "--config", "=", full, "--instance", "=", "s"}, want: []string{"sessions"}, exact: true},
			{name: "instances from REDIS_VIP_CONFIG", env: []string{"REDIS_VIP_CONFIG=" + full}, words: []string{"redis-vip", "report", "--instance", ""}, want: []string{"cache", "sessions"}, exact: true},
			{name: "config file", words: []string{"redis-vip", "check", "--config", filepath.Join(dir, "redis-vip.b")}, want: []string{script}, exact: true},
			{name: "fifo path", words: []string{"redis-vip", "notify-fifo", filepath.Join(dir, "redis-vip.b")}, want: []string{script}, exact: true},
			{name: "directory", words: []string{"redis-vip", "report", "--textfile-dir", filepath.Join(dir, "text")}, want: []string{filepath.Join(dir, "textfiles")}, exact: true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got := complete(t, tc.env, tc.words...)
				if tc.exact {
					if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tc.want))) {
						t.Errorf("%q: got %q, want %q", tc.words, got, tc.want)
					}
					return
				}
				for _, w := range tc.want {
					if !slices.Contains(got, w) {
						t.Errorf("%q: %q missing from %q", tc.words, w, got)
					}
				}
			})
		}
	})

	t.Run("zsh", func(t *testing.T) {
		ensureZsh(t)
		fpathDir := filepath.Join(dir, "zsh")
		if err := os.MkdirAll(fpathDir, 0o755); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(fpathDir, "_redis-vip")
		if err := os.WriteFile(script, []byte(mustRun(t, cmdSpec{}, bin, "gen-docs", "zsh")), 0o644); err != nil {
			t.Fatal(err)
		}
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
			{name: "log levels", line: "redis-vip check --log-level ", want: []string{"debug", "error", "info", "warn"}},
			{name: "report formats", line: "redis-vip report --format ", want: []string{"json", "prometheus", "text"}},
			{name: "instances from --config", line: "redis-vip check --config " + full + " --instance ", want: []string{"cache", "sessions"}},
			{name: "instances from REDIS_VIP_CONFIG", env: []string{"REDIS_VIP_CONFIG=" + full}, line: "redis-vip notify-master --instance ", want: []string{"cache", "sessions"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				out := mustRun(t, cmdSpec{env: tc.env}, "zsh", "-f", driver, fpathDir, tc.line)
				got := strings.Fields(out)
				if !slices.Equal(got, slices.Sorted(slices.Values(tc.want))) {
					t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
				}
			})
		}
	})
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
