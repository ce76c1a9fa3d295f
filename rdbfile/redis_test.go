package rdbfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// Integration tests against real redis-server processes on loopback
// (internal/redistest); waits are on their log lines, never sleeps.

const cmdTimeout = 10 * time.Second

// redisProc is one redis-server started by a test, with a client whose
// read timeout covers SAVE and WAIT.
type redisProc struct {
	*redistest.Server
	t *testing.T
	c *redis.Client
}

func needRedis(t *testing.T) {
	t.Helper()
	redistest.Require(t)
}

// startRedis starts redis-server with its data in dir; extra are
// command-line style options ("--appendonly", "yes", ...), written to its
// redis.conf. Replicas ping every 10 s, Redis's default, so that offsets
// hold still between a SAVE and the INFO that checks it.
func startRedis(t *testing.T, dir string, extra ...string) *redisProc {
	t.Helper()
	args := []string{"repl-ping-replica-period 10"}
	for _, a := range extra {
		if k, ok := strings.CutPrefix(a, "--"); ok {
			args = append(args, k)
		} else {
			args[len(args)-1] += " " + a
		}
	}
	s := redistest.Start(t, redistest.Options{Dir: dir, Args: args})
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: cmdTimeout, ReadTimeout: cmdTimeout, WriteTimeout: cmdTimeout,
		MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return &redisProc{Server: s, t: t, c: c}
}

func (p *redisProc) stop()     { p.Kill() }
func (p *redisProc) mark() int { return p.LogMark() }

// waitLog waits for a log line containing sub after mark.
func (p *redisProc) waitLog(mark int, sub string) {
	p.t.Helper()
	p.WaitLog(p.t, mark, sub)
}

// do sends one command and returns its reply: string, int64, []any or nil.
func (p *redisProc) do(args ...string) any {
	p.t.Helper()
	return doOn(p.t, p.c, args...)
}

// doOn runs one command on c (a client or one connection of it).
func doOn(t *testing.T, c interface {
	Do(context.Context, ...any) *redis.Cmd
}, args ...string) any {
	t.Helper()
	a := make([]any, len(args))
	for i, x := range args {
		a[i] = x
	}
	v, err := c.Do(context.Background(), a...).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// writeAndWait runs a write and WAITs (on the same connection, as WAIT
// requires) until one replica has acknowledged it.
func (p *redisProc) writeAndWait(args ...string) {
	p.t.Helper()
	conn := p.c.Conn()
	defer conn.Close()
	doOn(p.t, conn, args...)
	if n := doOn(p.t, conn, "WAIT", "1", "5000").(int64); n != 1 {
		p.t.Fatalf("WAIT: %d replicas acknowledged", n)
	}
}

// info returns the fields of INFO section as a map.
func (p *redisProc) info(section string) map[string]string {
	p.t.Helper()
	s, _ := p.do("INFO", section).(string)
	m := make(map[string]string)
	for _, l := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = v
		}
	}
	return m
}

func (p *redisProc) rdbPath() string { return filepath.Join(p.Dir, "dump.rdb") }

func auxKeys(s Summary) []string { return slices.Sorted(mapKeys(s.Aux)) }

func sortedOf(keys ...string) []string { return slices.Sorted(slices.Values(keys)) }

var (
	auxPlain = sortedOf("redis-ver", "redis-bits", "ctime", "used-mem", "aof-base")
	auxRepl  = sortedOf("redis-ver", "redis-bits", "ctime", "used-mem", "aof-base", "repl-stream-db", "repl-id", "repl-offset")
)

func TestRealStandalone(t *testing.T) {
	needRedis(t)
	p := startRedis(t, t.TempDir())
	version := p.info("server")["redis_version"]

	before := time.Now().Add(-time.Second).Truncate(time.Second)
	p.do("SAVE")
	s, err := Inspect(p.rdbPath())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Empty || s.NonEmpty || s.Stop != StopEOF || s.KeysHint != 0 {
		t.Errorf("empty server: %+v", s)
	}
	if s.RedisVersion != version || s.RDBVersion < 9 || s.UsedMem <= 0 {
		t.Errorf("versions %q/%d (server %s), used-mem %d", s.RedisVersion, s.RDBVersion, version, s.UsedMem)
	}
	if s.CreatedAt.Before(before) || s.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("CreatedAt %v not around now", s.CreatedAt)
	}
	// A master that never had a replica writes no replication info.
	if s.HasReplInfo || !slices.Equal(auxKeys(s), auxPlain) {
		t.Errorf("repl info %v, aux keys %v, want %v", s.HasReplInfo, auxKeys(s), auxPlain)
	}

	for i := range 5 {
		p.do("SET", fmt.Sprintf("key:%d", i), strings.Repeat("v", 100))
	}
	p.do("SET", "ttl", "x", "EX", "3600")
	p.do("MSET", "a", "1", "b", "2")
	p.do("MOVE", "b", "3") // a second database; KeysHint counts the first only
	p.do("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return '"+strings.Repeat("z", 200)+"' end)")
	p.do("SAVE")
	s, err = Inspect(p.rdbPath())
	if err != nil {
		t.Fatal(err)
	}
	dbsize := p.do("DBSIZE").(int64) // of database 0
	if !s.NonEmpty || s.Empty || s.Stop != StopDBSize || s.KeysHint != dbsize || dbsize != 7 {
		t.Errorf("with %d keys: %+v", dbsize, s)
	}

	// Truncated copies of a real file and a garbage file: ErrCorrupt.
	data, err := os.ReadFile(p.rdbPath())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int{0, 5, 9, 30, len(data) / 2, len(data) - 9, len(data) - 1} {
		path := filepath.Join(dir, fmt.Sprintf("cut-%d.rdb", n))
		if err := os.WriteFile(path, data[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(path); !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut to %d of %d bytes: err = %v, want ErrCorrupt", n, len(data), err)
		}
	}
	garbage := filepath.Join(dir, "garbage.rdb")
	if err := os.WriteFile(garbage, []byte("REDIS0010\xfa\xff\xfe\xfd garbage garbage garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(garbage); !errors.Is(err, ErrCorrupt) {
		t.Errorf("garbage: err = %v, want ErrCorrupt", err)
	}
}

// startPair starts a master and a replica of it, and waits until the
// replica has finished its first sync.
func startPair(t *testing.T) (master, replica *redisProc) {
	t.Helper()
	master = startRedis(t, t.TempDir(), "--repl-diskless-sync-delay", "0")
	replica = startRedis(t, t.TempDir(), "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	replica.waitLog(0, "MASTER <-> REPLICA sync: Finished with success")
	return master, replica
}

// replState is INFO replication's view of replication history.
type replState struct {
	id, id2        string
	offset, second int64
	role           string
}

func (p *redisProc) repl() replState {
	p.t.Helper()
	m := p.info("replication")
	num := func(k string) int64 {
		n, err := strconv.ParseInt(m[k], 10, 64)
		if err != nil {
			p.t.Fatalf("INFO replication %s=%q", k, m[k])
		}
		return n
	}
	return replState{id: m["master_replid"], id2: m["master_replid2"], offset: num("master_repl_offset"),
		second: num("second_repl_offset"), role: m["role"]}
}

// checkSavedRepl runs SAVE and checks the file's repl-id and repl-offset
// against INFO replication just before and just after (the master may
// propagate a PING in between).
func checkSavedRepl(t *testing.T, p *redisProc) Summary {
	t.Helper()
	before := p.repl()
	p.do("SAVE")
	after := p.repl()
	s, err := Inspect(p.rdbPath())
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasReplInfo || s.ReplID != before.id || s.ReplOffset < before.offset || s.ReplOffset > after.offset || s.ReplStreamDB != 0 {
		t.Errorf("%s: file repl %v %s@%d db %d; INFO %s@%d..%d", before.role, s.HasReplInfo, s.ReplID, s.ReplOffset, s.ReplStreamDB,
			before.id, before.offset, after.offset)
	}
	if !slices.Equal(auxKeys(s), auxRepl) {
		t.Errorf("%s: aux keys %v, want %v", before.role, auxKeys(s), auxRepl)
	}
	return s
}

func TestRealMasterAndReplica(t *testing.T) {
	needRedis(t)
	master, replica := startPair(t)
	master.writeAndWait("MSET", "k1", "v1", "k2", "v2", "k3", "v3")
	ms := checkSavedRepl(t, master)
	rs := checkSavedRepl(t, replica)
	if ms.KeysHint != 3 || rs.KeysHint != 3 || ms.ReplID != rs.ReplID {
		t.Errorf("keys %d/%d, replid %s/%s", ms.KeysHint, rs.KeysHint, ms.ReplID, rs.ReplID)
	}
}

// TestRealMasterRestartReplID records a Redis fact the guard's design rests
// on: a master restarted from its own RDB (which carries repl info because
// it had a replica) does NOT keep its master_replid. It gets a new one and
// keeps the old one as master_replid2, with master_repl_offset restored and
// second_repl_offset = offset+1, so a replica of the old master can still
// partially resync. Checked with redis-server 7.0.15.
func TestRealMasterRestartReplID(t *testing.T) {
	needRedis(t)
	master, replica := startPair(t)
	master.writeAndWait("MSET", "k1", "v1", "k2", "v2")
	replica.stop()
	old := master.repl()
	master.do("SAVE")
	s, err := Inspect(master.rdbPath())
	if err != nil {
		t.Fatal(err)
	}
	master.stop()

	restarted := startRedis(t, master.Dir)
	now := restarted.repl()
	t.Logf("before restart: %+v; RDB: %s@%d; after restart: %+v", old, s.ReplID, s.ReplOffset, now)
	if now.id == old.id || now.id2 != s.ReplID || now.offset != s.ReplOffset || now.second != s.ReplOffset+1 {
		t.Errorf("before restart %+v, file %s@%d, after restart %+v", old, s.ReplID, s.ReplOffset, now)
	}
	if n := restarted.do("DBSIZE").(int64); n != 2 {
		t.Errorf("restarted with %d keys, want 2", n)
	}
	// The restarted master has a backlog, so its next RDB carries the new
	// replid even with no replica attached.
	s2 := checkSavedRepl(t, restarted)
	if s2.ReplID != now.id {
		t.Errorf("new RDB replid %s, want %s", s2.ReplID, now.id)
	}

	// A standalone master restarted from an RDB without repl info starts a
	// new history at offset 0.
	solo := startRedis(t, t.TempDir())
	solo.do("SET", "k", "v")
	solo.do("SAVE")
	solo.stop()
	again := startRedis(t, solo.Dir).repl()
	if again.offset != 0 || again.id2 != strings.Repeat("0", 40) {
		t.Errorf("standalone restart: %+v", again)
	}
}

func TestRealAOF(t *testing.T) {
	needRedis(t)
	for _, preamble := range []bool{true, false} {
		t.Run(fmt.Sprintf("preamble=%v", preamble), func(t *testing.T) {
			dir := t.TempDir()
			yesNo := map[bool]string{true: "yes", false: "no"}[preamble]
			p := startRedis(t, dir, "--appendonly", "yes", "--aof-use-rdb-preamble", yesNo,
				"--appendfilename", "data.aof", "--appenddirname", "aofdir")
			inspect := func() Summary {
				t.Helper()
				s, err := InspectDataDir(dir, "dump.rdb", true, "aofdir", "data.aof")
				if err != nil {
					t.Fatal(err)
				}
				if s.Source != SourceAOFDir || s.Path != filepath.Join(dir, "aofdir", "data.aof.manifest") || s.HasReplInfo {
					t.Errorf("source %s path %s repl %v", s.Source, s.Path, s.HasReplInfo)
				}
				return s
			}
			s := inspect()
			if !s.Empty || s.NonEmpty || s.IncrFiles != 1 || s.IncrSize != 0 {
				t.Errorf("fresh: %+v", s)
			}
			if preamble && (s.RDBVersion == 0 || !s.AOFPreamble || !slices.Equal(auxKeys(s), auxPlain)) {
				t.Errorf("fresh base: version %d preamble %v aux %v", s.RDBVersion, s.AOFPreamble, auxKeys(s))
			}

			p.do("SET", "a", "1")
			s = inspect()
			if s.Empty || !s.NonEmpty || s.IncrSize == 0 {
				t.Errorf("after a write: %+v", s)
			}

			mark := p.mark()
			p.do("BGREWRITEAOF")
			p.waitLog(mark, "Background AOF rewrite finished successfully")
			s = inspect()
			if s.Empty || !s.NonEmpty || s.IncrSize != 0 {
				t.Errorf("after rewrite: %+v", s)
			}
			if preamble && (s.KeysHint != 1 || s.Stop != StopDBSize || !strings.HasSuffix(s.BasePath, ".base.rdb")) {
				t.Errorf("rewritten rdb base: %+v", s)
			}
			if !preamble && (s.RDBVersion != 0 || !strings.HasSuffix(s.BasePath, ".base.aof")) {
				t.Errorf("rewritten aof base: %+v", s)
			}

			// The RDB is ignored while appendonly is on; with it off the
			// same directory is read through dbfilename.
			p.do("SAVE")
			r, err := InspectDataDir(dir, "dump.rdb", false, "aofdir", "data.aof")
			if err != nil || r.Source != SourceRDB || r.KeysHint != 1 {
				t.Errorf("rdb of the same dir: %+v, %v", r, err)
			}
		})
	}
}
