// Package labcmd is what the two lab commands, rv-demo (make demo) and
// rv-lab (make lab), share around package lab: a Session claims a
// namespace prefix (one lab per prefix on the machine; namespaces a killed
// run left behind are removed), builds the binaries, prepares the lab dir,
// and tears it all down; Env reads the LAB_* variables both take as flag
// defaults.
package labcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// Session is one lab from the claim of its prefix to its teardown.
type Session struct {
	// Dir is the lab dir, Prefix the namespace prefix.
	Dir, Prefix string
	// Bin and Writer are the redis-vip and rv-writer binaries Build made.
	Bin, Writer string
	// Lab is the lab NewLab made (nil before).
	Lab *lab.Lab

	release func()
	binDir  string
}

// Start checks that this process may build a lab (root, the tools) and
// claims prefix. how is the command to suggest to a user who is not root.
func Start(dir, prefix, how string, tools ...string) (*Session, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("run as root (it creates network namespaces): sudo %s", how)
	}
	if err := NeedTools(tools...); err != nil {
		return nil, err
	}
	release, err := Claim(prefix)
	if err != nil {
		return nil, err
	}
	return &Session{Dir: dir, Prefix: prefix, release: release}, nil
}

// Build builds redis-vip and rv-writer for the lab (Bin, Writer).
func (s *Session) Build() (err error) {
	s.binDir, s.Bin, s.Writer, err = Build()
	return err
}

// NewLab prepares the lab dir and returns the lab of o, with the session's
// dir, prefix and binaries (o.Bin wins when set).
func (s *Session) NewLab(o lab.Options) (*lab.Lab, error) {
	if err := PrepareDir(s.Dir); err != nil {
		return nil, err
	}
	o.Dir, o.Prefix, o.Writer = s.Dir, s.Prefix, s.Writer
	if o.Bin == "" {
		o.Bin = s.Bin
	}
	s.Lab = lab.New(o)
	return s.Lab, nil
}

// Close kills the lab's processes, deletes its namespaces and binaries,
// the lab dir unless keep, and releases the prefix. It returns the
// namespaces still there afterwards (none, unless something is wrong) and
// why the dir could not be removed.
func (s *Session) Close(keep bool) (left []string, err error) {
	if s.Lab != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = s.Lab.Down(ctx)
		cancel()
	}
	if s.binDir != "" {
		_ = os.RemoveAll(s.binDir)
	}
	left = Namespaces(s.Prefix)
	if s.Lab != nil && !keep {
		err = errors.Join(err, RemoveDir(s.Dir))
	}
	s.release()
	return left, err
}

// Build builds redis-vip and rv-writer (netlab.Build: from the source this
// program was built from) into a fresh root-owned 0755 dir, which the
// keepalived script user can reach, and returns the dir and the two paths.
// The caller removes the dir.
func Build() (dir, bin, writer string, err error) {
	dir, err = os.MkdirTemp("", "redis-vip-lab-bin.")
	if err != nil {
		return "", "", "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return dir, "", "", err
	}
	bin, writer, err = netlab.Build(dir)
	return dir, bin, writer, err
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
		_ = netlab.RemoveNamespace(n)
	}
}

// Namespaces lists the namespaces of prefix that exist now.
func Namespaces(prefix string) []string {
	var found []string
	for _, ns := range netlab.Namespaces() {
		for _, n := range nsNames {
			if ns == prefix+"-"+n {
				found = append(found, ns)
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
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
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
