// Package labcmd is what the two lab commands, rv-demo (make demo) and
// rv-lab (make lab), share around package lab: finding the repository,
// building the binaries, claiming a namespace prefix (one lab per prefix on
// the machine; namespaces a killed run left behind are removed), preparing
// the lab dir, and the settings both read from flags or LAB_* variables.
package labcmd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Repo finds the repository root (the dir whose go.mod declares the
// module) from the working directory up.
func Repo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/redis-vip/redis-vip\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no redis-vip repository at or above %s: run from the repository", dir)
		}
	}
}

// Build compiles redis-vip and rv-writer (CGO_ENABLED=0) into a fresh
// root-owned 0755 dir, which the keepalived script user can reach, and
// returns the dir and the two paths. The caller removes the dir.
func Build(repo string) (dir, bin, writer string, err error) {
	dir, err = os.MkdirTemp("", "redis-vip-lab-bin.")
	if err != nil {
		return "", "", "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, "", "", err
	}
	bin, writer = filepath.Join(dir, "redis-vip"), filepath.Join(dir, "rv-writer")
	for _, b := range [][2]string{{bin, "./cmd/redis-vip"}, {writer, "./test/writer/cmd/rv-writer"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return dir, "", "", fmt.Errorf("go build %s: %w: %s", b[1], err, strings.TrimSpace(string(out)))
		}
	}
	return dir, bin, writer, nil
}

// nsNames are the namespaces a lab with a prefix has (netlab's names, and
// "client", the old shell lab's name for c).
var nsNames = []string{"h1", "h2", "w", "c", "client", "br"}

// Claim takes the prefix for this process (an flock on a file under
// /run/lock, released when the process ends) and removes what a killed
// earlier lab with the same prefix left: the processes in its namespaces
// and the namespaces. It fails when another live process holds the prefix.
func Claim(prefix string) (release func(), err error) {
	if prefix == "" || strings.ContainsAny(prefix, "/ \t") {
		return nil, fmt.Errorf("bad namespace prefix %q", prefix)
	}
	dir := "/run/lock"
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "redis-vip-lab-"+prefix+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("a lab with namespace prefix %q is already running (pid %s); choose another prefix", prefix, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	Reap(prefix)
	return func() { f.Close() }, nil
}

// Reap kills every process in the namespaces of prefix and deletes them.
func Reap(prefix string) {
	for _, n := range Namespaces(prefix) {
		if out, err := exec.Command("ip", "netns", "pids", n).Output(); err == nil {
			for _, p := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(p); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		_ = exec.Command("ip", "netns", "del", n).Run()
	}
}

// Namespaces lists the namespaces of prefix that exist now.
func Namespaces(prefix string) []string {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		for _, n := range nsNames {
			if f[0] == prefix+"-"+n {
				found = append(found, f[0])
			}
		}
	}
	return found
}

// marker marks a dir as a lab dir, which PrepareDir may empty (the shell
// lab's marker is accepted too).
const marker = ".redis-vip-lab"

// PrepareDir makes dir a fresh, empty lab dir (0755, as the keepalived
// script user needs): a lab dir an earlier run left is emptied; a
// non-empty dir that is not a lab dir is refused.
func PrepareDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("lab dir %q: want an absolute path", dir)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("not using %s: it is not empty and has no %s in it (not a lab dir); choose another dir", dir, marker)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), nil, 0o644)
}

// RemoveDir deletes a lab dir PrepareDir made (nothing else).
func RemoveDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		return fmt.Errorf("not deleting %s: no %s in it", dir, marker)
	}
	return os.RemoveAll(dir)
}

// Env returns the environment variable name, or def when it is unset.
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// NeedTools fails with one line naming the first missing tool.
func NeedTools(names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s not found (make deps, scripts/install-deps.sh, installs it)", n)
		}
	}
	return nil
}
