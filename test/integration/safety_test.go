package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/redistest"
	"github.com/redis-vip/redis-vip/transition"
)

// One test per failure class of the safety core (issue 9), each against
// real redis-server processes and the real binary. Each one failed on the
// code before the fix: the comment says how.

// S9, class 1: a peer that refuses our password is not an absent peer.
// Before: notify-master read the refusal as "peer unreachable" and promoted
// B alone next to a live master A: two masters.
func TestS9PeerWithOtherPasswordIsBadInput(t *testing.T) {
	sa := redistest.Start(t, redistest.Options{Args: []string{"requirepass right", "masterauth right"}})
	sb := redistest.Start(t, redistest.Options{Args: []string{"requirepass right", "masterauth right"}})
	ctx := context.Background()
	if err := sa.Client("right").Set(ctx, "seed", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Client("right").Do(ctx, "REPLICAOF", "127.0.0.1", sa.Port).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B in sync", 15*time.Second, func() bool {
		info, err := sb.Client("right").Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("right\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := writeConfig(t, "redis", sb, sa, settings{"password_file": pw})
	if err := os.MkdirAll(b.state, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.state, "redis.switchover"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The operator changes A's password and not B's configuration.
	if err := sa.Client("right").ConfigSet(ctx, "requirepass", "changed").Err(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"notify-master", "notify-backup", "notify-fault", "switchover"} {
		r := b.run(t, sub)
		if r.code != 2 || !strings.Contains(r.stderr, "authentication failed") {
			t.Fatalf("%s: exit %d stdout %q stderr %q; want exit 2 naming the refused password", sub, r.code, r.stdout, r.stderr)
		}
		oneLine(t, sub+" stderr", r.stderr)
	}
	if role := roleWith(t, sb, "right"); role != "slave" {
		t.Fatalf("B is %s after the hooks, want slave (nothing changed)", role)
	}
}

// roleWith reads INFO replication's role with a password.
func roleWith(t *testing.T, s *redistest.Server, pw string) string {
	t.Helper()
	info, err := s.Client(pw).Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", s.Addr(), err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "role:"); ok {
			return v
		}
	}
	return ""
}

// S9, class 1: a peer busy in a long Lua script answers -BUSY: alive.
// Before: notify-master promoted B alone; when the script ended, A was a
// second master with its clients.
func TestS9BusyPeerIsAlive(t *testing.T) {
	a, b := pair(t, 20, settings{"timeouts.peer_wait": "1500ms"})
	a.srv.Busy()
	r := b.run(t, "notify-master")
	if r.code != 0 || !strings.Contains(r.stdout, "deferred") {
		t.Fatalf("notify-master on B: exit %d %q %q: want deferred", r.code, r.stdout, r.stderr)
	}
	if role := b.srv.Role(context.Background()); role != "slave" {
		t.Fatalf("B is %s while A is busy, want slave", role)
	}
}

// S11, class 2: offsets that grew with key expiry alone are not writes.
// B is promoted during a blip (its peer address dead for a moment) and
// takes no client writes; keys expire on it, moving its offset. A keeps
// the clients and takes 500 writes. Before: B counted as the successor,
// A's check failed ("superseded") and A's 500 writes went to a backup.
func TestS11ExpiryAloneIsNotASuccessor(t *testing.T) {
	a, b := pair(t, 20, nil)
	ctx := context.Background()
	p := a.srv.Client().Pipeline()
	for i := 0; i < 50; i++ {
		p.Set(ctx, fmt.Sprintf("ttl:%d", i), i, 300*time.Millisecond)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, b.srv)
	// The blip: B cannot see A and is promoted alone.
	blip := writeConfig(t, "redis", b.srv, &redistest.Server{Port: redistest.FreePort(t)}, nil)
	blip.state, blip.config = b.state, rewriteState(t, blip.config, b.state)
	if r := blip.run(t, "notify-master"); r.code != 0 || !strings.Contains(r.stdout, "promote-alone") {
		t.Fatalf("blip notify-master: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Keys expire on B (DELs in its stream); A goes on with its clients.
	waitFor(t, "the TTL keys expired on B", 10*time.Second, func() bool { return dbsize(t, b.srv) == 20 })
	fill(t, a.srv, "after", 500)
	if r := a.run(t, "check"); r.code != 0 {
		t.Fatalf("check on A (took the writes): exit %d %q, want eligible", r.code, r.stdout)
	}
	if r := b.run(t, "check"); r.code != 1 || !strings.Contains(r.stdout, "took no writes") {
		t.Fatalf("check on B (took none): exit %d %q, want not eligible", r.code, r.stdout)
	}
	if r := b.run(t, "notify-backup"); r.code != 0 {
		t.Fatalf("notify-backup on B: exit %d %q %q, want B to follow A", r.code, r.stdout, r.stderr)
	}
	waitInSync(t, b.srv)
	if role := a.srv.Role(ctx); role != "master" {
		t.Fatalf("A is %s, want master", role)
	}
	for _, s := range []*redistest.Server{a.srv, b.srv} {
		if n := dbsize(t, s); n != 520 {
			t.Fatalf("%s holds %d keys, want 520 (A's 500 writes kept)", s.Addr(), n)
		}
	}
	rec := b.journal(t)
	last := rec[len(rec)-1]
	if last.Before.LocalStream == nil || last.Before.LocalStream.Writes.String() != "deletes-only" {
		t.Fatalf("journal: local stream %+v, want deletes-only recorded", last.Before.LocalStream)
	}
	if !hasStep(last, transition.StepBackup) {
		t.Fatalf("journal steps %+v: B's deletions since the fork must be backed up before it follows (S6)", last.Steps)
	}
}

// rewriteState points a config file at another state dir.
func rewriteState(t *testing.T, path, state string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "state_dir:") {
			l = l[:strings.Index(l, "state_dir:")] + "state_dir: " + state
		}
		out = append(out, l)
	}
	if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The converse still holds: a node promoted from the other's history that
// did take client writes is the successor, and the old master backs up.
func TestS11PromotedNodeWithWritesIsTheSuccessor(t *testing.T) {
	a, b := pair(t, 20, nil)
	fill(t, a.srv, "before", 5) // A's history goes on past the full sync
	waitInSync(t, b.srv)
	blip := writeConfig(t, "redis", b.srv, &redistest.Server{Port: redistest.FreePort(t)}, nil)
	blip.config = rewriteState(t, blip.config, b.state)
	if r := blip.run(t, "notify-master"); r.code != 0 {
		t.Fatalf("notify-master: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	fill(t, b.srv, "clients-on-b", 300)
	fill(t, a.srv, "clients-on-a", 10) // a real split brain: both took writes
	if r := a.run(t, "check"); r.code != 1 || !strings.Contains(r.stdout, "superseded") {
		t.Fatalf("check on the old master A: exit %d %q, want superseded", r.code, r.stdout)
	}
	if r := b.run(t, "check"); r.code != 0 {
		t.Fatalf("check on the successor B: exit %d %q, want eligible", r.code, r.stdout)
	}
}

// S10, class 5: a replica whose link has been down longer than
// max_link_down is not promoted alone; --force does it and says how far.
// Before: promoted at once, whatever it missed.
func TestS10StaleReplicaNotPromotedAlone(t *testing.T) {
	a, b := pair(t, 20, settings{"max_link_down": "1s"})
	ctx := context.Background()
	a.srv.Kill()
	waitFor(t, "B's link down for 2s", 10*time.Second, func() bool {
		info, err := b.srv.Client().Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:down") && !strings.Contains(info, "master_link_down_since_seconds:0\r") &&
			!strings.Contains(info, "master_link_down_since_seconds:1\r") && !strings.Contains(info, "master_link_down_since_seconds:-1")
	})
	if r := b.run(t, "check"); r.code != 1 || !strings.Contains(r.stdout, "max_link_down") {
		t.Fatalf("check: exit %d %q, want not eligible naming max_link_down", r.code, r.stdout)
	}
	r := b.run(t, "notify-master")
	if r.code != 1 || !strings.Contains(r.stdout, "refuse-stale") {
		t.Fatalf("notify-master: exit %d %q %q, want refused as stale", r.code, r.stdout, r.stderr)
	}
	if role := b.srv.Role(ctx); role != "slave" {
		t.Fatalf("B is %s, want still a replica", role)
	}
	r = b.run(t, "notify-master", "--force")
	if r.code != 0 || !strings.Contains(r.stdout, "has been down for") {
		t.Fatalf("notify-master --force: exit %d %q %q, want promoted with how far behind", r.code, r.stdout, r.stderr)
	}
	if role := b.srv.Role(ctx); role != "master" {
		t.Fatalf("B is %s after --force, want master", role)
	}
}

// S12, class 4: a notify-fault that could not read its own stalled Redis
// left a second master that nothing repaired. The notify-fifo process now
// reconciles on a timer: once the Redis resumes, it follows the peer.
func TestS12StalledFaultIsRepairedByTheReconciler(t *testing.T) {
	a, b := pair(t, 30, settings{"reconcile_interval": "500ms", "timeouts.command": "300ms"})
	ctx := context.Background()
	// B became master during a blip and took no writes; A kept the VIP.
	if err := b.srv.Client().Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	fill(t, a.srv, "after", 100)
	fifo := filepath.Join(t.TempDir(), "notify.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(redistest.Binary(t), "notify-fifo", "--config", b.config, fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// B's Redis stalls; keepalived says FAULT; the hook cannot read it.
	thaw := b.srv.Freeze()
	fmt.Fprintln(w, `INSTANCE "redis" FAULT 0`)
	waitFor(t, "the fault transition to fail on the stalled Redis", 20*time.Second, func() bool {
		for _, r := range readJournal(b) {
			if r.Event == transition.EventFault && r.Outcome == transition.OutcomeFailed {
				return true
			}
		}
		return false
	})
	thaw()
	// No further keepalived event: the reconciler alone must repair it.
	waitFor(t, "B to follow A on its own", 20*time.Second, func() bool { return followsInSync(ctx, b.srv, a.srv) })
	if n := dbsize(t, b.srv); n != 130 {
		t.Fatalf("B holds %d keys, want 130", n)
	}
	waitFor(t, "a successful reconcile record in B's journal", 10*time.Second, func() bool {
		for _, r := range readJournal(b) {
			if r.Source == "reconcile" && r.Outcome == transition.OutcomeOK {
				return true
			}
		}
		return false
	})
}

// readJournal reads n's journal without failing on a missing file.
func readJournal(n *node) []transition.Record {
	recs, _, _ := transition.ReadJournal(filepath.Join(n.state, n.name+".journal"))
	return recs
}

// S9 for guard: a peer that refuses the password is a configuration error
// (exit 2, include untouched); a peer busy in a script is alive, so a node
// with data on disk starts neither as master nor as replica (exit 1).
// Before: both read as "peer unreachable" and the node with an older
// snapshot started as master.
func TestS9GuardPeerThatAnswersIsAlive(t *testing.T) {
	// Generous command timeouts: a peer busy in a script answers -BUSY
	// only between script steps, slowly on a loaded machine.
	a, b := pair(t, 50, settings{"timeouts.peer_wait": "1s", "timeouts.command": "10s", "timeouts.check": "10s"})
	ctx := context.Background()
	if err := b.srv.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b.srv.Kill() // B has dump.rdb from its save; A goes on
	fill(t, a.srv, "after", 100)
	inc := guardInclude(b)
	if err := os.WriteFile(inc, []byte("# before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.srv.Client().ConfigSet(ctx, "requirepass", "other").Err(); err != nil {
		t.Fatal(err)
	}
	r := b.run(t, "guard")
	if r.code != 2 || !strings.Contains(r.stderr, "authentication failed") {
		t.Fatalf("guard, peer refuses the password: exit %d %q %q, want 2", r.code, r.stdout, r.stderr)
	}
	oneLine(t, "guard stderr", r.stderr)
	if got, _ := os.ReadFile(inc); string(got) != "# before\n" {
		t.Fatalf("include changed on a configuration error:\n%s", got)
	}
	pwc := a.srv.Client("other")
	if err := pwc.ConfigSet(ctx, "requirepass", "").Err(); err != nil {
		t.Fatal(err)
	}
	a.srv.Busy()
	r = b.run(t, "guard")
	if r.code != 1 || !strings.Contains(r.stderr, "alive") {
		t.Fatalf("guard, busy peer: exit %d %q %q, want 1 (not starting)", r.code, r.stdout, r.stderr)
	}
	if got, _ := os.ReadFile(inc); strings.Contains(string(got), "replicaof no one") {
		t.Fatalf("include says start as master next to a live peer:\n%s", got)
	}
}

// A dataset drained on purpose: while B is down, the operator empties A
// (FLUSHALL), an acknowledged write like any other. Before: guard saw "an
// empty peer" and started B as master with the flushed keys, a second
// master that undid the drain. Now: A's history holds B's position and
// goes further, so B backs up its file and follows A.
func TestDrainedMasterIsFollowedByGuard(t *testing.T) {
	a, b := pair(t, 40, nil)
	ctx := context.Background()
	if err := b.srv.Client().Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	b.srv.Kill()
	if err := a.srv.Client().FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	r := b.run(t, "guard")
	if r.code != 0 || !strings.Contains(r.stdout, "start-as-replica") || !strings.Contains(r.stdout, "emptied on purpose") {
		t.Fatalf("guard: exit %d %q %q, want start-as-replica of the drained master", r.code, r.stdout, r.stderr)
	}
	b.srv.Restart("include " + guardInclude(b))
	waitInSync(t, b.srv)
	if n := dbsize(t, b.srv); n != 0 {
		t.Fatalf("B holds %d keys after following the drained master, want 0", n)
	}
	if r := a.run(t, "check"); r.code != 0 {
		t.Fatalf("check on the drained master: exit %d %q, want eligible", r.code, r.stdout)
	}
	entries, err := os.ReadDir(b.backup)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no backup of B's file before it followed the drained master: %v", err)
	}
}

// A writable replica (replica-read-only no) acknowledges writes that are in
// no offset and that Redis discards at its next full sync. The torture
// suite found them lost (seed 11). A pass of the reconciler makes the
// replica read-only again, after backing up what clients wrote to it.
func TestWritableReplicaMadeReadOnlyAfterABackup(t *testing.T) {
	a, b := pair(t, 20, nil)
	ctx := context.Background()
	if err := b.srv.Client().ConfigSet(ctx, "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	fill(t, b.srv, "on-the-replica", 15) // acknowledged by B alone
	if r := b.run(t, "notify-backup"); r.code != 0 {
		t.Fatalf("notify-backup: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := b.run(t, "reconcile"); r.code != 0 || !strings.Contains(r.stdout, "replica-read-only") && !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("reconcile: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	v, err := b.srv.Client().ConfigGet(ctx, "replica-read-only").Result()
	if err != nil || v["replica-read-only"] != "yes" {
		t.Fatalf("replica-read-only = %v (%v), want yes", v, err)
	}
	if err := b.srv.Client().Set(ctx, "late", 1, 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "READONLY") {
		t.Fatalf("a write on the replica: %v, want READONLY", err)
	}
	entries, err := os.ReadDir(b.backup)
	if err != nil || len(entries) != 1 {
		t.Fatalf("backups of B: %v %v, want one", entries, err)
	}
	if n := keysInRDB(t, filepath.Join(b.backup, entries[0].Name())); n != 35 {
		t.Fatalf("backup holds %d keys, want 35 (20 replicated, 15 written on the replica)", n)
	}
	_ = a
}
