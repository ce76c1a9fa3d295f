package transition

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/redis-vip/redis-vip/node"
)

// The pair the runner tests run against: local is the Redis this host
// guards, peer the other host's.
const (
	addrL = "192.0.2.1:6379"
	addrP = "192.0.2.2:6379"
	histA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	histB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	histC = "cccccccccccccccccccccccccccccccccccccccc"
)

var (
	ver72 = node.Version{Major: 7, Minor: 2, Patch: 4}
	ver60 = node.Version{Major: 6, Minor: 0, Patch: 16}
)

// errUnreachable is what a peer host that is down answers.
var errUnreachable = fmt.Errorf("dial: %w: connection refused", node.ErrUnreachable)

// fakeNet is a small model of two Redis servers that see each other: a
// replica's link comes up once its master is a master, FAILOVER swaps the
// roles after a few polls, PAUSE holds until UNPAUSE. Each fakeRedis is a
// transition.Server at the domain level (no sockets).
type fakeNet struct {
	mu    sync.Mutex
	nodes []*fakeRedis
	ids   int
}

// fakeRedis is one server of a fakeNet. The model fields are guarded by
// net.mu; tests set them before the run and read them after.
type fakeRedis struct {
	net  *fakeNet
	addr string
	// seenAs, when set, is the address the other node's replica list shows
	// this one at (NAT, announce-ip).
	seenAs string

	runID      string
	version    node.Version
	configFile string
	loading    bool
	down       bool // unreachable: every call fails with node.ErrUnreachable

	role      node.Role
	master    string // host:port followed, on a replica
	linkUp    bool
	syncing   bool  // master_sync_in_progress
	linkAfter int   // Facts calls before a new link comes up; < 0 never
	linkWait  int   // Facts calls since REPLICAOF
	linkDown  int64 // master_link_down_since_seconds while down
	frozen    bool  // link up, but the offset does not follow the master's
	writable  bool  // replica-read-only no

	replID, replID2      string
	offset, secondOffset int64
	keys                 int64

	paused    bool
	pausedAt  time.Time
	pausedFor time.Duration

	failoverState string
	failoverTo    *fakeRedis
	failoverAfter int // Facts calls on this node before a FAILOVER ends
	failoverPolls int
	abortFailover int // how many FAILOVERs this node ends without handing over

	clients int64
	// config holds the min-replicas-* settings (the fence), as set.
	config map[string]string

	stream    node.Stream
	streamErr error
	streamsAt []int64

	calls []string
	count map[string]int
	// errs injects errors: errs[method][n] fails the n-th call (1-based),
	// errs[method][0] every call.
	errs map[string]map[int]error
	// hooks run at the start of the n-th call of a method (before it acts),
	// outside the model's lock; hooks[method][0] on every call.
	hooks map[string]map[int]func()
}

func newFakeNet() *fakeNet { return &fakeNet{} }

// add puts a server at addr into the net, a master of hist at off with keys
// keys, Redis 7.2 running from a config file.
func (n *fakeNet) add(addr, hist string, off, keys int64) *fakeRedis {
	f := &fakeRedis{net: n, addr: addr, runID: "run-" + addr, version: ver72, configFile: "/etc/redis/redis.conf",
		role: node.RoleMaster, replID: hist, offset: off, keys: keys, linkAfter: 1, linkDown: 5,
		failoverState: "no-failover", failoverAfter: 1, clients: 3,
		count: map[string]int{}, errs: map[string]map[int]error{}, hooks: map[string]map[int]func(){}}
	n.nodes = append(n.nodes, f)
	return f
}

// follow makes f a replica of the server at of, its link up or not.
func (f *fakeRedis) follow(of string, linkUp bool) *fakeRedis {
	f.role, f.master, f.linkUp = node.RoleReplica, of, linkUp
	return f
}

// fail makes the n-th call of method fail with err (n = 0: every call).
func (f *fakeRedis) fail(method string, n int, err error) *fakeRedis {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	if f.errs[method] == nil {
		f.errs[method] = map[int]error{}
	}
	f.errs[method][n] = err
	return f
}

// on runs fn at the start of the n-th call of method (n = 0: every call).
func (f *fakeRedis) on(method string, n int, fn func()) *fakeRedis {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	if f.hooks[method] == nil {
		f.hooks[method] = map[int]func(){}
	}
	f.hooks[method][n] = fn
	return f
}

// pauseHolds reports whether a CLIENT PAUSE is in force on f now: taken,
// not ended by UNPAUSE, and not run out.
func (f *fakeRedis) pauseHolds() bool {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	return f.paused && time.Now().Before(f.pausedAt.Add(f.pausedFor))
}

// set changes the model under its lock (for hooks and between runs).
func (f *fakeRedis) set(fn func(f *fakeRedis)) {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	fn(f)
}

// n is how often method was called.
func (f *fakeRedis) n(method string) int {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	return f.count[method]
}

// log is the calls made so far, "Method args".
func (f *fakeRedis) log() []string {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	return slices.Clone(f.calls)
}

// state returns a copy of the model fields tests look at.
func (f *fakeRedis) state() (role node.Role, master string, paused bool, keys int64) {
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	return f.role, f.master, f.paused, f.keys
}

// enter counts and logs a call, runs its hook, and returns the error to
// answer with; the model is then changed under the lock by the caller.
func (f *fakeRedis) enter(method string, args ...any) error {
	f.net.mu.Lock()
	f.count[method]++
	n := f.count[method]
	call := method
	if len(args) > 0 {
		call += " " + strings.TrimSpace(fmt.Sprintln(args...))
	}
	f.calls = append(f.calls, call)
	var hooks []func()
	for _, k := range []int{0, n} {
		if h := f.hooks[method][k]; h != nil {
			hooks = append(hooks, h)
		}
	}
	err := f.errs[method][n]
	if err == nil {
		err = f.errs[method][0]
	}
	if err == nil && f.down {
		err = fmt.Errorf("%s %s: %w", strings.ToLower(method), f.addr, errUnreachable)
	}
	f.net.mu.Unlock()
	for _, h := range hooks {
		h()
	}
	return err
}

// find returns the server at addr (or seen as addr), nil when none.
func (n *fakeNet) find(addr string) *fakeRedis {
	for _, o := range n.nodes {
		if node.SameAddr(o.addr, addr) || (o.seenAs != "" && node.SameAddr(o.seenAs, addr)) {
			return o
		}
	}
	return nil
}

func (n *fakeNet) newID() string {
	n.ids++
	return fmt.Sprintf("%040d", n.ids)
}

// tick moves the model on by one poll of f: a link comes up, a replica
// catches up, a FAILOVER progresses. Called with the lock held.
func (f *fakeRedis) tick() {
	if f.role == node.RoleReplica {
		m := f.net.find(f.master)
		switch {
		case m == nil || m.down || m.role != node.RoleMaster:
			f.linkUp = false
		case !f.linkUp:
			f.linkWait++
			if f.linkAfter >= 0 && f.linkWait >= f.linkAfter {
				f.linkUp, f.syncing = true, false
				f.copyFrom(m)
			}
		case !f.frozen:
			f.copyFrom(m)
		}
	}
	if f.failoverTo != nil {
		f.failoverPolls++
		if f.failoverPolls < f.failoverAfter {
			return
		}
		t := f.failoverTo
		f.failoverTo, f.failoverState = nil, "no-failover"
		if f.abortFailover > 0 {
			f.abortFailover--
			return
		}
		t.promote()
		f.role, f.master, f.linkUp, f.paused = node.RoleReplica, t.addr, true, false
		f.copyFrom(t)
	}
}

func (f *fakeRedis) copyFrom(m *fakeRedis) {
	f.replID, f.replID2, f.offset, f.secondOffset, f.keys = m.replID, m.replID2, m.offset, m.secondOffset, m.keys
}

// promote is REPLICAOF NO ONE: a new history continuing the old one.
func (f *fakeRedis) promote() {
	if f.role == node.RoleMaster {
		return
	}
	f.role, f.master, f.linkUp, f.syncing = node.RoleMaster, "", false, false
	f.replID2, f.secondOffset, f.replID = f.replID, f.offset+1, f.net.newID()
}

func (f *fakeRedis) facts() node.Facts {
	fa := node.Facts{Addr: f.addr, ServerName: "redis", Version: f.version, RunID: f.runID, ConfigFile: f.configFile,
		Loading: f.loading, Role: f.role, MasterLinkDownSecs: -1, FailoverState: f.failoverState,
		ReplID: f.replID, ReplID2: f.replID2, ReplOffset: f.offset, SecondReplOffset: f.secondOffset, Keys: f.keys}
	if f.role == node.RoleReplica {
		host, port, _ := net.SplitHostPort(f.master)
		fa.MasterHost = host
		fa.MasterPort, _ = strconv.Atoi(port)
		fa.MasterLinkUp, fa.MasterSyncInProgress = f.linkUp, f.syncing
		if !f.linkUp {
			fa.MasterLinkDownSecs = f.linkDown
		} else {
			fa.MasterLinkDownSecs = 0
		}
		fa.FailoverState = ""
	}
	for _, o := range f.net.nodes {
		if o != f && o.role == node.RoleReplica && o.linkUp && f.net.find(o.master) == f {
			at := o.addr
			if o.seenAs != "" {
				at = o.seenAs
			}
			host, port, _ := net.SplitHostPort(at)
			p, _ := strconv.Atoi(port)
			fa.Replicas = append(fa.Replicas, node.Replica{IP: host, Port: p, State: "online", Offset: o.offset})
		}
	}
	return fa
}

func (f *fakeRedis) Addr() string { return f.addr }

func (f *fakeRedis) Facts(context.Context) (node.Facts, error) {
	if err := f.enter("Facts"); err != nil {
		return node.Facts{}, err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	f.tick()
	return f.facts(), nil
}

func (f *fakeRedis) ReplicaOf(_ context.Context, host string, port int) error {
	if err := f.enter("ReplicaOf", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	to := net.JoinHostPort(host, strconv.Itoa(port))
	if f.role == node.RoleReplica && node.SameAddr(f.master, to) {
		return nil // "OK Already connected to specified master"
	}
	f.role, f.master, f.linkUp, f.linkWait = node.RoleReplica, to, false, 0
	return nil
}

func (f *fakeRedis) PromoteNoOne(context.Context) error {
	if err := f.enter("PromoteNoOne"); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	f.promote()
	return nil
}

func (f *fakeRedis) FailoverTo(_ context.Context, host string, port int, timeout time.Duration) error {
	to := net.JoinHostPort(host, strconv.Itoa(port))
	if err := f.enter("FailoverTo", to); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	if f.role != node.RoleMaster {
		return errors.New("ERR FAILOVER is not valid when server is a replica")
	}
	if timeout <= 0 {
		return errors.New("ERR FAILOVER timeout must be positive")
	}
	t := f.net.find(to)
	if t == nil || (t.seenAs != "" && !node.SameAddr(t.seenAs, to)) {
		// Redis finds the target by the name its replica list shows.
		return fmt.Errorf("ERR FAILOVER target HOST and PORT is not a replica")
	}
	f.failoverTo, f.failoverPolls, f.failoverState = t, 0, "waiting-for-sync"
	return nil
}

func (f *fakeRedis) FailoverAbort(context.Context) error {
	if err := f.enter("FailoverAbort"); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	f.failoverTo, f.failoverState = nil, "no-failover"
	return nil
}

func (f *fakeRedis) PauseWrites(_ context.Context, d time.Duration) error {
	if err := f.enter("PauseWrites"); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	f.paused, f.pausedAt, f.pausedFor = true, time.Now(), d
	return nil
}

func (f *fakeRedis) Unpause(context.Context) error {
	if err := f.enter("Unpause"); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	f.paused = false
	return nil
}

func (f *fakeRedis) KillNormalClients(context.Context) (int64, error) {
	if err := f.enter("KillNormalClients"); err != nil {
		return 0, err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	n := f.clients
	f.clients = 0
	return n, nil
}

func (f *fakeRedis) ConfigRewrite(context.Context) error { return f.enter("ConfigRewrite") }

func (f *fakeRedis) ConfigGet(_ context.Context, name string) (string, error) {
	if err := f.enter("ConfigGet", name); err != nil {
		return "", err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	if strings.HasPrefix(name, "min-replicas-") {
		if v, ok := f.config[name]; ok {
			return v, nil
		}
		return map[string]string{"min-replicas-to-write": "0", "min-replicas-max-lag": "10"}[name], nil
	}
	if name != "replica-read-only" {
		return "", fmt.Errorf("ERR unknown parameter %q", name)
	}
	if f.writable {
		return "no", nil
	}
	return "yes", nil
}

func (f *fakeRedis) ConfigSet(_ context.Context, name, value string) error {
	if err := f.enter("ConfigSet", name+"="+value); err != nil {
		return err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	if name == "min-replicas-to-write" || name == "min-replicas-max-lag" {
		if f.config == nil {
			f.config = map[string]string{}
		}
		f.config[name] = value
		return nil
	}
	if name != "replica-read-only" {
		return fmt.Errorf("ERR unknown parameter %q", name)
	}
	f.writable = value == "no"
	return nil
}

func (f *fakeRedis) LastSave(context.Context) (time.Time, error) {
	return time.Unix(0, 0), f.enter("LastSave")
}

func (f *fakeRedis) BGSave(context.Context) error { return f.enter("BGSave") }

func (f *fakeRedis) StreamSince(_ context.Context, from int64) (node.Stream, error) {
	if err := f.enter("StreamSince", from); err != nil {
		return node.Stream{}, err
	}
	f.net.mu.Lock()
	defer f.net.mu.Unlock()
	f.streamsAt = append(f.streamsAt, from)
	if f.streamErr != nil {
		return node.Stream{}, f.streamErr
	}
	st := f.stream
	st.From = from
	return st, nil
}

// fakeBackups is a Backupper that records what it was asked to save.
type fakeBackups struct {
	mu    sync.Mutex
	saved []node.Facts
	errs  map[int]error // n-th call (1-based) fails; 0: every call
	hook  func()
}

func (b *fakeBackups) Backup(_ context.Context, s Server, f node.Facts) (string, error) {
	b.mu.Lock()
	b.saved = append(b.saved, f)
	n := len(b.saved)
	err := b.errs[n]
	if err == nil {
		err = b.errs[0]
	}
	hook := b.hook
	b.mu.Unlock()
	if hook != nil {
		hook()
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/var/backups/redis/%s-%s-%d.rdb", s.Addr(), f.ReplID[:8], f.ReplOffset), nil
}

func (b *fakeBackups) calls() []node.Facts {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.saved)
}

// fakeClock is a controllable clock; step, when set, is added after each
// reading so that time passes with every look at it.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// rig is a Runner wired to a fakeNet of local and peer, a real StateDir in
// a temporary directory and an observed logger.
type rig struct {
	t           *testing.T
	net         *fakeNet
	local, peer *fakeRedis
	backups     *fakeBackups
	r           *Runner
	logs        *observer.ObservedLogs
}

// newRig returns the rig of local (at addrL) and peer (at addrP), both
// masters of histA at offset 100 with 10 keys until the test changes them.
func newRig(t *testing.T) *rig {
	t.Helper()
	n := newFakeNet()
	core, logs := observer.New(zap.DebugLevel)
	g := &rig{t: t, net: n, local: n.add(addrL, histA, 100, 10), peer: n.add(addrP, histA, 100, 10),
		backups: &fakeBackups{errs: map[int]error{}}, logs: logs}
	g.r = &Runner{Log: zap.New(core), Instance: "redis-6379", Local: g.local, Peer: g.peer,
		LocalAnnounce: node.MustParseAddr(addrL), PeerAddr: node.MustParseAddr(addrP), State: StateDir{Dir: t.TempDir(), Instance: "redis-6379"},
		Backups: g.backups, Now: time.Now,
		Opts: Options{Handover: HandoverFailover, SyncTimeout: 2 * time.Second, Holdoff: time.Minute, Poll: time.Millisecond}}
	return g
}

// run runs one transition, bounded so that a broken runner fails the test
// instead of hanging it.
func (g *rig) run(ev Event) (Record, error) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return g.r.Run(ctx, ev, "test")
}

// journal reads the journal back.
func (g *rig) journal() []Record {
	g.t.Helper()
	recs, bad, err := ReadJournal(g.r.State.JournalPath())
	if err != nil || bad != 0 {
		g.t.Fatalf("journal: %d bad lines, %v", bad, err)
	}
	return recs
}

// stepNames renders executed steps as "name" or "!name" for a failed one.
func stepNames(rs []StepResult) []string {
	out := []string{}
	for _, s := range rs {
		name := string(s.Step)
		if !s.OK {
			name = "!" + name
		}
		out = append(out, name)
	}
	return out
}

// hasCall reports whether calls holds one starting with prefix.
func hasCall(calls []string, prefix string) bool {
	return slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// callIndex is the index of the first call starting with prefix, -1 if none.
func callIndex(calls []string, prefix string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}
