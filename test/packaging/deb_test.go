package packaging

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	debConfig    = "/etc/redis-vip/redis-vip.yml"
	debBin       = "/usr/bin/redis-vip"
	debDoc       = "/usr/share/doc/redis-vip"
	debExamples  = "/usr/share/doc/redis-vip/examples"
	debStateDir  = "/var/lib/redis-vip"
	debBackupDir = "/var/lib/redis-vip/backups"
	debLogDir    = "/var/log/redis-vip"
	debUnitDir   = "/lib/systemd/system"
	// textfileDir is where the report timer and the cron example write the
	// metrics (redis-vip-report.service's StateDirectory=).
	textfileDir = "/var/lib/redis-vip-textfile"
	// etcUnitDir holds the administrator's units and enable links.
	etcUnitDir = "/etc/systemd/system"
	timerLink  = etcUnitDir + "/timers.target.wants/redis-vip-report.timer"
	// dshState is deb-systemd-helper's record of the links it manages.
	dshState = "/var/lib/systemd/deb-systemd-helper-enabled"
)

// debFile is one file the package must install.
type debFile struct {
	path  string
	mode  fs.FileMode
	group string // after postinst; owner is always root
	src   string // the repository file it must equal ("" to skip)
	gzSrc string // the repository file it must equal once decompressed
}

// expectedDebFiles lists every file of the package. The examples are
// whatever packaging/ holds at build time.
func expectedDebFiles(t *testing.T) []debFile {
	t.Helper()
	root := repoRoot(t)
	files := []debFile{
		{path: debBin, mode: 0o755},
		{path: debConfig, mode: 0o640, group: scriptUser, src: filepath.Join(root, "packaging/redis-vip.yml")},
		{path: "/etc/logrotate.d/redis-vip", mode: 0o644, src: filepath.Join(root, "packaging/deb/redis-vip.logrotate")},
		{path: "/usr/share/man/man1/redis-vip.1.gz", mode: 0o644},
		{path: "/usr/share/bash-completion/completions/redis-vip", mode: 0o644},
		{path: "/usr/share/zsh/vendor-completions/_redis-vip", mode: 0o644},
		{path: debDoc + "/copyright", mode: 0o644, src: filepath.Join(root, "packaging/deb/copyright")},
		{path: debDoc + "/changelog.gz", mode: 0o644},
		{path: debDoc + "/THIRD-PARTY-NOTICES.gz", mode: 0o644},
		{path: "/usr/share/lintian/overrides/redis-vip", mode: 0o644, src: filepath.Join(root, "packaging/deb/lintian-overrides")},
		{path: debDoc + "/README.md.gz", mode: 0o644, gzSrc: filepath.Join(root, "README.md")},
		{path: debExamples + "/redis-vip.yml", mode: 0o644, src: filepath.Join(root, "packaging/redis-vip.yml")},
		{path: debExamples + "/redis-vip-two-instances.yml", mode: 0o644, src: filepath.Join(root, "config/testdata/full.yml")},
		{path: debExamples + "/cron/redis-vip-report", mode: 0o644, src: filepath.Join(root, "packaging/cron/redis-vip-report")},
	}
	for _, u := range []string{"redis-vip.service", "redis-vip-reconcile.service", "redis-vip-report.service", "redis-vip-report.timer", "redis-vip-witness.service"} {
		files = append(files, debFile{path: debUnitDir + "/" + u, mode: 0o644, src: filepath.Join(root, "packaging/systemd", u)})
	}
	for _, md := range globRepo(t, "docs/*.md") {
		files = append(files, debFile{path: debDoc + "/" + filepath.Base(md) + ".gz", mode: 0o644, gzSrc: md})
	}
	for dir, pattern := range map[string]string{
		"keepalived":                     "packaging/keepalived/*.conf",
		"haproxy":                        "packaging/haproxy/*.cfg",
		"systemd/redis-server.service.d": "packaging/systemd/redis-server.service.d/*.conf",
		"redis":                          "packaging/redis/*.conf",
	} {
		for _, src := range globRepo(t, pattern) {
			files = append(files, debFile{path: debExamples + "/" + dir + "/" + filepath.Base(src), mode: 0o644, src: src})
		}
	}
	return files
}

// TestDebPackage builds the package, checks it with lintian, installs it
// with dpkg into this machine and checks every file, mode and owner, what
// postinst set up, the program, the third-party notices, the systemd units,
// the report unit's command as its user on a host without node_exporter and
// with it, and the keepalived examples; then enables the report timer as an
// administrator would, upgrades over it twice (the edited configuration
// survives, also when the shipped one changed; the timer stays enabled),
// removes it (configuration, state and user stay) and purges it (all gone
// but the backups of Redis data: no enable link is left dangling).
func TestDebPackage(t *testing.T) {
	requireRoot(t)
	requireTools(t, "dpkg", "dpkg-deb", "dpkg-query")
	requireNoPackage(t)
	saveHost(t, "/etc/redis-vip", debStateDir, debLogDir, textfileDir, reportEnvFile)
	danglingBefore := danglingLinks(t, etcUnitDir)
	t.Cleanup(func() {
		if packageStatus(t) != "" {
			if out, err := run(t, cmdSpec{timeout: dpkgTimeout}, "dpkg", "--purge", "redis-vip"); err != nil {
				t.Errorf("cleanup: %v\n%s", err, out)
			}
		}
	})
	_, userErr := user.Lookup(scriptUser)
	userCreatedByTest := userErr != nil

	dir := t.TempDir()
	deb1 := buildDeb(t, dir, "0.1.0")
	deb2 := buildDeb(t, dir, "0.1.1")
	changed := filepath.Join(dir, "changed.yml")
	if err := os.WriteFile(changed, append(readFile(t, filepath.Join(repoRoot(t), "packaging/redis-vip.yml")), "# a newer example\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	deb3 := buildDeb(t, dir, "0.1.2", "--config-example", changed)
	t.Run("lintian", func(t *testing.T) { checkLintian(t, deb1) })
	dpkg := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{timeout: dpkgTimeout, env: []string{"DEBIAN_FRONTEND=noninteractive"}}, "dpkg", args...)
	}

	// The package's metadata.
	fields := mustRun(t, cmdSpec{}, "dpkg-deb", "--field", deb1, "Package", "Version", "Architecture", "Depends", "Recommends")
	for _, want := range []string{"Package: redis-vip", "Version: 0.1.0", "Architecture: amd64", "Recommends: keepalived, redis-server"} {
		if !strings.Contains(fields, want+"\n") {
			t.Errorf("control fields lack %q:\n%s", want, fields)
		}
	}
	conffiles := strings.Fields(mustRun(t, cmdSpec{}, "dpkg-deb", "--info", deb1, "conffiles"))
	if want := []string{"/etc/logrotate.d/redis-vip", debConfig}; !slices.Equal(slices.Sorted(slices.Values(conffiles)), want) {
		t.Errorf("conffiles %q, want %q", conffiles, want)
	}

	// Install.
	out := dpkg("-i", deb1)
	t.Logf("dpkg -i:\n%s", out)
	if s := packageStatus(t); s != "install ok installed" {
		t.Fatalf("after dpkg -i: status %q", s)
	}
	checkDebFiles(t, expectedDebFiles(t))
	checkScriptUser(t, userCreatedByTest)
	for _, d := range []string{debStateDir, debBackupDir, debLogDir} {
		wantMeta(t, d, scriptUser, scriptUser, 0o750)
	}
	wantMeta(t, textfileDir, scriptUser, scriptUser, 0o755)
	wantMeta(t, debLogDir+"/redis-vip.log", scriptUser, scriptUser, 0o640)
	checkUserAccess(t, debBin, debConfig, debStateDir, debBackupDir, debLogDir, textfileDir)
	wantStatic(t, debBin)
	if got := mustRun(t, cmdSpec{}, debBin, "version"); got != "redis-vip 0.1.0\n" {
		t.Errorf("redis-vip version: %q", got)
	}
	help := mustRun(t, cmdSpec{}, debBin, "--help")
	for _, want := range []string{"USAGE:", "check", "notify-master", "guard", "report"} {
		if !strings.Contains(help, want) {
			t.Errorf("redis-vip --help lacks %q:\n%s", want, help)
		}
	}
	if page := gunzip(t, "/usr/share/man/man1/redis-vip.1.gz"); !strings.Contains(page, `.TH REDIS-VIP 1 "" "redis-vip 0.1.0"`) {
		t.Errorf("man page lacks its .TH line for 0.1.0:\n%.300s", page)
	}
	checkInstalledCompletion(t, "/usr/share/bash-completion/completions/redis-vip", debBin)
	t.Run("third-party notices", func(t *testing.T) { checkNotices(t, debBin, debDoc+"/THIRD-PARTY-NOTICES.gz", "0.1.0") })
	t.Run("report unit on a stock host", func(t *testing.T) { checkReportUnit(t, debUnitDir+"/redis-vip-report.service") })

	if _, err := exec.LookPath("logrotate"); err == nil {
		// -d: parse and plan only, rotate nothing.
		out, err := run(t, cmdSpec{}, "logrotate", "-d", "/etc/logrotate.d/redis-vip")
		if err != nil || strings.Contains(strings.ToLower(out), "error") || !strings.Contains(out, "/var/log/redis-vip/redis-vip.log") {
			t.Errorf("logrotate -d /etc/logrotate.d/redis-vip: %v\n%s", err, out)
		}
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		ensureSystemdAnalyze(t)
		verifyUnits(t, debUnitDir+"/redis-vip.service", debUnitDir+"/redis-vip-reconcile.service", debUnitDir+"/redis-vip-report.service", debUnitDir+"/redis-vip-report.timer", debUnitDir+"/redis-vip-witness.service")
		dropins, _ := filepath.Glob(debExamples + "/systemd/redis-server.service.d/*.conf")
		verifyRedisDropins(t, dropins)
	})
	t.Run("keepalived accepts the examples", func(t *testing.T) {
		checkKeepalivedExamples(t, debExamples+"/keepalived")
	})

	// The administrator enables the report timer (systemctl works on the
	// files without a running systemd).
	enableTimer(t)

	// Upgrade: the edited configuration, the state and the enabled timer stay.
	edited := append(readFile(t, debConfig), "# edited by the operator\n"...)
	if err := os.WriteFile(debConfig, edited, 0o640); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(debStateDir, "redis6379.journal")
	if err := os.WriteFile(journal, []byte("{}\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	dpkg("-i", deb2)
	if got := mustRun(t, cmdSpec{}, debBin, "version"); got != "redis-vip 0.1.1\n" {
		t.Errorf("after the upgrade, redis-vip version: %q", got)
	}
	if !bytes.Equal(readFile(t, debConfig), edited) {
		t.Error("the upgrade changed the edited configuration")
	}
	wantGone(t, debConfig+".dpkg-new", debConfig+".dpkg-dist", debConfig+".dpkg-old")
	wantMeta(t, debConfig, "root", scriptUser, 0o640)
	wantExists(t, journal, timerLink)

	// Upgrade to a package whose example changed, unattended (what apt's
	// Dpkg::Options::=--force-confold does): the edited one stays, the new
	// example lands next to it.
	dpkg("--force-confold", "-i", deb3)
	if !bytes.Equal(readFile(t, debConfig), edited) {
		t.Error("an upgrade with a changed example replaced the edited configuration")
	}
	wantSameContent(t, debConfig+".dpkg-dist", changed)

	// Remove: program gone; configuration, state, logs and user stay.
	dpkg("-r", "redis-vip")
	if s := packageStatus(t); s != "deinstall ok config-files" {
		t.Errorf("after dpkg -r: status %q", s)
	}
	wantGone(t, debBin, debUnitDir+"/redis-vip.service", "/usr/share/man/man1/redis-vip.1.gz", debExamples)
	wantExists(t, debConfig, journal, debBackupDir, debLogDir)
	if !bytes.Equal(readFile(t, debConfig), edited) {
		t.Error("dpkg -r changed the configuration")
	}
	if _, err := user.Lookup(scriptUser); err != nil {
		t.Errorf("dpkg -r removed the user: %v", err)
	}

	// Purge: all gone but the backups.
	backup := filepath.Join(debBackupDir, "redis6379-20260101T000000Z-abc-1.rdb")
	if err := os.WriteFile(backup, []byte("REDIS0011"), 0o640); err != nil {
		t.Fatal(err)
	}
	out = dpkg("--purge", "redis-vip")
	if s := packageStatus(t); s != "" {
		t.Errorf("after dpkg --purge: status %q", s)
	}
	wantGone(t, debConfig, debConfig+".dpkg-dist", "/etc/redis-vip", "/etc/logrotate.d/redis-vip", journal, debLogDir, textfileDir)
	wantExists(t, backup)
	if !strings.Contains(out, "kept "+debBackupDir) {
		t.Errorf("dpkg --purge does not say it kept the backups:\n%s", out)
	}
	// No enable link or mask of the units is left, dangling or not.
	wantGone(t, timerLink)
	for _, u := range units {
		wantGone(t, etcUnitDir+"/"+u)
	}
	for _, l := range danglingLinks(t, etcUnitDir) {
		if !slices.Contains(danglingBefore, l) {
			t.Errorf("purge left the dangling link %s", l)
		}
	}
	if left := filesNamed(t, "redis-vip", dshState, "/var/lib/systemd/deb-systemd-helper-masked"); len(left) > 0 {
		t.Errorf("deb-systemd-helper still records redis-vip units: %s", left)
	}
}

// checkDebFiles compares `dpkg -L` with the expected files, checks each
// one's owner, group, mode and content, and that no directory the package
// lists is writable by anyone but root.
func checkDebFiles(t *testing.T, want []debFile) {
	t.Helper()
	listed := strings.Split(strings.TrimSpace(mustRun(t, cmdSpec{}, "dpkg", "-L", "redis-vip")), "\n")
	var files []string
	for _, p := range listed {
		m, err := statMeta(p)
		if err != nil {
			t.Errorf("dpkg -L lists %s: %v", p, err)
			continue
		}
		if m.dir {
			if m.owner != "root" || m.mode&0o022 != 0 {
				t.Errorf("directory %s is %s: only root may write it", p, m)
			}
			continue
		}
		files = append(files, p)
	}
	var wantPaths []string
	for _, f := range want {
		wantPaths = append(wantPaths, f.path)
	}
	slices.Sort(files)
	slices.Sort(wantPaths)
	for _, p := range files {
		if !slices.Contains(wantPaths, p) {
			t.Errorf("the package installs %s, which the test does not expect", p)
		}
	}
	for _, f := range want {
		if !slices.Contains(files, f.path) {
			t.Errorf("the package does not install %s", f.path)
			continue
		}
		group := f.group
		if group == "" {
			group = "root"
		}
		wantMeta(t, f.path, "root", group, f.mode)
		if f.src != "" {
			wantSameContent(t, f.path, f.src)
		}
		if f.gzSrc != "" && gunzip(t, f.path) != string(readFile(t, f.gzSrc)) {
			t.Errorf("%s does not decompress to %s", f.path, f.gzSrc)
		}
	}
}

func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}
