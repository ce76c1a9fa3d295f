package guard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/node"
)

func TestReadRedisConf(t *testing.T) {
	dir := t.TempDir()
	guardInc := filepath.Join(dir, "guard.conf")
	extra := filepath.Join(dir, "extra.conf")
	conf := filepath.Join(dir, "redis.conf")
	writeFile(t, extra, []byte("appenddirname \"aofdir\"\nappendfilename 'my.aof'\n"))
	// The guard's own include is skipped, even when it does not exist yet
	// (the first start) or names a directory redis-vip rewrites.
	writeFile(t, conf, []byte(strings.Join([]string{
		"# dir /commented/out",
		"port 6379",
		"dir /var/lib/redis",
		`dbfilename "data.rdb"`,
		"appendonly YES",
		"include " + extra,
		"include " + guardInc,
		"bare-directive-without-value",
	}, "\n")))
	got, err := ReadRedisConf(conf, guardInc)
	want := DataFiles{Dir: "/var/lib/redis", DBFilename: "data.rdb", AOF: true, AppendDirName: "aofdir", AppendFilename: "my.aof"}
	if err != nil || got != want {
		t.Fatalf("ReadRedisConf = %+v, %v; want %+v", got, err, want)
	}

	// Defaults are Redis's own.
	empty := filepath.Join(dir, "empty.conf")
	writeFile(t, empty, nil)
	got, err = ReadRedisConf(empty, guardInc)
	want = DataFiles{Dir: ".", DBFilename: "dump.rdb", AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"}
	if err != nil || got != want {
		t.Fatalf("empty redis.conf = %+v, %v; want %+v", got, err, want)
	}

	// A missing file is fs.ErrNotExist (wiring falls back to guard.data_dir
	// on exactly that), also behind an include.
	if _, err := ReadRedisConf(filepath.Join(dir, "none.conf"), guardInc); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing redis.conf: %v, want fs.ErrNotExist", err)
	}
	broken := filepath.Join(dir, "broken.conf")
	writeFile(t, broken, []byte("include "+filepath.Join(dir, "gone.conf")+"\n"))
	if _, err := ReadRedisConf(broken, guardInc); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing include: %v, want fs.ErrNotExist", err)
	}

	// An include loop ends with an error, not a hang or a stack overflow.
	loop := filepath.Join(dir, "loop.conf")
	writeFile(t, loop, []byte("include "+loop+"\n"))
	if _, err := ReadRedisConf(loop, guardInc); err == nil || !strings.Contains(err.Error(), "nested too deep") {
		t.Fatalf("include loop: %v", err)
	}
}

func TestWriteInclude(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	peer := node.MustParseAddr("192.0.2.2:6380")
	for _, c := range []struct {
		d    Decision
		want string
	}{
		{Decision{Action: StartAsReplica, Reason: "r"}, "replicaof 192.0.2.2 6380\n"},
		{Decision{Action: StartAsMaster, Reason: "m"}, "replicaof no one\n"},
		{Decision{Action: LeaveAlone, Reason: "l"}, ""},
	} {
		path := filepath.Join(t.TempDir(), "sub", "guard.conf") // the directory is made
		if err := WriteInclude(path, c.d, peer, now); err != nil {
			t.Fatalf("%s: %v", c.d.Action, err)
		}
		first, _ := os.ReadFile(path)
		lines := strings.SplitAfter(string(first), "\n")
		directive := strings.Join(lines[2:], "")
		if directive != c.want || !strings.HasPrefix(lines[0], "# Written by redis-vip guard at 2026-12-02T03:04:05Z") ||
			lines[1] != fmt.Sprintf("# %s: %s\n", c.d.Action, c.d.Reason) {
			t.Fatalf("%s wrote %q, want the directive %q", c.d.Action, first, c.want)
		}
		// The same decision writes the same file: guard is idempotent.
		if err := WriteInclude(path, c.d, peer, now); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(path); string(again) != string(first) {
			t.Fatalf("%s: second write %q differs from %q", c.d.Action, again, first)
		}
	}
	path := filepath.Join(t.TempDir(), "guard.conf")
	if err := WriteInclude(path, Decision{Action: StartAsReplica}, node.Addr{}, now); err == nil {
		t.Fatal("a replicaof without a peer address was written")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused include was written: %v", err)
	}
}

// guardCase is one stopped local node (its data directory, a port nothing
// listens on) and a runner for it against a peer.
type guardCase struct {
	r       *Runner
	include string
	backups string
}

func newGuardCase(t *testing.T, peer Peer, peerAddr string, localData []byte) guardCase {
	t.Helper()
	files := DataFiles{Dir: t.TempDir(), DBFilename: "dump.rdb", AppendDirName: "appendonlydir", AppendFilename: "appendonly.aof"}
	if localData != nil {
		writeFile(t, filepath.Join(files.Dir, "dump.rdb"), localData)
	}
	localPort := redistest.FreePort(t)
	local := dial(t, fmt.Sprintf("127.0.0.1:%d", localPort), "")
	c := guardCase{include: filepath.Join(t.TempDir(), "guard.conf"), backups: t.TempDir()}
	c.r = &Runner{Log: zaptest.NewLogger(t), Local: local, Peer: peer, PeerAddr: node.MustParseAddr(peerAddr),
		LocalAnnounce: node.MustParseAddr(fmt.Sprintf("127.0.0.1:%d", localPort)),
		Files:         files, Include: c.include, BackupDir: c.backups, Instance: "cache", Keep: 3,
		Poll: 50 * time.Millisecond, Now: time.Now}
	return c
}

func dial(t *testing.T, addr, password string) *node.Client {
	t.Helper()
	// Generous: a Redis busy in a script on a loaded host can take a
	// second to answer, and these tests are about what it answers.
	c := node.Dial(node.Options{Addr: addr, Password: password, DialTimeout: time.Second, CommandTimeout: 4 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func (c guardCase) run(t *testing.T, bound time.Duration) (Decision, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	return c.r.Run(ctx)
}

func (c guardCase) directive(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(c.include)
	if errors.Is(err, fs.ErrNotExist) {
		return "(none written)"
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	return strings.TrimSpace(strings.Join(lines[2:], ""))
}

func (c guardCase) backupCount(t *testing.T) int {
	t.Helper()
	list, err := backup.List(c.backups, "cache")
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

func peerWithKeys(t *testing.T, args ...string) (*redistest.Server, *node.Client) {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{Args: args})
	password := ""
	for _, a := range args {
		if p, ok := strings.CutPrefix(a, "requirepass "); ok {
			password = p
		}
	}
	if err := srv.Client(password).MSet(context.Background(), "a", 1, "b", 2).Err(); err != nil {
		t.Fatal(err)
	}
	return srv, dial(t, srv.Addr(), password)
}

// Run against real servers: what it decides, what it backs up, whom it
// promotes and which directive it writes, and that a refusal or a failed
// step leaves the include file unwritten (no half-applied start).
func TestRunAgainstRealPeer(t *testing.T) {
	t.Run("no local data follows a live peer", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		c := newGuardCase(t, peer, srv.Addr(), nil)
		d, err := c.run(t, 5*time.Second)
		if err != nil || d.Action != StartAsReplica || d.BackupLocal || d.PromotePeer {
			t.Fatalf("Run = %+v, %v", d, err)
		}
		if got, want := c.directive(t), "replicaof 127.0.0.1 "+fmt.Sprint(srv.Port); got != want {
			t.Fatalf("include says %q, want %q", got, want)
		}
		if n := c.backupCount(t); n != 0 {
			t.Fatalf("%d backups of nothing", n)
		}
	})

	t.Run("data without history is backed up, then follows", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		c := newGuardCase(t, peer, srv.Addr(), readFixture(t, fixtureKeys))
		d, err := c.run(t, 5*time.Second)
		if err != nil || d.Action != StartAsReplica || !d.BackupLocal {
			t.Fatalf("Run = %+v, %v", d, err)
		}
		if n := c.backupCount(t); n != 1 {
			t.Fatalf("%d backups, want 1 (S6)", n)
		}
		if !strings.HasPrefix(c.directive(t), "replicaof 127.0.0.1 ") {
			t.Fatalf("include says %q", c.directive(t))
		}
	})

	t.Run("a peer that replicates this stopped node is promoted first", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		c := newGuardCase(t, peer, srv.Addr(), nil)
		// The peer follows the stopped local node; REPLICAOF keeps its keys
		// until a sync that cannot happen.
		if err := srv.Client().Do(context.Background(), "REPLICAOF", "127.0.0.1", c.r.LocalAnnounce.Port).Err(); err != nil {
			t.Fatal(err)
		}
		d, err := c.run(t, 5*time.Second)
		if err != nil || d.Action != StartAsReplica || !d.PromotePeer {
			t.Fatalf("Run = %+v, %v", d, err)
		}
		if role := srv.Role(context.Background()); role != "master" {
			t.Fatalf("peer is %s after guard, want master (else the two would replicate each other)", role)
		}
	})

	t.Run("a failed backup writes nothing and promotes no one", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		c := newGuardCase(t, peer, srv.Addr(), readFixture(t, fixtureKeys))
		if err := srv.Client().Do(context.Background(), "REPLICAOF", "127.0.0.1", c.r.LocalAnnounce.Port).Err(); err != nil {
			t.Fatal(err)
		}
		// A backup directory under a regular file cannot be made, even by root.
		blocker := filepath.Join(t.TempDir(), "file")
		writeFile(t, blocker, []byte("x"))
		c.r.BackupDir = filepath.Join(blocker, "backups")
		d, err := c.run(t, 5*time.Second)
		if err == nil || !d.BackupLocal {
			t.Fatalf("Run = %+v, %v: want the backup's error", d, err)
		}
		if got := c.directive(t); got != "(none written)" {
			t.Fatalf("include written after a failed backup: %q", got)
		}
		if role := srv.Role(context.Background()); role != "slave" {
			t.Fatalf("peer is %s: promoted although the local data was not backed up", role)
		}
	})

	t.Run("a busy peer is alive: local data refuses the start", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		srv.Busy()
		c := newGuardCase(t, peer, srv.Addr(), readFixture(t, fixtureKeys))
		d, err := c.run(t, 5*time.Second) // it keeps answering -BUSY: guard polls until this bound
		if !errors.Is(err, ErrRefuseStart) || d.Action != RefuseStart {
			t.Fatalf("Run = %+v, %v: want refuse-start (S9)", d, err)
		}
		if got := c.directive(t); got != "(none written)" {
			t.Fatalf("include written on a refusal: %q", got)
		}
		if n := c.backupCount(t); n != 0 {
			t.Fatalf("%d backups on a refusal", n)
		}
	})

	t.Run("a busy peer whose last read the bound cut short is still alive", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		srv.Busy()
		c := newGuardCase(t, &cutShort{Peer: peer}, srv.Addr(), readFixture(t, fixtureKeys))
		d, err := c.run(t, 5*time.Second)
		if !errors.Is(err, ErrRefuseStart) || d.Action != RefuseStart {
			t.Fatalf("Run = %+v, %v: want refuse-start: the peer answered before the bound cut its last read (S9)", d, err)
		}
	})

	t.Run("a wrong password changes nothing", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{Args: []string{"requirepass right"}})
		c := newGuardCase(t, dial(t, srv.Addr(), "wrong"), srv.Addr(), readFixture(t, fixtureKeys))
		d, err := c.run(t, 5*time.Second)
		if !errors.Is(err, ErrConfig) || d.Action != "" {
			t.Fatalf("Run = %+v, %v: want a configuration error", d, err)
		}
		if got := c.directive(t); got != "(none written)" {
			t.Fatalf("include written on a configuration error: %q", got)
		}
	})

	t.Run("an unreachable peer leaves local data master", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
		redistest.Require(t) // the same tier as the other cases
		c := newGuardCase(t, dial(t, addr, ""), addr, readFixture(t, fixtureKeys))
		d, err := c.run(t, 5*time.Second)
		if err != nil || d.Action != StartAsMaster {
			t.Fatalf("Run = %+v, %v", d, err)
		}
		if got := c.directive(t); got != "replicaof no one" {
			t.Fatalf("include says %q", got)
		}
	})

	t.Run("a running local Redis is refused", func(t *testing.T) {
		srv, peer := peerWithKeys(t)
		local := redistest.Start(t, redistest.Options{})
		c := newGuardCase(t, peer, srv.Addr(), nil)
		c.r.Local = dial(t, local.Addr(), "")
		if _, err := c.run(t, 5*time.Second); !errors.Is(err, ErrLocalRunning) {
			t.Fatalf("Run: %v, want ErrLocalRunning", err)
		}
		if got := c.directive(t); got != "(none written)" {
			t.Fatalf("include written while redis-server runs: %q", got)
		}
	})
}

// cutShort reads the real peer once, then holds every later read until
// ctx ends before making it: guard's bound ends in the middle of a read,
// which a loaded host makes likely and a test cannot time otherwise.
type cutShort struct {
	Peer
	reads int
}

func (c *cutShort) Facts(ctx context.Context) (node.Facts, error) {
	c.reads++
	if c.reads > 1 {
		<-ctx.Done()
	}
	return c.Peer.Facts(ctx)
}
