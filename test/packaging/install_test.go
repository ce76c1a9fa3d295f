package packaging

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// installLayout is where scripts/install.sh puts things for a prefix.
type installLayout struct {
	prefix, bin, man, bash, zsh, doc string
}

func layoutFor(prefix string) installLayout {
	l := installLayout{
		prefix: prefix,
		bin:    prefix + "/bin/redis-vip",
		man:    prefix + "/share/man/man1/redis-vip.1.gz",
		bash:   prefix + "/share/bash-completion/completions/redis-vip",
		zsh:    prefix + "/share/zsh/site-functions/_redis-vip",
		doc:    prefix + "/share/doc/redis-vip",
	}
	if prefix == "/usr" {
		l.zsh = "/usr/share/zsh/vendor-completions/_redis-vip"
	}
	return l
}

const (
	unitDir      = "/etc/systemd/system"
	dropinDir    = "/etc/systemd/system/redis-server.service.d"
	guardInclude = "/etc/redis/redis-vip-guard.conf"
	logrotate    = "/etc/logrotate.d/redis-vip"
)

var units = []string{"redis-vip.service", "redis-vip-reconcile.service", "redis-vip-report.service", "redis-vip-report.timer"}

// installed lists the files install.sh installs (not the kept ones).
func (l installLayout) installed(t *testing.T) []string {
	t.Helper()
	files := []string{l.bin, l.man, l.bash, l.zsh, logrotate, l.doc + "/examples/redis-vip.yml", l.doc + "/examples/cron/redis-vip-report"}
	for _, u := range units {
		files = append(files, unitDir+"/"+u)
	}
	for dir, pattern := range map[string]string{
		"keepalived":                     "packaging/keepalived/*.conf",
		"haproxy":                        "packaging/haproxy/*.cfg",
		"systemd/redis-server.service.d": "packaging/systemd/redis-server.service.d/*.conf",
		"redis":                          "packaging/redis/*.conf",
	} {
		for _, src := range globRepo(t, pattern) {
			files = append(files, l.doc+"/examples/"+dir+"/"+filepath.Base(src))
		}
	}
	for _, src := range globRepo(t, "packaging/systemd/redis-server.service.d/*.conf") {
		files = append(files, dropinDir+"/"+filepath.Base(src))
	}
	return files
}

// pathStamp is what must not change when a second run changes nothing.
type pathStamp struct {
	ctime, mtime syscall.Timespec
	ino          uint64
	mode         uint32
	uid, gid     uint32
}

func stamps(t *testing.T, paths []string) map[string]pathStamp {
	t.Helper()
	out := map[string]pathStamp{}
	for _, p := range paths {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			continue
		}
		out[p] = pathStamp{ctime: st.Ctim, mtime: st.Mtim, ino: st.Ino, mode: st.Mode, uid: st.Uid, gid: st.Gid}
	}
	return out
}

// TestInstallScript runs scripts/install.sh on this machine: a dry run
// changes nothing; an install puts every file in place with the right
// owner and mode, creates the script user and its directories, and
// installs a configuration; a second run changes nothing at all (not even
// a ctime); an edited configuration is kept while a wrong mode is fixed
// and a new binary replaces the old; --uninstall removes what it installed
// and keeps configuration, data, logs and user; a second --uninstall does
// nothing; a prefix keepalived would refuse is refused; --prefix
// /usr/local rewrites the units to name the binary there.
func TestInstallScript(t *testing.T) {
	requireRoot(t)
	requireTools(t, "install", "useradd", "cmp", "gzip")
	requireNoPackage(t)
	root := repoRoot(t)
	script := filepath.Join(root, "scripts", "install.sh")
	usr, local := layoutFor("/usr"), layoutFor("/usr/local")
	kept := []string{"/etc/redis-vip", "/var/lib/redis-vip", "/var/log/redis-vip", textfileDir, guardInclude, dropinDir}
	var all []string
	all = append(all, kept...)
	all = append(all, usr.installed(t)...)
	all = append(all, local.installed(t)...)
	all = append(all, usr.doc, local.doc)
	for _, p := range all {
		if exists(p) && !slices.Contains([]string{dropinDir, "/etc/redis"}, p) {
			t.Skipf("%s exists: redis-vip is installed here already; not touching it", p)
		}
	}
	// Parent directories install.sh may create, deepest last.
	all = append(all, "/usr/local/share/man/man1", "/usr/local/share/man", "/usr/local/share/bash-completion/completions",
		"/usr/local/share/bash-completion", "/usr/local/share/zsh/site-functions", "/usr/local/share/zsh",
		"/usr/share/bash-completion/completions", "/usr/share/bash-completion", "/usr/share/zsh/vendor-completions", "/usr/share/zsh")
	saveHost(t, all...)
	_, redisDir := os.Stat("/etc/redis")

	dir := t.TempDir()
	bin1 := buildBinary(t, dir+"/1", "0.2.0")
	bin2 := buildBinary(t, dir+"/2", "0.2.1")
	install := func(args ...string) string {
		t.Helper()
		return mustRun(t, cmdSpec{timeout: commandTimeout}, script, args...)
	}

	// Dry run: prints the plan, changes nothing.
	before := stamps(t, all)
	out := install("--binary", bin1, "--with-guard", "--dry-run")
	if !strings.Contains(out, "would install /usr/bin/redis-vip (root:root 0755)") {
		t.Errorf("dry run does not show the binary's installation:\n%s", out)
	}
	if after := stamps(t, all); !mapsEqual(before, after) {
		t.Errorf("the dry run changed the machine:\n%s", out)
	}

	// Install.
	out = install("--binary", bin1, "--with-guard")
	t.Logf("install.sh:\n%s", out)
	for _, want := range []string{
		"install /usr/bin/redis-vip (root:root 0755)",
		"create directory /var/lib/redis-vip (redis-vip:redis-vip 0750)",
		"install /etc/redis-vip/redis-vip.yml (root:redis-vip 0640)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install.sh does not print %q", want)
		}
	}
	checkInstalled(t, usr, bin1, true)
	if got := mustRun(t, cmdSpec{}, usr.bin, "version"); got != "redis-vip 0.2.0\n" {
		t.Errorf("redis-vip version: %q", got)
	}
	wantSameContent(t, "/etc/redis-vip/redis-vip.yml", filepath.Join(root, "config/testdata/full.yml"))
	checkScriptUser(t, false)
	checkUserAccess(t, usr.bin, "/etc/redis-vip/redis-vip.yml", "/var/lib/redis-vip", "/var/lib/redis-vip/backups", "/var/log/redis-vip", textfileDir)

	// Again: nothing changes, not even a ctime.
	before = stamps(t, all)
	out = install("--binary", bin1, "--with-guard")
	if !strings.HasSuffix(strings.TrimSpace(out), "install.sh: 0 changes") {
		t.Errorf("second run changed something:\n%s", out)
	}
	if after := stamps(t, all); !mapsEqual(before, after) {
		for p, s := range after {
			if before[p] != s {
				t.Errorf("second run touched %s", p)
			}
		}
	}

	// An edited configuration is kept, its mode fixed; a new binary replaces the old.
	edited := append(readFile(t, "/etc/redis-vip/redis-vip.yml"), "# edited\n"...)
	if err := os.WriteFile("/etc/redis-vip/redis-vip.yml", edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod("/etc/redis-vip/redis-vip.yml", 0o644); err != nil {
		t.Fatal(err)
	}
	out = install("--binary", bin2, "--with-guard")
	for _, want := range []string{"update /usr/bin/redis-vip", "chmod 0640 /etc/redis-vip/redis-vip.yml (was 644)", "ok: /etc/redis-vip/redis-vip.yml exists: kept"} {
		if !strings.Contains(out, want) {
			t.Errorf("third run does not print %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "update /etc/redis-vip") {
		t.Errorf("third run replaced the configuration:\n%s", out)
	}
	if !bytes.Equal(readFile(t, "/etc/redis-vip/redis-vip.yml"), edited) {
		t.Error("install.sh changed an existing configuration")
	}
	wantMeta(t, "/etc/redis-vip/redis-vip.yml", "root", scriptUser, 0o640)
	if got := mustRun(t, cmdSpec{}, usr.bin, "version"); got != "redis-vip 0.2.1\n" {
		t.Errorf("after the update, redis-vip version: %q", got)
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		ensureSystemdAnalyze(t)
		var paths []string
		for _, u := range units {
			paths = append(paths, unitDir+"/"+u)
		}
		verifyUnits(t, paths...)
	})

	// Uninstall: what it installed goes; configuration, data, logs, user stay.
	out = install("--uninstall")
	t.Logf("install.sh --uninstall:\n%s", out)
	wantGone(t, usr.installed(t)...)
	wantGone(t, usr.doc)
	wantExists(t, "/etc/redis-vip/redis-vip.yml", "/var/lib/redis-vip/backups", "/var/log/redis-vip", textfileDir)
	if redisDir == nil {
		wantExists(t, guardInclude)
	}
	if !bytes.Equal(readFile(t, "/etc/redis-vip/redis-vip.yml"), edited) {
		t.Error("--uninstall changed the configuration")
	}
	checkScriptUser(t, false)
	for _, want := range []string{"kept /etc/redis-vip/redis-vip.yml", "kept /var/lib/redis-vip", "kept user redis-vip"} {
		if !strings.Contains(out, want) {
			t.Errorf("--uninstall does not say %q", want)
		}
	}
	if out := install("--uninstall"); !strings.HasSuffix(strings.TrimSpace(out), "install.sh: 0 changes") {
		t.Errorf("second --uninstall changed something:\n%s", out)
	}

	// A prefix keepalived's script security would refuse.
	unsafe := filepath.Join(dir, "unsafe")
	if err := os.MkdirAll(unsafe, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(unsafe, 0o777); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, cmdSpec{}, script, "--binary", bin1, "--prefix", unsafe)
	if err == nil || !strings.Contains(out, "enable_script_security") {
		t.Errorf("install.sh --prefix %s (mode 0777): want a refusal naming enable_script_security, got %v:\n%s", unsafe, err, out)
	}
	wantGone(t, unsafe+"/bin")

	// --prefix /usr/local: the units name the binary there.
	install("--binary", bin1, "--prefix", "/usr/local")
	checkInstalled(t, local, bin1, false)
	for _, u := range units {
		text := string(readFile(t, unitDir+"/"+u))
		if strings.Contains(text, "/usr/bin/redis-vip") {
			t.Errorf("%s still names /usr/bin/redis-vip", u)
		}
		if u != "redis-vip-report.timer" && !strings.Contains(text, "/usr/local/bin/redis-vip") {
			t.Errorf("%s does not name /usr/local/bin/redis-vip", u)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		verifyUnits(t, unitDir+"/redis-vip.service", unitDir+"/redis-vip-reconcile.service", unitDir+"/redis-vip-report.service")
	}
	install("--uninstall", "--prefix", "/usr/local")
	wantGone(t, local.installed(t)...)
}

// checkInstalled checks owner, group and mode of what install.sh installed;
// guard: it ran with --with-guard.
func checkInstalled(t *testing.T, l installLayout, bin string, guard bool) {
	t.Helper()
	wantSameContent(t, l.bin, bin)
	wantMeta(t, l.bin, "root", "root", 0o755)
	wantMeta(t, "/etc/redis-vip/redis-vip.yml", "root", scriptUser, 0o640)
	for _, d := range []string{"/var/lib/redis-vip", "/var/lib/redis-vip/backups", "/var/log/redis-vip"} {
		wantMeta(t, d, scriptUser, scriptUser, 0o750)
	}
	wantMeta(t, textfileDir, scriptUser, scriptUser, 0o755)
	for _, f := range l.installed(t) {
		if f == l.bin {
			continue
		}
		if strings.HasPrefix(f, dropinDir) && !guard {
			continue
		}
		wantMeta(t, f, "root", "root", fs.FileMode(0o644))
	}
	if _, err := os.Stat("/etc/redis"); guard && err == nil {
		wantMeta(t, guardInclude, "root", "root", 0o644)
	}
	// Every directory above the binary: root's alone (enable_script_security).
	for p := filepath.Dir(l.bin); ; p = filepath.Dir(p) {
		if m, err := statMeta(p); err != nil || m.owner != "root" || m.mode&0o022 != 0 {
			t.Errorf("%s: %v %v: keepalived's enable_script_security would refuse %s", p, m, err, l.bin)
		}
		if p == "/" {
			break
		}
	}
	checkInstalledCompletion(t, l.bash, l.bin)
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
