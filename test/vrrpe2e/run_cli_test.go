package vrrpe2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// Bad configuration: one line naming every problem, exit code 2, before
// any socket is opened (so no root is needed).
func TestRunBadConfig(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "redis-vip.yml")
	must(t, os.WriteFile(conf, []byte(`
instances:
  a:
    local: 127.0.0.1:6379
    announce: 192.0.2.71:6379
    peer: 192.0.2.72:6379
    state_dir: `+dir+`
    backup_dir: `+dir+`
    vrrp:
      interface: rvt-nosuch0
      vrid: 51
      vips: [192.0.2.70/26]
  b:
    local: 127.0.0.1:6380
    announce: 192.0.2.71:6380
    peer: 192.0.2.72:6380
    state_dir: `+dir+`
    backup_dir: `+dir+`
    vrrp:
      interface: lo
      vrid: 300
      prority: 1
      advert_interval: 15ms
      vips: [192.0.2.70/26]
  c:
    local: 127.0.0.1:6381
    announce: 192.0.2.71:6381
    peer: 192.0.2.72:6381
    state_dir: `+dir+`
    backup_dir: `+dir+`
`), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"every problem at once", nil, []string{
			"instance a: vrrp: interface rvt-nosuch0: no such interface",
			"instance b: vrrp:", `unknown key "prority"`, "vrid 300: want 1-255", "advert_interval 15ms",
		}},
		{"named instance without vrrp", []string{"--instance", "c"}, []string{"instance c: no vrrp: section"}},
		{"unknown instance", []string{"--instance", "zz"}, []string{`unknown instance "zz"`}},
		{"arguments", []string{"extra"}, []string{"run takes no arguments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, append([]string{"run", "--config", conf}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want 2; stderr %q", err, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 {
				t.Errorf("want one line, got %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// Without CAP_NET_RAW the socket open fails with one clear line, exit 1;
// with CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities an
// unprivileged user (what redis-vip.service does) runs the VRRP mode.
func TestRunPrivileges(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	l := newLab(t)
	h1, h2 := l.Hosts[0], l.Hosts[1]
	must(t, l.Pair(runVRRP(150, nil), runVRRP(100, nil)))
	// Let "nobody" reach the config, the state dir and the log.
	for d := h1.Dir; d != "/" && d != "."; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
	for _, p := range []string{h1.Dir, h1.StateDir()} {
		must(t, os.MkdirAll(p, 0o755))
		must(t, os.Chown(p, 65534, 65534))
	}
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs"}

	out, err := exec.Command("ip", append(append([]string{"netns", "exec", h1.NS}, nobody...), bin, "run", "--config", h1.Config())...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("without capabilities: %v, want exit 1: %s", err, out)
	}
	if !strings.Contains(string(out), "needs CAP_NET_ADMIN and CAP_NET_RAW") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("without capabilities, want one line naming them: %q", out)
	}
	t.Logf("without capabilities: %s", strings.TrimSpace(string(out)))

	caps := append(nobody, "--inh-caps=+net_admin,+net_raw", "--ambient-caps=+net_admin,+net_raw", "--bounding-set=-all,+net_admin,+net_raw")
	must(t, h1.StartRun(caps...))
	must(t, h2.StartRun())
	must(t, netlab.WaitFor(5*time.Second, "h1 (unprivileged) holding the VIP", func() bool { return l.Holder() == "h1" }))
	at, err := h1.StopRun(syscall.SIGTERM)
	must(t, err)
	must(t, netlab.WaitFor(5*time.Second, "h2 holding the VIP", func() bool { return l.Holder() == "h2" }))
	t.Logf("unprivileged h1 handed over %s after SIGTERM", ms(time.Since(at)))
}
