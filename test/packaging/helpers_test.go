package packaging

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/testtier"
)

// Bounds on the commands the tests run. Builds have none (untimed): they
// are CPU-bound, a cold one on a busy two-core machine takes minutes, and
// go test's -timeout bounds the whole run anyway.
const (
	untimed        = time.Duration(-1)
	dpkgTimeout    = 2 * time.Minute
	commandTimeout = 30 * time.Second
	aptTimeout     = 3 * time.Minute
)

func TestMain(m *testing.M) {
	code := m.Run()
	if docsBins.dir != "" {
		os.RemoveAll(docsBins.dir)
	}
	os.Exit(code)
}

// repoRoot is the repository's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find this file's path")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// requireRoot skips a test that installs into this machine: it is of the
// end-to-end tier, and needs root.
func requireRoot(t *testing.T) {
	t.Helper()
	testtier.RequireEndToEnd(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: installs into this machine")
	}
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// cmdSpec is one command to run.
type cmdSpec struct {
	dir     string
	env     []string // added to the test's environment
	stdin   string
	timeout time.Duration
}

// run runs a command and returns its combined output. The error says how
// it ended; the output is returned either way.
func run(t *testing.T, spec cmdSpec, name string, args ...string) (string, error) {
	t.Helper()
	if spec.timeout == 0 {
		spec.timeout = commandTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	if spec.timeout != untimed {
		ctx, cancel = context.WithTimeout(context.Background(), spec.timeout)
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = spec.dir
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Stdin = strings.NewReader(spec.stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %s: %w", name, strings.Join(args, " "), spec.timeout, ctx.Err())
	} else if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), err
}

// mustRun runs a command and fails the test if it does not succeed.
func mustRun(t *testing.T, spec cmdSpec, name string, args ...string) string {
	t.Helper()
	out, err := run(t, spec, name, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// goEnv puts the go command first in PATH, for the scripts.
func goEnv(t *testing.T) []string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	goBin := filepath.Dir(p)
	return []string{"PATH=" + goBin + string(os.PathListSeparator) + os.Getenv("PATH")}
}

// buildBinary builds redis-vip as `make build` does, stamped with version.
func buildBinary(t *testing.T, dir, version string) string {
	t.Helper()
	return goBuild(t, filepath.Join(dir, "redis-vip"), "urfave_cli_no_docs", "-s -w -X main.version="+version)
}

// goBuild builds cmd/redis-vip into bin with build tags and linker flags,
// static and -trimpath, with no deadline.
func goBuild(t *testing.T, bin, tags, ldflags string) string {
	t.Helper()
	mustRun(t, cmdSpec{dir: repoRoot(t), env: append(goEnv(t), "CGO_ENABLED=0"), timeout: untimed},
		"go", "build", "-tags", tags, "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/redis-vip")
	return bin
}

// buildDeb runs scripts/build-deb.sh and returns the package's path.
func buildDeb(t *testing.T, dir, version string, args ...string) string {
	t.Helper()
	out := mustRun(t, cmdSpec{dir: repoRoot(t), env: goEnv(t), timeout: untimed},
		"scripts/build-deb.sh", append([]string{"--version", version, "--out", dir}, args...)...)
	deb := filepath.Join(dir, "redis-vip_"+version+"_amd64.deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("build-deb.sh did not write %s:\n%s", deb, out)
	}
	return deb
}

// fileMeta is what the tests check of an installed path.
type fileMeta struct {
	owner, group string
	mode         fs.FileMode // permission bits only
	dir          bool
}

func (m fileMeta) String() string {
	return fmt.Sprintf("%s:%s %04o", m.owner, m.group, m.mode)
}

// statMeta reads owner, group and mode, following symlinks.
func statMeta(path string) (fileMeta, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileMeta{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileMeta{}, fmt.Errorf("%s: no stat_t", path)
	}
	m := fileMeta{mode: fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), dir: fi.IsDir()}
	m.owner = fmt.Sprint(st.Uid)
	if u, err := user.LookupId(m.owner); err == nil {
		m.owner = u.Username
	}
	m.group = fmt.Sprint(st.Gid)
	if g, err := user.LookupGroupId(m.group); err == nil {
		m.group = g.Name
	}
	return m, nil
}

// wantMeta reports an error unless path has the owner, group and mode.
func wantMeta(t *testing.T, path, owner, group string, mode fs.FileMode) {
	t.Helper()
	m, err := statMeta(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	want := fileMeta{owner: owner, group: group, mode: mode}
	if m.owner != want.owner || m.group != want.group || m.mode != want.mode {
		t.Errorf("%s is %s, want %s", path, m, want)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func wantExists(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if !exists(p) {
			t.Errorf("%s is missing", p)
		}
	}
}

func wantGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if exists(p) {
			t.Errorf("%s still exists", p)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantSameContent(t *testing.T, got, want string) {
	t.Helper()
	a, errA := os.ReadFile(got)
	b, errB := os.ReadFile(want)
	if err := errors.Join(errA, errB); err != nil {
		t.Errorf("compare %s with %s: %v", got, want, err)
		return
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s", got, want)
	}
}

// wantStatic fails unless path is an ELF executable without an interpreter.
func wantStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has PT_INTERP)", path)
		}
	}
}

// globRepo lists the repository's files matching pattern, sorted.
func globRepo(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repoRoot(t), pattern))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// packageStatus is dpkg's status of the redis-vip package ("" when dpkg
// knows nothing of it).
func packageStatus(t *testing.T) string {
	t.Helper()
	out, err := run(t, cmdSpec{}, "dpkg-query", "-W", "-f=${Status}", "redis-vip")
	if err != nil {
		return ""
	}
	if s := strings.TrimSpace(out); s != "unknown ok not-installed" {
		return s
	}
	return ""
}

// requireNoPackage skips when a redis-vip package is on this machine: the
// tests never touch an installation they did not make.
func requireNoPackage(t *testing.T) {
	t.Helper()
	if s := packageStatus(t); s != "" {
		t.Skipf("a redis-vip package is already on this machine (%s); not touching it", s)
	}
}

// hostState is what a test must put back: which of the paths it may create
// existed, and the script user as it was.
type hostState struct {
	paths        map[string]bool
	userExisted  bool
	groupExisted bool
	inRedisGroup bool
}

// scriptUser is the system user keepalived runs the hooks as.
const scriptUser = "redis-vip"

// inGroup says whether user is a member of group (primary or supplementary).
func inGroup(userName, group string) bool {
	u, err := user.Lookup(userName)
	if err != nil {
		return false
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	return err == nil && slices.Contains(ids, g.Gid)
}

// saveHost records the state of paths and of the script user and registers
// a cleanup that removes the paths that did not exist, deletes the user if
// the test created it, and takes it out of group redis if the test put it
// there. Register it before anything that installs, so that it runs last.
func saveHost(t *testing.T, paths ...string) {
	t.Helper()
	s := hostState{paths: map[string]bool{}}
	for _, p := range paths {
		s.paths[p] = exists(p)
	}
	_, err := user.Lookup(scriptUser)
	s.userExisted = err == nil
	_, err = user.LookupGroup(scriptUser)
	s.groupExisted = err == nil
	s.inRedisGroup = inGroup(scriptUser, "redis")
	t.Cleanup(func() {
		// Deepest first, so a parent left empty can go too.
		sorted := slices.Sorted(func(yield func(string) bool) {
			for p := range s.paths {
				if !yield(p) {
					return
				}
			}
		})
		slices.Reverse(sorted)
		for _, p := range sorted {
			if !s.paths[p] && exists(p) {
				if err := os.RemoveAll(p); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
		switch {
		case !s.userExisted:
			if _, err := user.Lookup(scriptUser); err == nil {
				if out, err := run(t, cmdSpec{}, "userdel", scriptUser); err != nil {
					t.Errorf("cleanup: %v\n%s", err, out)
				}
			}
		case !s.inRedisGroup && inGroup(scriptUser, "redis"):
			if out, err := run(t, cmdSpec{}, "gpasswd", "-d", scriptUser, "redis"); err != nil {
				t.Errorf("cleanup: %v\n%s", err, out)
			}
		}
		if !s.groupExisted {
			if _, err := user.LookupGroup(scriptUser); err == nil {
				if out, err := run(t, cmdSpec{}, "groupdel", scriptUser); err != nil {
					t.Errorf("cleanup: %v\n%s", err, out)
				}
			}
		}
	})
}

// checkScriptUser checks the user postinst and install.sh create.
func checkScriptUser(t *testing.T, createdByTest bool) {
	t.Helper()
	u, err := user.Lookup(scriptUser)
	if err != nil {
		t.Errorf("user %s: %v", scriptUser, err)
		return
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil || g.Name != scriptUser {
		t.Errorf("user %s: primary group %s, want %s", scriptUser, u.Gid, scriptUser)
	}
	var uid int
	fmt.Sscan(u.Uid, &uid)
	if uid == 0 || uid >= 1000 {
		t.Errorf("user %s has uid %d, want a system uid (1-999)", scriptUser, uid)
	}
	if createdByTest && u.HomeDir != "/var/lib/redis-vip" {
		t.Errorf("user %s: home %s, want /var/lib/redis-vip", scriptUser, u.HomeDir)
	}
	if _, err := user.LookupGroup("redis"); err == nil && !inGroup(scriptUser, "redis") {
		t.Errorf("user %s is not in group redis (backups read /var/lib/redis)", scriptUser)
	}
}

// checkUserAccess checks, as the script user, that it can run the binary,
// read the configuration and write its directories.
func checkUserAccess(t *testing.T, bin, config string, dirs ...string) {
	t.Helper()
	requireTools(t, "runuser")
	as := func(args ...string) {
		t.Helper()
		if out, err := run(t, cmdSpec{}, "runuser", append([]string{"-u", scriptUser, "--"}, args...)...); err != nil {
			t.Errorf("as %s: %v\n%s", scriptUser, err, out)
		}
	}
	as(bin, "version")
	as("head", "-c1", config)
	for _, d := range dirs {
		probe := filepath.Join(d, ".rvtest-probe")
		as("touch", probe)
		os.Remove(probe)
	}
}
