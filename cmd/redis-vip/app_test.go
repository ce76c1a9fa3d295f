package main

import (
	"regexp"
	"strings"
	"testing"
)

// `redis-vip version`, `--version` and `-v` print the same line.
func TestVersionFormats(t *testing.T) {
	want := "redis-vip " + version + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || out != want || errOut != "" {
			t.Errorf("redis-vip %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	_, help, _ := runCLI(t, "--help")
	if !regexp.MustCompile(`(?m)^\s+--version, -v\s+print the version$`).MatchString(help) {
		t.Errorf("--help does not list --version, -v as it should:\n%s", help)
	}
}

// Each flag's help states its default once.
func TestHelpStatesDefaultsOnce(t *testing.T) {
	_, top, _ := runCLI(t, "--help")
	_, rest, _ := strings.Cut(top, "COMMANDS:\n")
	var cmds []string
	for _, l := range strings.Split(rest, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasSuffix(f[0], ":") {
			break
		}
		cmds = append(cmds, strings.TrimSuffix(f[0], ","))
	}
	if len(cmds) < 5 {
		t.Fatalf("found only commands %v in:\n%s", cmds, top)
	}
	seen := 0
	for _, c := range cmds {
		_, help, _ := runCLI(t, c, "--help")
		for _, l := range strings.Split(help, "\n") {
			if n := strings.Count(l, "(default"); n > 1 {
				t.Errorf("redis-vip %s --help: %d defaults in %q", c, n, strings.TrimSpace(l))
			}
			if strings.Contains(l, "--tls-enabled") {
				seen++
			}
		}
	}
	if seen == 0 {
		t.Error("no command lists --tls-enabled")
	}
}
