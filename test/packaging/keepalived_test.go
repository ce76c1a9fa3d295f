package packaging

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keepalivedConf is what the checks need from a keepalived.conf.
type keepalivedConf struct {
	scriptUser  string
	programs    []string // the program of every script and notify hook
	checks      []string // vrrp_script names
	interfaces  []string
	addresses   []string // unicast_src_ip / mcast_src_ip: must be local
	notifyFIFOs []string
}

var (
	kaComment    = regexp.MustCompile(`(?m)[#!].*$`)
	kaScript     = regexp.MustCompile(`(?m)^\s*(?:script|notify|notify_master|notify_backup|notify_fault|notify_stop|notify_master_rx_lower_pri|notify_deleted|vrrp_notify_fifo_script|notify_fifo_script)\s+(?:"([^"]+)"|(\S+))`)
	kaScriptUser = regexp.MustCompile(`(?m)^\s*script_user\s+(\S+)`)
	kaCheck      = regexp.MustCompile(`(?m)^\s*vrrp_script\s+(\S+)`)
	kaInterface  = regexp.MustCompile(`(?m)(?:^\s*interface|\sdev)\s+(\S+)`)
	kaSource     = regexp.MustCompile(`(?m)^\s*(?:unicast_src_ip|mcast_src_ip)\s+(\S+)`)
	kaFIFO       = regexp.MustCompile(`(?m)^\s*vrrp_notify_fifo\s+(\S+)`)
)

func parseKeepalivedConf(t *testing.T, path string) keepalivedConf {
	t.Helper()
	text := kaComment.ReplaceAllString(string(readFile(t, path)), "")
	var c keepalivedConf
	if m := kaScriptUser.FindStringSubmatch(text); m != nil {
		c.scriptUser = m[1]
	}
	for _, m := range kaScript.FindAllStringSubmatch(text, -1) {
		cmd := m[1] + m[2]
		if f := strings.Fields(cmd); len(f) > 0 {
			c.programs = append(c.programs, f[0])
		}
	}
	add := func(list *[]string, re *regexp.Regexp) {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(*list, m[1]) {
				*list = append(*list, m[1])
			}
		}
	}
	add(&c.checks, kaCheck)
	add(&c.interfaces, kaInterface)
	add(&c.addresses, kaSource)
	add(&c.notifyFIFOs, kaFIFO)
	return c
}

// checkScriptSecurity applies keepalived's enable_script_security rule to
// every program the configuration runs: an absolute path to an executable
// file that, like every directory above it, is owned by root and not
// writable by group or others.
func checkScriptSecurity(t *testing.T, conf keepalivedConf) {
	t.Helper()
	if conf.scriptUser != "" {
		if _, err := user.Lookup(conf.scriptUser); err != nil {
			t.Errorf("script_user %s: %v", conf.scriptUser, err)
		}
	}
	if len(conf.programs) == 0 {
		t.Error("no scripts found in the configuration")
	}
	for _, prog := range conf.programs {
		if !filepath.IsAbs(prog) {
			t.Errorf("script %s: not an absolute path (keepalived does no PATH search under script security)", prog)
			continue
		}
		fi, err := os.Stat(prog)
		if err != nil {
			t.Errorf("script %s: %v", prog, err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("script %s: not an executable file (%s)", prog, fi.Mode())
		}
		for p := prog; ; p = filepath.Dir(p) {
			m, err := statMeta(p)
			if err != nil {
				t.Errorf("script %s: %v", prog, err)
				break
			}
			if m.owner != "root" || m.mode&0o022 != 0 {
				t.Errorf("script %s: %s is %s: keepalived's enable_script_security refuses it", prog, p, m)
			}
			if p == "/" {
				break
			}
		}
	}
}

// netnsFor makes a network namespace with the interfaces and addresses a
// keepalived.conf names (veth pairs, so no kernel module is needed), and
// removes it when the test ends.
func netnsFor(t *testing.T, n int, conf keepalivedConf) string {
	t.Helper()
	requireTools(t, "ip")
	ns := fmt.Sprintf("rvtest-packaging-%d-%d", os.Getpid(), n)
	mustRun(t, cmdSpec{}, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := run(t, cmdSpec{}, "ip", "netns", "del", ns); err != nil {
			t.Errorf("cleanup: %v\n%s", err, out)
		}
	})
	mustRun(t, cmdSpec{}, "ip", "-n", ns, "link", "set", "lo", "up")
	for i, ifname := range conf.interfaces {
		peer := fmt.Sprintf("rvpeer%d", i)
		mustRun(t, cmdSpec{}, "ip", "-n", ns, "link", "add", ifname, "type", "veth", "peer", "name", peer)
		mustRun(t, cmdSpec{}, "ip", "-n", ns, "link", "set", ifname, "up")
		mustRun(t, cmdSpec{}, "ip", "-n", ns, "link", "set", peer, "up")
		if i == 0 {
			for _, a := range conf.addresses {
				mustRun(t, cmdSpec{}, "ip", "-n", ns, "addr", "add", a+"/24", "dev", ifname)
			}
		}
	}
	return ns
}

// keepalivedConfigTest runs `keepalived --config-test`. keepalived 2.2.7
// prints only problems and ends a clean test by sending itself SIGTERM, so
// success is: no output, and exit 0 or SIGTERM.
func keepalivedConfigTest(t *testing.T, ns, path string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "keepalived", "--config-test", "-f", path)
	timer := time.AfterFunc(commandTimeout, func() { _ = cmd.Process.Kill() })
	out, err := cmd.CombinedOutput()
	timer.Stop()
	var exit *exec.ExitError
	clean := err == nil
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			clean = true
		}
	}
	if !clean || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("keepalived --config-test -f %s: %v\n%s", path, err, out)
	}
}

// kaTrouble matches what keepalived logs when it refuses a script or a
// part of the configuration.
var kaTrouble = regexp.MustCompile(`(?i)unsafe|insecure|security violation|not executable|cannot|disabl|not found|doesn't exist|error|permission denied|no such file|unknown keyword`)

// keepalivedRun starts keepalived with the configuration in the namespace,
// waits until it has run the first check script (bounded), stops it, and
// fails on any complaint in its log: the real test of script security,
// which --config-test does not apply.
func keepalivedRun(t *testing.T, ns, path string, conf keepalivedConf) {
	t.Helper()
	if len(conf.checks) == 0 {
		t.Errorf("%s: no vrrp_script", path)
		return
	}
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "keepalived", "-n", "-l", "-D", "-G", "-P",
		"-f", path, "-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group: the hooks it starts go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	exited := false
	t.Cleanup(func() {
		if !exited {
			killGroup()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	ran := regexp.MustCompile(`VRRP_Script\((` + strings.Join(quoteAll(conf.checks), "|") + `)\) (succeeded|failed)|Script .(` +
		strings.Join(quoteAll(conf.checks), "|") + `). now returning`)
	var log []string
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	seen := false
wait:
	for !seen {
		select {
		case l, ok := <-lines:
			if !ok {
				break wait
			}
			log = append(log, l)
			seen = ran.MatchString(l)
		case <-deadline.C:
			break wait
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	// keepalived stops its hooks and exits; the pipe closes when the last
	// of them has. Bounded: SIGKILL to the group after 15 s, give up 5 s later.
	stop := time.NewTimer(15 * time.Second)
	defer stop.Stop()
	killed := false
drain:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break drain
			}
			log = append(log, l)
		case <-stop.C:
			if killed {
				t.Errorf("keepalived -f %s: output still open after SIGKILL", path)
				break drain
			}
			killed = true
			killGroup()
			stop.Reset(5 * time.Second)
		}
	}
	killGroup() // whatever of the group is left
	_ = cmd.Wait()
	exited = true
	if !seen {
		t.Errorf("keepalived -f %s never ran a check script (%v); its log:\n%s", path, conf.checks, strings.Join(log, "\n"))
		return
	}
	for _, l := range log {
		if kaTrouble.MatchString(l) {
			t.Errorf("keepalived -f %s complains: %s", path, l)
		}
	}
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = regexp.QuoteMeta(s)
	}
	return out
}

// checkKeepalivedExamples checks each example configuration against the
// installed program (the path it names): keepalived's script rules, its
// --config-test, and a short real run in a network namespace.
func checkKeepalivedExamples(t *testing.T, installed string) {
	t.Helper()
	requireTools(t, "keepalived", "ip")
	examples := globRepo(t, "packaging/keepalived/*.conf")
	if len(examples) == 0 {
		t.Fatal("no packaging/keepalived/*.conf")
	}
	for i, src := range examples {
		t.Run(filepath.Base(src), func(t *testing.T) {
			path := filepath.Join(installed, filepath.Base(src))
			wantSameContent(t, path, src)
			conf := parseKeepalivedConf(t, path)
			checkScriptSecurity(t, conf)
			ns := netnsFor(t, i, conf)
			keepalivedConfigTest(t, ns, path)
			keepalivedRun(t, ns, path, conf)
		})
	}
}
