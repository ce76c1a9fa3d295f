package node

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/internal/redistest"
)

// Integration tests: real redis-server processes on free loopback ports
// (internal/redistest), one temp dir each, started from a redis.conf (so
// CONFIG REWRITE works). Waits are on log lines or on the server (WAIT),
// each bounded by a timeout; nothing sleeps.

const waitLimit = 15 * time.Second

// startServer runs redis-server with redistest's base config plus extra
// conf lines; t.Cleanup kills it.
func startServer(t *testing.T, extra ...string) *redistest.Server {
	t.Helper()
	return redistest.Start(t, redistest.Options{Args: extra})
}

// rawClient is a plain go-redis client for setting up and checking state.
func rawClient(t *testing.T, addr, password string, db int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, DB: db, Protocol: 2,
		DisableIdentity: true, MaxRetries: -1, DialTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// dialTest is the Client under test, closed by t.Cleanup.
func dialTest(t *testing.T, addr, password string) *Client {
	t.Helper()
	c := Dial(Options{Addr: addr, Password: password, DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitReplicas blocks (server side, WAIT) until n replicas acknowledged
// every write made on conn.
func waitReplicas(t *testing.T, ctx context.Context, conn *redis.Conn, n int) {
	t.Helper()
	got, err := conn.Do(ctx, "WAIT", n, waitLimit.Milliseconds()).Int()
	if err != nil || got < n {
		t.Fatalf("WAIT %d: %d replicas, %v", n, got, err)
	}
}

// fill writes keys on one connection (so WAIT covers them) and returns it.
func fill(t *testing.T, ctx context.Context, addr string, db0, db2 int) *redis.Conn {
	t.Helper()
	conn := rawClient(t, addr, "", 0).Conn()
	t.Cleanup(func() { conn.Close() })
	for i := 0; i < db0; i++ {
		if err := conn.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if db2 > 0 {
		if err := conn.Select(ctx, 2).Err(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < db2; i++ {
			if err := conn.Set(ctx, "d2-"+strconv.Itoa(i), i, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return conn
}

func TestClientFactsMasterReplica(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	m := startServer(t)
	conn := fill(t, ctx, m.Addr(), 5, 2)
	r := startServer(t, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port))
	waitReplicas(t, ctx, conn, 1)

	mf, err := dialTest(t, m.Addr(), "").Facts(ctx)
	if err != nil {
		t.Fatalf("master Facts: %v", err)
	}
	rf, err := dialTest(t, r.Addr(), "").Facts(ctx)
	if err != nil {
		t.Fatalf("replica Facts: %v", err)
	}

	if mf.Addr != m.Addr() || mf.ServerName != "redis" || !mf.Version.AtLeast(5, 0) || mf.ConfigFile != m.ConfigFile {
		t.Errorf("master server facts: addr=%q name=%q version=%v config=%q", mf.Addr, mf.ServerName, mf.Version, mf.ConfigFile)
	}
	if mf.Role != RoleMaster || mf.Keys != 7 || mf.Loading || mf.Empty() || mf.ReplID == "" || mf.MasterAddr() != "" {
		t.Errorf("master: %s", mf.Summary())
	}
	if len(mf.Replicas) != 1 || mf.Replicas[0].Port != r.Port || mf.Replicas[0].IP != "127.0.0.1" || mf.Replicas[0].State != "online" {
		t.Errorf("master's replicas = %+v, want one online at port %d", mf.Replicas, r.Port)
	}

	if rf.Role != RoleReplica || !rf.InSync() || rf.Keys != 7 || !SameAddr(rf.MasterAddr(), m.Addr()) {
		t.Errorf("replica: %s", rf.Summary())
	}
	if rf.ReplID != mf.ReplID || !AtLeastAsFresh(mf, rf) {
		t.Errorf("replica history %s@%d vs master %s@%d", rf.ReplID, rf.ReplOffset, mf.ReplID, mf.ReplOffset)
	}
	if rel := Compare(mf, rf); rel != Same && rel != Ahead {
		t.Errorf("Compare(master, replica) = %v", rel)
	}
}

func TestClientReplicaOfPromoteAndRewrite(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a := startServer(t)
	conn := fill(t, ctx, a.Addr(), 3, 0)
	b := startServer(t)
	cb := dialTest(t, b.Addr(), "")

	if err := cb.ReplicaOf(ctx, "127.0.0.1", a.Port); err != nil {
		t.Fatalf("ReplicaOf: %v", err)
	}
	waitReplicas(t, ctx, conn, 1)
	af, err := dialTest(t, a.Addr(), "").Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bf, err := cb.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bf.Role != RoleReplica || bf.MasterPort != a.Port || !bf.MasterLinkUp || bf.Keys != 3 || bf.ReplID != af.ReplID {
		t.Fatalf("after ReplicaOf: %s", bf.Summary())
	}

	// S7: the role survives a restart once the config is rewritten.
	if err := cb.ConfigRewrite(ctx); err != nil {
		t.Fatalf("ConfigRewrite: %v", err)
	}
	conf, err := os.ReadFile(b.ConfigFile)
	if err != nil || !strings.Contains(string(conf), "replicaof 127.0.0.1 "+strconv.Itoa(a.Port)) {
		t.Errorf("rewritten config lacks the replicaof line (%v):\n%s", err, conf)
	}

	if err := cb.PromoteNoOne(ctx); err != nil {
		t.Fatalf("PromoteNoOne: %v", err)
	}
	pf, err := cb.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pf.Role != RoleMaster || pf.ReplID2 != af.ReplID || pf.SecondReplOffset != bf.ReplOffset+1 || pf.Keys != 3 {
		t.Errorf("after PromoteNoOne: %s replid2=%s second=%d (was at %d)", pf.Summary(), pf.ReplID2, pf.SecondReplOffset, bf.ReplOffset)
	}
	if Compare(pf, bf) != Same || !AtLeastAsFresh(pf, af) {
		t.Errorf("promoted node vs its old position: %v; vs old master fresh=%v", Compare(pf, bf), AtLeastAsFresh(pf, af))
	}
}

func TestClientReplicaOfFallsBackToSlaveOf(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a := startServer(t)
	conn := fill(t, ctx, a.Addr(), 4, 0)
	b := startServer(t, `rename-command REPLICAOF ""`)
	cb := dialTest(t, b.Addr(), "")

	// The command is really gone.
	if err := cb.do(ctx, "REPLICAOF", "NO", "ONE"); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("REPLICAOF on a server without it: %v, want ErrUnknownCommand", err)
	}
	if err := cb.ReplicaOf(ctx, "127.0.0.1", a.Port); err != nil {
		t.Fatalf("ReplicaOf with REPLICAOF renamed away: %v", err)
	}
	waitReplicas(t, ctx, conn, 1)
	bf, err := cb.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bf.Role != RoleReplica || bf.MasterPort != a.Port || !bf.InSync() || bf.Keys != 4 {
		t.Fatalf("after SLAVEOF fallback: %s", bf.Summary())
	}
	if err := cb.PromoteNoOne(ctx); err != nil {
		t.Fatalf("PromoteNoOne with REPLICAOF renamed away: %v", err)
	}
	if pf, err := cb.Facts(ctx); err != nil || pf.Role != RoleMaster {
		t.Fatalf("after SLAVEOF NO ONE fallback: %v %s", err, pf.Summary())
	}
}

// Error lines name the command as sent, words separated by spaces.
func TestClientErrorNamesTheCommand(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := startServer(t, `rename-command REPLICAOF ""`, `rename-command SLAVEOF ""`)
	err := dialTest(t, b.Addr(), "").PromoteNoOne(ctx)
	if !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("PromoteNoOne with both commands renamed: %v, want ErrUnknownCommand", err)
	}
	if !strings.HasPrefix(err.Error(), "SLAVEOF NO ONE "+b.Addr()) {
		t.Errorf("error = %q, want it to start with %q", err, "SLAVEOF NO ONE "+b.Addr())
	}
}

func TestClientAuth(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	locked := startServer(t, "requirepass s3cret")
	open := startServer(t)

	for _, tc := range []struct {
		name, addr, password string
	}{
		{"wrong password", locked.Addr(), "wrong"},
		{"no password", locked.Addr(), ""},
	} {
		_, err := dialTest(t, tc.addr, tc.password).Facts(ctx)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Facts err = %v, want ErrAuth", tc.name, err)
		} else if errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), tc.addr) {
			t.Errorf("%s: err = %v: want ErrAuth only, naming %s", tc.name, err, tc.addr)
		}
	}
	if _, err := dialTest(t, locked.Addr(), "s3cret").Facts(ctx); err != nil {
		t.Errorf("right password: %v", err)
	}
	// go-redis authenticates with HELLO 2 AUTH default <password>, which a
	// server without requirepass accepts (its default user is nopass).
	if _, err := dialTest(t, open.Addr(), "s3cret").Facts(ctx); err != nil {
		t.Errorf("password to a server without one: %v", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)

	// Nothing listens: refused at once, well inside the dial timeout.
	closed := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	c := Dial(Options{Addr: closed, DialTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second})
	defer c.Close()
	start := time.Now()
	_, err := c.Facts(ctx)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrAuth) {
		t.Errorf("closed port: err = %v, want ErrUnreachable", err)
	}
	if took := time.Since(start); took >= 5*time.Second {
		t.Errorf("closed port took %v, not under the 5s dial timeout", took)
	}
	if err := c.ReplicaOf(ctx, "127.0.0.1", 1); !errors.Is(err, ErrUnreachable) {
		t.Errorf("ReplicaOf on a closed port: %v", err)
	}

	// A listener that accepts and never answers: the command timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range held {
			conn.Close()
		}
	}()
	silent := Dial(Options{Addr: l.Addr().String(), DialTimeout: time.Second, CommandTimeout: 300 * time.Millisecond})
	defer silent.Close()
	if _, err := silent.Facts(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("silent server: err = %v, want ErrUnreachable", err)
	}
}

func TestClientPauseWritesAndUnpause(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t)
	c := dialTest(t, s.Addr(), "")
	other := rawClient(t, s.Addr(), "", 0)
	if err := other.Set(ctx, "before", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}

	if err := c.PauseWrites(ctx, 20*time.Second); err != nil {
		t.Fatalf("PauseWrites: %v", err)
	}
	// Reads go on; writes wait for the pause.
	if v, err := other.Get(ctx, "before").Result(); err != nil || v != "1" {
		t.Errorf("read during the pause: %q %v", v, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := other.Set(short, "during", 1, 0).Err()
	cancel()
	if err == nil {
		t.Fatal("a write went through during PauseWrites")
	}

	if err := c.Unpause(ctx); err != nil {
		t.Fatalf("Unpause: %v", err)
	}
	if err := other.Set(ctx, "after", 1, 0).Err(); err != nil {
		t.Errorf("write after Unpause: %v", err)
	}
}

func TestClientKillNormalClients(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	m := startServer(t)
	conn := fill(t, ctx, m.Addr(), 1, 0)
	startServer(t, "replicaof 127.0.0.1 "+strconv.Itoa(m.Port))
	waitReplicas(t, ctx, conn, 1)

	victim, err := net.Dial("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	if err := victim.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(victim)
	if _, err := victim.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("victim PING: %q %v", line, err)
	}

	c := dialTest(t, m.Addr(), "")
	n, err := c.KillNormalClients(ctx)
	if err != nil {
		t.Fatalf("KillNormalClients: %v", err)
	}
	if n < 2 { // the victim and the fill connection
		t.Errorf("killed %d clients, want at least 2", n)
	}
	if _, err := rd.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("victim read after the kill: %v, want EOF", err)
	}
	// The caller and the replica link survive.
	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatalf("Facts after the kill: %v", err)
	}
	if len(f.Replicas) != 1 {
		t.Errorf("replicas after killing normal clients: %+v", f.Replicas)
	}
}

func TestClientConfigGet(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t, "maxmemory-policy allkeys-lru")
	c := dialTest(t, s.Addr(), "")
	for name, want := range map[string]string{
		"port":             strconv.Itoa(s.Port),
		"maxmemory-policy": "allkeys-lru",
		"dir":              s.Dir,
		"appendonly":       "no",
	} {
		if got, err := c.ConfigGet(ctx, name); err != nil || got != want {
			t.Errorf("ConfigGet(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if got, err := c.ConfigGet(ctx, "no-such-parameter"); err == nil || errors.Is(err, ErrUnknownCommand) {
		t.Errorf("ConfigGet(unknown) = %q, %v; want a plain error", got, err)
	}
}

func TestClientBGSaveAndLastSave(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t)
	fill(t, ctx, s.Addr(), 10, 0)
	c := dialTest(t, s.Addr(), "")

	before, err := c.LastSave(ctx)
	if err != nil {
		t.Fatalf("LastSave: %v", err)
	}
	mark := s.LogMark()
	if err := c.BGSave(ctx); err != nil {
		t.Fatalf("BGSave: %v", err)
	}
	s.WaitLog(t, mark, "Background saving terminated with success")

	after, err := c.LastSave(ctx)
	if err != nil {
		t.Fatalf("LastSave: %v", err)
	}
	if after.Before(before) {
		t.Errorf("LastSave went back: %v -> %v", before, after)
	}
	f, err := c.Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !f.RDBLastSave.Equal(after) || f.RDBChangesSinceSave != 0 || f.RDBBgsaveInProgress || !f.RDBLastBgsaveOK {
		t.Errorf("facts after BGSAVE: last save %v (LASTSAVE %v), changes %d, in progress %v, ok %v",
			f.RDBLastSave, after, f.RDBChangesSinceSave, f.RDBBgsaveInProgress, f.RDBLastBgsaveOK)
	}
	if st, err := os.Stat(filepath.Join(s.Dir, "dump.rdb")); err != nil || st.Size() == 0 {
		t.Errorf("dump.rdb after BGSAVE: %v", err)
	}
}

// What handover: failover rests on (transition's replicaAsSeenBy): a
// replica whose REPLCONF listening-port the master refused, here with
// -NOAUTH while a password was required for a moment, goes on to PSYNC
// (Redis treats the refusal as non-critical) and is listed at port 0 for
// the life of its link, so FAILOVER TO its own address cannot name it.
func TestClientFactsReplicaWithRefusedListeningPort(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	m := startServer(t, "requirepass secret")
	conn, err := net.DialTimeout("tcp", m.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	rd := bufio.NewReader(conn)
	send := func(args ...string) string {
		t.Helper()
		var b strings.Builder
		b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
		for _, a := range args {
			b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
		}
		if _, err := io.WriteString(conn, b.String()); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(line)
	}
	if got := send("REPLCONF", "listening-port", "7777"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("REPLCONF listening-port with the password required = %q, want -NOAUTH", got)
	}
	if err := rawClient(t, m.Addr(), "secret", 0).ConfigSet(ctx, "requirepass", "").Err(); err != nil {
		t.Fatal(err)
	}
	if got := send("PSYNC", "?", "-1"); !strings.HasPrefix(got, "+FULLRESYNC") {
		t.Fatalf("PSYNC after the password went = %q, want +FULLRESYNC", got)
	}
	mf, err := dialTest(t, m.Addr(), "").Facts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mf.Replicas) != 1 || mf.Replicas[0].Port != 0 || mf.Replicas[0].IP != "127.0.0.1" {
		t.Errorf("master's replicas = %+v, want one at 127.0.0.1 port 0", mf.Replicas)
	}
}
