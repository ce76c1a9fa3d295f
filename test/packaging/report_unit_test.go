package packaging

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/internal/reporttest"
)

// reportEnvFile is the report unit's EnvironmentFile=.
const reportEnvFile = "/etc/default/redis-vip-report"

// nodeExporterDir is where Debian's prometheus-node-exporter reads textfiles
// (root:root 0755 when that package is installed).
const nodeExporterDir = "/var/lib/prometheus/node-exporter"

// unitSettings reads a unit file's Key=Value lines, in order, per key.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, path))))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// envFile reads KEY=VALUE lines as systemd's EnvironmentFile= does (no
// quoting in what the tests write).
func envFile(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var env []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && l[0] != '#' && strings.Contains(l, "=") {
			env = append(env, l)
		}
	}
	return env
}

// checkReportUnit runs the report unit's exact ExecStart as its User= and
// Group=, with the environment systemd would give it (a clean one plus its
// EnvironmentFile=), against a healthy pair of real Redis servers: on a
// host without node_exporter's directory, then with it present as Debian's
// prometheus-node-exporter makes it (root:root 0755). Each run must be OK
// (exit 0, and --quiet prints nothing), write the metrics file, and leave
// it readable by another user (node_exporter) through the link the docs
// tell operators to make.
func checkReportUnit(t *testing.T, unit string) {
	requireTools(t, "setpriv")
	redistest.Require(t)
	set := unitSettings(t, unit)
	if len(set["ExecStart"]) != 1 || len(set["User"]) != 1 || len(set["Group"]) != 1 {
		t.Fatalf("%s: want one ExecStart, User and Group: %v", unit, set)
	}
	argv := strings.Fields(strings.TrimLeft(set["ExecStart"][0], "-@+!:"))
	var textfile string
	for i, a := range argv {
		if a == "--textfile-dir" && i+1 < len(argv) {
			textfile = argv[i+1]
		}
	}
	if textfile == "" {
		t.Fatalf("%s: ExecStart writes no metrics: %v", unit, argv)
	}
	if strings.HasPrefix(textfile, nodeExporterDir) {
		t.Errorf("%s writes into node_exporter's directory %s, which the redis-vip user cannot write", unit, textfile)
	}

	// A healthy pair, and a configuration naming it, readable by the user.
	master := redistest.Start(t, redistest.Options{Args: []string{"save 3600 1"}})
	replica := redistest.Start(t, redistest.Options{Args: []string{"save 3600 1"}})
	ctx := context.Background()
	if err := replica.Client().Do(ctx, "REPLICAOF", "127.0.0.1", master.Port).Err(); err != nil {
		t.Fatal(err)
	}
	waitSync(t, replica)
	confDir, err := os.MkdirTemp("", "rv-report-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(confDir) })
	if err := os.Chmod(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(confDir, "redis-vip.yml")
	body := "log:\n  file: /var/log/redis-vip/redis-vip.log\ninstances:\n  pair:\n" +
		"    local: " + master.Addr() + "\n    announce: " + master.Addr() + "\n    peer: " + replica.Addr() + "\n" +
		"    guard:\n      include: " + filepath.Join(confDir, "guard.conf") + "\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	envPath := strings.TrimPrefix(set["EnvironmentFile"][0], "-")
	if envPath != reportEnvFile {
		t.Fatalf("EnvironmentFile=%s, want %s", envPath, reportEnvFile)
	}
	if err := os.WriteFile(envPath, []byte("# written by the test\nREDIS_VIP_CONFIG="+conf+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(envPath) })

	runUnit := func(t *testing.T) {
		t.Helper()
		args := []string{"--reuid", set["User"][0], "--regid", set["Group"][0], "--init-groups", "--",
			"env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
		args = append(args, envFile(t, envPath)...)
		args = append(args, argv...)
		os.Remove(filepath.Join(textfile, "redis_vip.prom"))
		out, err := run(t, cmdSpec{dir: "/"}, "setpriv", args...)
		if err != nil || out != "" {
			t.Fatalf("the report unit's ExecStart as %s: %v\n%s", set["User"][0], err, out)
		}
		prom := filepath.Join(textfile, "redis_vip.prom")
		wantMeta(t, prom, scriptUser, scriptUser, 0o644)
		b := string(readFile(t, prom))
		m, err := reporttest.ParseMetrics(b)
		if err != nil || !slices.ContainsFunc(m.Series, func(s reporttest.Series) bool {
			return s.Key() == `redis_vip_report_status,pair="pair"` && s.Value == 0
		}) {
			t.Errorf("%s: %v\n%s", prom, err, b)
		}
	}

	t.Run("without node_exporter", func(t *testing.T) {
		if exists(nodeExporterDir) {
			t.Skipf("%s exists on this host", nodeExporterDir)
		}
		runUnit(t)
	})

	t.Run("with node_exporter's directory", func(t *testing.T) {
		for _, d := range []string{"/var/lib/prometheus", nodeExporterDir} {
			if !exists(d) {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(d) })
			}
		}
		wantMeta(t, nodeExporterDir, "root", "root", 0o755)
		runUnit(t)
		// What docs/report.md tells operators: link the file into
		// node_exporter's directory; another user reads it through the link.
		link := filepath.Join(nodeExporterDir, "redis_vip.prom")
		if err := os.Symlink(filepath.Join(textfile, "redis_vip.prom"), link); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(link) })
		out, err := run(t, cmdSpec{}, "setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "cat", link)
		if err != nil || !strings.Contains(out, "redis_vip_report_status") {
			t.Errorf("user nobody reading %s: %v\n%s", link, err, out)
		}
	})
}

func waitSync(t *testing.T, replica *redistest.Server) {
	t.Helper()
	out, err := run(t, cmdSpec{timeout: commandTimeout}, "sh", "-c",
		`for i in $(seq 300); do redis-cli -p "$1" info replication | grep -q 'master_link_status:up' && exit 0; sleep 0.05; done; exit 1`,
		"sh", strings.TrimPrefix(replica.Addr(), "127.0.0.1:"))
	if err != nil {
		t.Fatalf("replica not in sync: %v\n%s", err, out)
	}
}

// enableTimer enables the report timer as an administrator would
// (`systemctl enable` works on the files without a running systemd).
func enableTimer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemctl"); err != nil {
		// What systemctl enable does for WantedBy=timers.target.
		if err := os.MkdirAll(filepath.Dir(timerLink), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(debUnitDir+"/redis-vip-report.timer", timerLink); err != nil {
			t.Fatal(err)
		}
	} else {
		mustRun(t, cmdSpec{}, "systemctl", "enable", "redis-vip-report.timer")
	}
	t.Cleanup(func() { os.Remove(timerLink) })
	wantExists(t, timerLink)
}

// danglingLinks lists the symbolic links under dir whose target is missing.
func danglingLinks(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSymlink != 0 {
			if target, err := os.Readlink(p); err == nil && target != "/dev/null" && !exists(resolve(p, target)) {
				out = append(out, p)
			}
		}
		return nil
	})
	return out
}

func resolve(link, target string) string {
	if filepath.IsAbs(target) {
		return target
	}
	return filepath.Join(filepath.Dir(link), target)
}

// filesNamed lists the paths under dirs whose name contains s.
func filesNamed(t *testing.T, s string, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), s) {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// checkLintian runs lintian on the package: no error, no warning.
func checkLintian(t *testing.T, deb string) {
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Skip("lintian not installed (apt-get install lintian)")
	}
	out, err := run(t, cmdSpec{timeout: dpkgTimeout}, "lintian", "--fail-on", "error,warning", deb)
	var tags []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "running with root privileges") {
			tags = append(tags, l)
		}
	}
	if err != nil || len(tags) > 0 {
		t.Errorf("lintian %s: %v\n%s", filepath.Base(deb), err, strings.Join(tags, "\n"))
	}
}

// depLine is one module line of `go version -m`.
var depLine = regexp.MustCompile(`(?m)^\s+dep\s+(\S+)\s+(\S+)`)

// checkNotices checks the third-party notices the package ships: they name
// the program's version, the Go standard library it was built with and
// every module `go version -m` lists in the installed binary, each with a
// license text.
func checkNotices(t *testing.T, bin, notices, version string) {
	text := gunzip(t, notices)
	info := mustRun(t, cmdSpec{env: goEnv(t)}, "go", "version", "-m", bin)
	goVersion := strings.Fields(strings.SplitN(info, "\n", 2)[0])[1]
	if !strings.HasPrefix(text, "Third-party software in redis-vip "+version+"\n") {
		t.Errorf("%s does not start by naming redis-vip %s:\n%.200s", notices, version, text)
	}
	want := [][2]string{{"Go standard library", goVersion}}
	for _, m := range depLine.FindAllStringSubmatch(info, -1) {
		want = append(want, [2]string{m[1], m[2]})
	}
	if len(want) < 5 {
		t.Fatalf("go version -m %s lists only %v", bin, want)
	}
	rule := strings.Repeat("=", 78)
	for _, m := range want {
		name := m[0] + " " + m[1]
		if !strings.Contains(text, "\n  "+name+"\n") {
			t.Errorf("the notices' index lacks %s", name)
		}
		_, section, ok := strings.Cut(text, rule+"\n"+name+"\n")
		if !ok {
			t.Errorf("the notices have no section for %s", name)
			continue
		}
		section, _, _ = strings.Cut(section, rule)
		if !regexp.MustCompile(`(?i)\n--- (licen[cs]e|copying)[^\n]* ---\n\s*\S`).MatchString(section) {
			t.Errorf("the notices' section for %s has no license text:\n%.300s", name, section)
		}
	}
}
