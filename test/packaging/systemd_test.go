package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// ensureSystemdAnalyze finds systemd-analyze, installing Debian's systemd
// package when it is missing and this is root; otherwise the caller skips.
// It reads unit files without a running systemd (PID 1 need not be it).
func ensureSystemdAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		return
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		t.Skip("systemd-analyze not installed (root with apt-get would install Debian's systemd package)")
	}
	out, err := run(t, cmdSpec{env: []string{"DEBIAN_FRONTEND=noninteractive"}, timeout: aptTimeout},
		"apt-get", "install", "-y", "-q", "--no-install-recommends", "systemd")
	if _, lerr := exec.LookPath("systemd-analyze"); lerr != nil {
		t.Skipf("systemd-analyze not installed, and apt-get could not install systemd: %v\n%s", err, out)
	}
}

// verifyUnits runs `systemd-analyze verify` on unit files: it must succeed
// and print nothing (it prints every problem it finds, warnings included).
func verifyUnits(t *testing.T, units ...string) {
	t.Helper()
	out, err := run(t, cmdSpec{}, "systemd-analyze", append([]string{"verify"}, units...)...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(units, " "), err, out)
	}
}

// verifyRedisDropins verifies redis-server.service as Debian installs it
// with the shipped drop-ins applied, from a copy in a temporary directory
// (systemd-analyze reads NAME.service.d/ next to the file it is given).
func verifyRedisDropins(t *testing.T, dropins []string) {
	t.Helper()
	unit := "/lib/systemd/system/redis-server.service"
	if _, err := os.Stat(unit); err != nil {
		t.Skipf("redis-server is not installed (%v): nothing to apply the drop-in to", err)
	}
	if len(dropins) == 0 {
		t.Fatal("no redis-server drop-in shipped")
	}
	dir := t.TempDir()
	copyFile(t, unit, filepath.Join(dir, "redis-server.service"))
	for _, d := range dropins {
		copyFile(t, d, filepath.Join(dir, "redis-server.service.d", filepath.Base(d)))
	}
	verifyUnits(t, filepath.Join(dir, "redis-server.service"))
	// Proof that the drop-ins were read: systemd's debug log names them.
	out, _ := run(t, cmdSpec{env: []string{"SYSTEMD_LOG_LEVEL=debug"}}, "systemd-analyze", "verify", filepath.Join(dir, "redis-server.service"))
	for _, d := range dropins {
		if p := filepath.Join(dir, "redis-server.service.d", filepath.Base(d)); !strings.Contains(out, "DropIn Path: "+p) {
			t.Errorf("systemd-analyze did not load the drop-in %s", p)
		}
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, readFile(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// maxExposure is the highest `systemd-analyze security` exposure a shipped
// service may have (0 is best, 10 worst; systemd calls up to 2.0 "OK").
const maxExposure = 2.0

var exposureLine = regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)

// TestUnitSecurity scores every shipped service with `systemd-analyze
// security --offline=true` (it reads the unit file; no running systemd) and
// fails above maxExposure.
func TestUnitSecurity(t *testing.T) {
	ensureSystemdAnalyze(t)
	services := globRepo(t, "packaging/systemd/*.service")
	if len(services) < 2 {
		t.Fatalf("found only %v", services)
	}
	for _, unit := range services {
		out, err := run(t, cmdSpec{}, "systemd-analyze", "security", "--offline=true", "--no-pager", unit)
		if strings.Contains(out, "Failed to initialize unit search paths") {
			// The tool, not the unit: it makes a directory in /tmp, which a
			// user other than root cannot where /tmp is not world-writable.
			t.Skipf("systemd-analyze cannot run as this user here: %s", strings.TrimSpace(out))
		}
		m := exposureLine.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", unit, err, out)
			continue
		}
		score, _ := strconv.ParseFloat(m[2], 64)
		t.Logf("%s: exposure %.1f", filepath.Base(unit), score)
		if score > maxExposure {
			t.Errorf("%s: exposure %.1f, want at most %.1f:\n%s", filepath.Base(unit), score, maxExposure, out)
		}
	}
}
