package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/transition"
)

// writer sends numbered SETs to whichever of two servers accepts them, the
// way a client behind the VIP sees one master, and records what was acked.
type writer struct {
	mu    sync.Mutex
	acked []int
	where map[string]int
}

func newWriter() *writer { return &writer{where: map[string]int{}} }

func (w *writer) run(ctx context.Context, servers ...*redistest.Server) {
	clients := make([]*redis.Client, len(servers))
	for i, s := range servers {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond,
			ReadTimeout: 2 * time.Second, WriteTimeout: time.Second, MaxRetries: -1, Protocol: 2, DisableIdentity: true, PoolSize: 1})
		defer clients[i].Close()
	}
	cur := 0
	for n := 0; n < 1_000_000; n++ {
		if ctx.Err() != nil {
			return
		}
		err := clients[cur].Set(ctx, fmt.Sprintf("w:%d", n), n, 0).Err()
		if err == nil {
			w.mu.Lock()
			w.acked = append(w.acked, n)
			w.where[servers[cur].Addr()]++
			w.mu.Unlock()
			continue
		}
		cur = (cur + 1) % len(clients) // READONLY, killed connection, refused: try the other
		time.Sleep(time.Millisecond)
	}
}

// missing returns the acked writes that s does not hold.
func (w *writer) missing(t *testing.T, s *redistest.Server) []int {
	t.Helper()
	ctx := context.Background()
	w.mu.Lock()
	defer w.mu.Unlock()
	p := s.Client().Pipeline()
	cmds := make([]*redis.StringCmd, len(w.acked))
	for i, n := range w.acked {
		cmds[i] = p.Get(ctx, fmt.Sprintf("w:%d", n))
	}
	_, _ = p.Exec(ctx)
	var lost []int
	for i, c := range cmds {
		if c.Err() != nil {
			lost = append(lost, w.acked[i])
		}
	}
	return lost
}

// S2: a failback while a writer keeps writing to the old master loses no
// acknowledged write, with FAILOVER and with the CLIENT PAUSE handover.
func TestS2FailbackUnderWritesLosesNothing(t *testing.T) {
	for _, handover := range []string{"failover", "pause", "auto"} {
		t.Run(handover, func(t *testing.T) {
			a, b := pair(t, 200, settings{"handover": handover})
			ctx, cancel := context.WithCancel(context.Background())
			w := newWriter()
			done := make(chan struct{})
			go func() { defer close(done); w.run(ctx, a.srv, b.srv) }()
			waitFor(t, "writes on A", 5*time.Second, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.where[a.srv.Addr()] > 200 })

			r := b.run(t, "notify-master")
			if r.code != 0 {
				cancel()
				<-done
				t.Fatalf("notify-master exit %d: %s %s", r.code, r.stdout, r.stderr)
			}
			waitFor(t, "writes on B", 5*time.Second, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.where[b.srv.Addr()] > 200 })
			cancel()
			<-done

			if got := b.srv.Role(context.Background()); got != "master" {
				t.Fatalf("B role = %s, want master", got)
			}
			if got := a.srv.Role(context.Background()); got != "slave" {
				t.Fatalf("A role = %s, want slave", got)
			}
			lost := w.missing(t, b.srv)
			w.mu.Lock()
			t.Logf("handover=%s acked=%d (on A %d, on B %d) lost=%d", handover, len(w.acked), w.where[a.srv.Addr()], w.where[b.srv.Addr()], len(lost))
			w.mu.Unlock()
			if len(lost) != 0 {
				t.Fatalf("%d acknowledged writes lost, first %v", len(lost), lost[:min(5, len(lost))])
			}
			recs := b.journal(t)
			if len(recs) != 1 || recs[0].Plan == nil || recs[0].Plan.Decision != "sync-then-promote" {
				t.Fatalf("journal = %+v", recs)
			}
			wantStep := transition.StepFailover
			if handover != "failover" { // auto is the pause handover
				wantStep = transition.StepPauseHandover
			}
			if !hasStep(recs[0], wantStep) {
				t.Fatalf("steps %+v lack %s", recs[0].Steps, wantStep)
			}
		})
	}
}

func hasStep(r transition.Record, s transition.Step) bool {
	for _, st := range r.Steps {
		if st.Step == s && st.OK {
			return true
		}
	}
	return false
}

// S1: notify-backup refuses to follow an empty peer; --force backs up first.
func TestS1NotifyBackupRefusesEmptyPeer(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{})
	sb := redistest.Start(t, redistest.Options{})
	fill(t, sa, "data", 100)
	a := writeConfig(t, "redis", sa, sb, nil)
	b := writeConfig(t, "redis", sb, sa, nil)

	r := a.run(t, "notify-backup")
	if r.code != 1 || !strings.Contains(r.stdout, "refused") || !strings.Contains(r.stdout, "empty") {
		t.Fatalf("notify-backup: exit %d stdout %q stderr %q; want exit 1 refusing the empty peer", r.code, r.stdout, r.stderr)
	}
	if sa.Role(context.Background()) != "master" || dbsize(t, sa) != 100 {
		t.Fatalf("A changed: role %s keys %d", sa.Role(context.Background()), dbsize(t, sa))
	}
	if recs := a.journal(t); len(recs) != 1 || recs[0].Outcome != transition.OutcomeRefused {
		t.Fatalf("journal %+v, want one refused record", recs)
	}
	// check shows the conflict: the empty node may not hold the VIP.
	if r := b.run(t, "check"); r.code != 1 || !strings.Contains(r.stdout, "empty") {
		t.Fatalf("check on the empty peer: exit %d %q, want 1 'empty'", r.code, r.stdout)
	}
	if r := a.run(t, "check"); r.code != 0 {
		t.Fatalf("check on the node with data: exit %d %q, want 0", r.code, r.stdout)
	}

	r = a.run(t, "notify-backup", "--force")
	if r.code != 0 {
		t.Fatalf("notify-backup --force: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	backups, _ := backup.List(a.backup, "redis")
	if len(backups) != 1 || backups[0].Name.Kind != backup.KindRDB {
		t.Fatalf("backups %v, want one RDB taken before following the empty peer", backups)
	}
	if n := keysInRDB(t, backups[0].Path); n != 100 {
		t.Fatalf("backup holds %d keys, want 100", n)
	}
}

// S1: notify-backup refuses to follow an older peer (shared history, behind).
func TestS1NotifyBackupRefusesOlderPeer(t *testing.T) {
	a, b := pair(t, 100, nil)
	ctx := context.Background()
	if err := b.srv.Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	fill(t, a.srv, "newer", 10)
	r := a.run(t, "notify-backup")
	if r.code != 1 || !strings.Contains(r.stdout, "older") {
		t.Fatalf("notify-backup: exit %d stdout %q stderr %q; want exit 1 refusing the older peer", r.code, r.stdout, r.stderr)
	}
	if a.srv.Role(ctx) != "master" || dbsize(t, a.srv) != 110 {
		t.Fatalf("A changed: role %s keys %d", a.srv.Role(ctx), dbsize(t, a.srv))
	}
	// The older node's check fails: it must not hold the VIP.
	if r := b.run(t, "check"); r.code != 1 || !strings.Contains(r.stdout, "stale") {
		t.Fatalf("check on the older peer: exit %d %q, want 1 'stale'", r.code, r.stdout)
	}
}

// S6: a diverged pair gets a backup of the discarded side before the resync;
// with on_diverged: refuse nothing is touched.
func TestS6DivergedPairBackedUpBeforeResync(t *testing.T) {
	a, b := pair(t, 50, nil)
	ctx := context.Background()
	if err := b.srv.Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	fill(t, a.srv, "only-a", 20)
	fill(t, b.srv, "only-b", 30)

	strict := writeConfig(t, "redis", a.srv, b.srv, settings{"on_diverged": "refuse"})
	if r := strict.run(t, "notify-backup"); r.code != 1 || !strings.Contains(r.stdout, "diverged") {
		t.Fatalf("on_diverged refuse: exit %d %q", r.code, r.stdout)
	}
	if dbsize(t, a.srv) != 70 || a.srv.Role(ctx) != "master" {
		t.Fatal("refusal changed A")
	}

	r := a.run(t, "notify-backup")
	if r.code != 0 || !strings.Contains(r.stdout, "backup-and-follow") {
		t.Fatalf("notify-backup: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	recs := a.journal(t)
	steps := recs[len(recs)-1].Steps
	// A master's writes are paused first, so none is acknowledged between
	// the snapshot and the follow (S6).
	if len(steps) < 3 || steps[0].Step != transition.StepPauseLocalWrites || steps[1].Step != transition.StepBackup || !steps[1].OK || steps[2].Step != transition.StepFollowPeer {
		t.Fatalf("steps %+v: want pause-local-writes, backup, then follow-peer", steps)
	}
	steps = steps[1:]
	waitInSync(t, a.srv)
	if n := dbsize(t, a.srv); n != 80 {
		t.Fatalf("A after resync holds %d keys, want B's 80", n)
	}
	// The backup holds what A had, including what only A had.
	if n := keysInRDB(t, steps[0].Detail); n != 70 {
		t.Fatalf("backup %s holds %d keys, want A's 70", steps[0].Detail, n)
	}
}

// keysInRDB loads an RDB file into a throwaway redis-server and counts keys.
func keysInRDB(t *testing.T, path string) int64 {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := redistest.Start(t, redistest.Options{Dir: dir})
	defer s.Kill()
	return dbsize(t, s)
}

// S4: notify-master and notify-backup fired concurrently and in shuffled
// order always end in the state of the newest event, with no loop.
func TestS4ConcurrentShuffledEventsNewestWins(t *testing.T) {
	rounds := 50
	if testing.Short() {
		rounds = 5
	}
	a, b := pair(t, 50, settings{"timeouts.sync": "5s", "timeouts.peer_wait": "8s", "timeouts.transition": "20s"})
	nodes := []*node{a, b}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	ctx := context.Background()
	for round := 0; round < rounds; round++ {
		target := rng.Intn(2)
		type ev struct {
			n     int
			event string
		}
		var evs []ev
		for i := 0; i < 2+rng.Intn(4); i++ {
			evs = append(evs, ev{rng.Intn(2), []string{"notify-master", "notify-backup", "notify-fault"}[rng.Intn(3)]})
		}
		finals := []ev{{target, "notify-master"}, {1 - target, "notify-backup"}}
		rng.Shuffle(2, func(i, j int) { finals[i], finals[j] = finals[j], finals[i] })
		evs = append(evs, finals...)

		var procs []*exec.Cmd
		for _, e := range evs {
			n := nodes[e.n]
			sd := transition.StateDir{Dir: n.state, Instance: n.name}
			before, _ := sd.Newest()
			cmd := exec.Command(redistest.Binary(t), e.event, "--config", n.config)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			procs = append(procs, cmd)
			// The next event is fired once this one has its place in the order.
			waitFor(t, "event enqueued", 5*time.Second, func() bool { now, _ := sd.Newest(); return now.Seq > before.Seq })
			time.Sleep(time.Duration(rng.Intn(30)) * time.Millisecond)
		}
		for _, p := range procs {
			waitProc(t, p, 60*time.Second)
		}
		win, lose := nodes[target].srv, nodes[1-target].srv
		waitFor(t, fmt.Sprintf("round %d: %s master, %s its replica in sync", round, win.Addr(), lose.Addr()), 20*time.Second, func() bool {
			return win.Role(ctx) == "master" && followsInSync(ctx, lose, win)
		})
		if dbsize(t, win) != 50 || dbsize(t, lose) != 50 {
			t.Fatalf("round %d: keys %d/%d, want 50/50", round, dbsize(t, win), dbsize(t, lose))
		}
	}
	// Every event left one journal line (run, superseded or deferred), and
	// the rounds did overlap: some transitions were superseded.
	recs := append(a.journal(t), b.journal(t)...)
	outcomes := map[string]int{}
	for _, r := range recs {
		outcomes[r.Outcome]++
	}
	t.Logf("%d journal lines: %v", len(recs), outcomes)
	if len(recs) < rounds*4 {
		t.Fatalf("journal lines %d for at least %d events", len(recs), rounds*4)
	}
	if outcomes[transition.OutcomeSuperseded] == 0 {
		t.Fatalf("no transition was superseded: the events did not overlap, so S4 was not exercised")
	}
}

func followsInSync(ctx context.Context, replica, master *redistest.Server) bool {
	info, err := replica.Client().Info(ctx, "replication").Result()
	return err == nil && strings.Contains(info, "role:slave") &&
		strings.Contains(info, fmt.Sprintf("master_port:%d", master.Port)) &&
		strings.Contains(info, "master_link_status:up")
}

func waitProc(t *testing.T, p *exec.Cmd, bound time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case <-done:
	case <-time.After(bound):
		_ = p.Process.Kill()
		t.Fatalf("%v did not finish within %s", p.Args, bound)
	}
}

// S7: a demoted node's clients are disconnected and its role is persisted.
func TestS7DemotedNodeShedsClientsAndPersistsRole(t *testing.T) {
	a, b := pair(t, 20, nil)
	ctx := context.Background()
	if err := b.srv.Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	fill(t, b.srv, "after-promotion", 1) // B holds what A holds and more
	conn, err := net.Dial("tcp", a.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	fmt.Fprint(conn, "PING\r\n")
	if line, err := rd.ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("ping: %q %v", line, err)
	}
	r := a.run(t, "notify-backup")
	if r.code != 0 || !strings.Contains(r.stdout, ": follow:") {
		t.Fatalf("notify-backup: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := rd.ReadByte(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("client of the demoted node still connected: read err %v", err)
	}
	conf, err := os.ReadFile(a.srv.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), fmt.Sprintf("replicaof 127.0.0.1 %d", b.srv.Port)) {
		t.Fatalf("redis.conf not rewritten with the new role:\n%s", conf)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// S8: the journal holds one line per transition, with facts, plan, steps,
// outcome and duration.
func TestS8JournalOneLinePerTransition(t *testing.T) {
	a, b := pair(t, 10, nil)
	runs := []struct {
		n   *node
		sub string
	}{{b, "notify-master"}, {a, "notify-backup"}, {a, "notify-fault"}, {b, "notify-stop"}, {a, "check"}}
	for _, r := range runs {
		if res := r.n.run(t, r.sub); res.code != 0 {
			t.Fatalf("%s: exit %d %q %q", r.sub, res.code, res.stdout, res.stderr)
		}
	}
	ra, rb := a.journal(t), b.journal(t)
	if len(ra) != 2 || len(rb) != 2 {
		t.Fatalf("journal lines A=%d B=%d, want 2 and 2 (check writes none)", len(ra), len(rb))
	}
	for _, rec := range append(ra, rb...) {
		if rec.Time.IsZero() || rec.Event == "" || rec.Outcome == "" || rec.Before.Local == nil || rec.After.Local == nil || rec.Plan == nil || rec.Seq == 0 {
			t.Fatalf("incomplete journal record %+v", rec)
		}
	}
	if rb[0].Event != transition.EventMaster || rb[1].Event != transition.EventStop || ra[0].Event != transition.EventBackup || ra[1].Event != transition.EventFault {
		t.Fatalf("events out of order: A %s,%s B %s,%s", ra[0].Event, ra[1].Event, rb[0].Event, rb[1].Event)
	}
}

// S2 bound: when the sync cannot finish, the node is not promoted and check
// fails for the hold-off so the VIP goes back to the data.
func TestS2SyncTimeoutDoesNotPromote(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{Args: []string{"requirepass s3cret"}})
	sb := redistest.Start(t, redistest.Options{Args: []string{"requirepass s3cret"}}) // no masterauth: its link can never come up
	ctx := context.Background()
	p := sa.Client("s3cret").Pipeline()
	for i := 0; i < 10; i++ {
		p.Set(ctx, fmt.Sprintf("k:%d", i), i, 0)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RV_TEST_PASSWORD", "s3cret")
	b := writeConfig(t, "redis", sb, sa, settings{"password_env": "RV_TEST_PASSWORD", "timeouts.sync": "1500ms", "timeouts.holdoff": "60s"})
	r := b.run(t, "notify-master")
	if r.code != 1 || !strings.Contains(r.stdout, "sync-timeout") {
		t.Fatalf("notify-master: exit %d %q %q; want 1 with sync-timeout", r.code, r.stdout, r.stderr)
	}
	info, _ := sb.Client("s3cret").Info(ctx, "replication").Result()
	if !strings.Contains(info, "role:slave") {
		t.Fatalf("B was promoted although it never synced:\n%s", info)
	}
	if r := b.run(t, "check"); r.code != 1 || !strings.Contains(r.stdout, "holding off") {
		t.Fatalf("check after sync timeout: exit %d %q, want 1 'holding off'", r.code, r.stdout)
	}
}

// A master told to follow whose peer is its in-sync replica hands the role
// over once its peer wait is over, under continuous writes, losing none (S2
// in reverse). This is how the newest backup event wins when an older
// handover left the roles the other way round.
func TestBackupOnMasterHandsOverWithoutLoss(t *testing.T) {
	for _, handover := range []string{"failover", "pause"} {
		t.Run(handover, func(t *testing.T) {
			a, b := pair(t, 100, settings{"handover": handover, "timeouts.peer_wait": "300ms"})
			ctx, cancel := context.WithCancel(context.Background())
			w := newWriter()
			done := make(chan struct{})
			go func() { defer close(done); w.run(ctx, a.srv, b.srv) }()
			waitFor(t, "writes on A", 5*time.Second, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.where[a.srv.Addr()] > 100 })
			r := a.run(t, "notify-backup")
			waitFor(t, "writes on B", 5*time.Second, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.where[b.srv.Addr()] > 100 })
			cancel()
			<-done
			if r.code != 0 || !strings.Contains(r.stdout, "hand-over-to-peer") {
				t.Fatalf("notify-backup: exit %d %q %q", r.code, r.stdout, r.stderr)
			}
			if b.srv.Role(context.Background()) != "master" || a.srv.Role(context.Background()) != "slave" {
				t.Fatalf("roles: A %s B %s, want B master", a.srv.Role(context.Background()), b.srv.Role(context.Background()))
			}
			if lost := w.missing(t, b.srv); len(lost) != 0 {
				t.Fatalf("%d acknowledged writes lost", len(lost))
			}
		})
	}
}

// notify-fifo reads keepalived's FIFO lines in order and ends in the state of
// the newest event; it exits when keepalived closes the FIFO.
func TestNotifyFIFOEndsInNewestEvent(t *testing.T) {
	a, b := pair(t, 30, nil)
	fifo := filepath.Join(t.TempDir(), "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(redistest.Binary(t), "notify-fifo", "--config", b.config, fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{`INSTANCE "redis" BACKUP 100`, "garbage line", `INSTANCE "redis" FAULT 0`, `INSTANCE "redis" MASTER 100`} {
		fmt.Fprintln(w, line)
	}
	ctx := context.Background()
	waitFor(t, "B master, A its replica", 20*time.Second, func() bool {
		return b.srv.Role(ctx) == "master" && followsInSync(ctx, a.srv, b.srv)
	})
	w.Close()
	waitProc(t, cmd, 20*time.Second)
	if dbsize(t, b.srv) != 30 {
		t.Fatalf("B holds %d keys, want 30", dbsize(t, b.srv))
	}
	recs := b.journal(t)
	if len(recs) == 0 || recs[len(recs)-1].Event != transition.EventMaster || recs[len(recs)-1].Outcome != transition.OutcomeOK {
		t.Fatalf("journal: want the newest event (master) last and ok, got %+v", recs)
	}
	for _, r := range recs {
		if r.Source != "keepalived-fifo" && r.Source != "reconcile" {
			t.Fatalf("journal source %q, want keepalived-fifo or reconcile", r.Source)
		}
	}
}
