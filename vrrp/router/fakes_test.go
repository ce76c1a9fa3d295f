package router

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/liveness"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
	"github.com/redis-vip/redis-vip/vrrp/packet"
	"github.com/redis-vip/redis-vip/vrrp/transport"
)

// The fakes work at the level of the domain: a link that carries adverts
// between routers with a delay, a VIP holder that records who holds the VIP
// when, a transition runner whose Redis becomes master or replica, and a
// health check the test sets. Every test runs in a testing/synctest bubble,
// so time is fake and nothing really sleeps.

var testVIP = netip.MustParsePrefix("192.0.2.70/26")

// lab is one fake network with its routers and a shared timeline.
type lab struct {
	t     *testing.T
	delay time.Duration

	mu      sync.Mutex
	wires   []*fakeWire
	sent    []sentAdvert
	holders map[string]bool
	multi   time.Time     // when more than one node started holding the VIP
	worst   time.Duration // longest period with more than one holder
	events  []string
	nodes   []*testNode
}

type sentAdvert struct {
	at   time.Time
	from string
	dst  netip.Addr
	prio uint8
}

func newLab(t *testing.T) *lab {
	return &lab{t: t, delay: time.Millisecond, holders: map[string]bool{}}
}

// note appends to the timeline.
func (l *lab) note(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("%s %s", time.Now().Format("05.000"), fmt.Sprintf(format, args...)))
}

// opsOf returns the timeline entries of one node, without the times.
func (l *lab) opsOf(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		_, rest, _ := strings.Cut(e, " ")
		if who, what, ok := strings.Cut(rest, ": "); ok && who == name {
			out = append(out, what)
		}
	}
	return out
}

func (l *lab) setHolding(name string, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holders[name] = held
	n := 0
	for _, h := range l.holders {
		if h {
			n++
		}
	}
	now := time.Now()
	switch {
	case n > 1 && l.multi.IsZero():
		l.multi = now
	case n <= 1 && !l.multi.IsZero():
		l.worst = max(l.worst, now.Sub(l.multi))
		l.multi = time.Time{}
	}
}

// worstDual is the longest time more than one node held the VIP.
func (l *lab) worstDual() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.worst
	if !l.multi.IsZero() {
		w = max(w, time.Since(l.multi))
	}
	return w
}

func (l *lab) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.events, "\n")
}

// fakeWire is one router's attachment to the lab's link.
type fakeWire struct {
	l    *lab
	name string
	src  netip.Addr
	in   chan transport.Datagram
	cut  bool
	// closed makes Receive fail as a closed socket does.
	closed chan struct{}
}

func (w *fakeWire) Source() netip.Addr { return w.src }

func (w *fakeWire) Send(ctx context.Context, payload []byte, dst netip.Addr) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	adv, err := packet.Parse(payload, w.src, dst)
	if err != nil {
		w.l.t.Errorf("%s sent a bad advert: %v", w.name, err)
		return nil
	}
	if adv.Priority == 0 {
		w.l.note("%s: advert-0", w.name)
	}
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.sent = append(w.l.sent, sentAdvert{at: time.Now(), from: w.name, dst: dst, prio: adv.Priority})
	if w.cut {
		return nil
	}
	for _, o := range w.l.wires {
		if o == w || o.cut || (dst != transport.IPv4.Group() && dst != o.src) {
			continue
		}
		d := transport.Datagram{Payload: append([]byte(nil), payload...), Src: w.src, Dst: dst, TTL: 255}
		o.deliver(d, w.l.delay)
	}
	return nil
}

// deliver hands d to the wire's receiver after delay (dropped if it
// lags 64 datagrams behind).
func (w *fakeWire) deliver(d transport.Datagram, delay time.Duration) {
	time.AfterFunc(delay, func() {
		select {
		case w.in <- d:
		default:
		}
	})
}

func (w *fakeWire) Receive(ctx context.Context) (transport.Datagram, error) {
	select {
	case d := <-w.in:
		return d, nil
	case <-ctx.Done():
		return transport.Datagram{}, ctx.Err()
	case <-w.closed:
		return transport.Datagram{}, fmt.Errorf("fake: %w", transport.ErrClosed)
	}
}

// fakeVIPs records who holds the VIP.
type fakeVIPs struct {
	l    *lab
	name string

	mu        sync.Mutex
	held      bool
	announces int
	counts    []int // the count of every Announce call
	addErr    error // when set, adding fails with it
	announced []time.Time
}

// failAdd makes adding the VIPs fail with err (nil: work again).
func (v *fakeVIPs) failAdd(err error) {
	v.mu.Lock()
	v.addErr = err
	v.mu.Unlock()
}

func (v *fakeVIPs) addError() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.addErr
}

func (v *fakeVIPs) set(held bool, op string) {
	v.mu.Lock()
	changed := v.held != held
	v.held = held
	v.mu.Unlock()
	if changed {
		v.l.setHolding(v.name, held)
		v.l.note("%s: %s", v.name, op)
	}
}

func (v *fakeVIPs) Add(context.Context) error {
	if err := v.addError(); err != nil {
		v.l.note("%s: vip-add-failed", v.name)
		return err
	}
	v.set(true, "vip-add")
	return nil
}
func (v *fakeVIPs) Remove(context.Context) error { v.set(false, "vip-remove"); return nil }

func (v *fakeVIPs) Reconcile(_ context.Context, want bool) (bool, error) {
	if err := v.addError(); err != nil && want && !v.Held() {
		return false, err
	}
	v.mu.Lock()
	changed := v.held != want
	v.mu.Unlock()
	v.set(want, "vip-reconcile")
	return changed, nil
}

func (v *fakeVIPs) Announce(ctx context.Context, count int, gap time.Duration) error {
	v.mu.Lock()
	v.announces++
	v.counts = append(v.counts, count)
	v.announced = append(v.announced, time.Now())
	v.mu.Unlock()
	v.l.note("%s: announce", v.name)
	return nil
}

// Announces returns how many times the VIPs were announced.
func (v *fakeVIPs) Announces() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.announces
}

// Held reports whether the VIP is on the fake interface.
func (v *fakeVIPs) Held() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.held
}

// fakeTrans is the transition runner: its Redis becomes master on a master
// transition (after promote, unless failPromote) and replica otherwise.
type fakeTrans struct {
	l    *lab
	name string

	mu          sync.Mutex
	role        node.Role
	promote     time.Duration // how long a master transition takes
	demote      time.Duration // how long the other transitions take
	vips        *fakeVIPs
	failPromote bool
	newest      int
	superseded  chan struct{}
	runs        []transition.Event
}

func (f *fakeTrans) Supersede(ev transition.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.newest++
	f.l.note("%s: supersede:%s", f.name, ev)
	if f.superseded != nil {
		close(f.superseded)
		f.superseded = nil
	}
	return nil
}

func (f *fakeTrans) Run(ctx context.Context, ev transition.Event, source string) (transition.Record, error) {
	if source != EventSource {
		f.l.t.Errorf("source %q", source)
	}
	f.mu.Lock()
	f.newest++
	f.runs = append(f.runs, ev)
	stop := make(chan struct{})
	f.superseded = stop
	d, fail := f.promote, f.failPromote
	if ev != transition.EventMaster {
		d = f.demote
	}
	f.mu.Unlock()
	f.l.note("%s: run:%s", f.name, ev)
	if ev != transition.EventMaster && f.vips.Held() {
		f.l.t.Errorf("%s: %s transition runs while the VIP is still held", f.name, ev)
	}
	rec := transition.Record{Event: ev, Source: source, Outcome: transition.OutcomeOK}
	{
		select {
		case <-time.After(d):
		case <-stop:
			rec.Outcome = transition.OutcomeSuperseded
			return rec, nil
		case <-ctx.Done():
			rec.Outcome = transition.OutcomeFailed
			return rec, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case ev == transition.EventMaster && fail:
		rec.Outcome = transition.OutcomeSyncTimeout
		rec.After.Local = &node.Facts{Role: f.role}
		return rec, errors.New("sync before promote timed out")
	case ev == transition.EventMaster:
		f.role = node.RoleMaster
	case ev == transition.EventBackup || ev == transition.EventFault:
		f.role = node.RoleReplica
	}
	rec.Plan = &transition.Plan{Decision: "fake"}
	rec.After.Local = &node.Facts{Role: f.role}
	f.l.note("%s: done:%s", f.name, ev)
	return rec, nil
}

func (f *fakeTrans) Runs() []transition.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]transition.Event(nil), f.runs...)
}

// fakeHealth is a health check the test flips. A check reads the health
// when it begins and answers after delay (zero: at once).
type fakeHealth struct {
	mu          sync.Mutex
	ok          bool
	maintenance bool
	checks      int
	delay       time.Duration
}

func (h *fakeHealth) Check(ctx context.Context) check.Result {
	h.mu.Lock()
	h.checks++
	res := check.Result{Reason: "fake: redis down", Maintenance: h.maintenance}
	if h.ok {
		res = check.Result{OK: true, Reason: "fake: ok", Maintenance: h.maintenance}
	}
	d := h.delay
	h.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return check.Result{Reason: "fake: check timed out"}
		}
	}
	return res
}

// fakeLive is the liveness watcher: the test sends its events.
type fakeLive struct {
	ch chan liveness.Event
}

func (f *fakeLive) Run(ctx context.Context, report func(liveness.Event)) {
	for {
		select {
		case ev := <-f.ch:
			report(ev)
		case <-ctx.Done():
			return
		}
	}
}

// gone reports the local Redis gone now.
func (f *fakeLive) gone() {
	f.ch <- liveness.Event{At: time.Now(), Reason: "fake: EOF, reconnect refused"}
}

// back reports it accepting connections again.
func (f *fakeLive) back() {
	f.ch <- liveness.Event{Up: true, At: time.Now(), Reason: "fake: accepts connections again"}
}

// SetMaintenance makes the checks report maintenance mode.
func (h *fakeHealth) SetMaintenance(on bool) {
	h.mu.Lock()
	h.maintenance = on
	h.mu.Unlock()
}

func (h *fakeHealth) Set(ok bool) {
	h.mu.Lock()
	h.ok = ok
	h.mu.Unlock()
}

// testNode is one router in the lab.
type testNode struct {
	name   string
	r      *Router
	wire   *fakeWire
	vips   *fakeVIPs
	trans  *fakeTrans
	health *fakeHealth
	live   *fakeLive
	cancel context.CancelFunc
	done   chan error
}

// baseSettings: VRRPv3, 100 ms adverts and checks, rise/fall 2.
func baseSettings(prio uint8) Settings {
	return Settings{
		Interface: "eth0", VRID: 51, Priority: prio, AdvertInterval: 100 * time.Millisecond, Version: 3,
		VIPs: []netip.Prefix{testVIP}, CheckInterval: 100 * time.Millisecond, Rise: 2, Fall: 2,
		GARPCount: 3, GARPInterval: 100 * time.Millisecond,
	}
}

// add builds a router; mutate may change its settings. It is not started.
func (l *lab) add(name, addr string, s Settings) *testNode {
	l.t.Helper()
	n := &testNode{name: name}
	n.wire = &fakeWire{l: l, name: name, src: netip.MustParseAddr(addr), in: make(chan transport.Datagram, 64), closed: make(chan struct{})}
	n.vips = &fakeVIPs{l: l, name: name}
	n.trans = &fakeTrans{l: l, name: name, role: node.RoleReplica, promote: 20 * time.Millisecond, vips: n.vips}
	n.health = &fakeHealth{ok: true}
	n.live = &fakeLive{ch: make(chan liveness.Event)}
	log := zaptest.NewLogger(l.t, zaptest.Level(zapcore.WarnLevel)).With(zap.String("node", name))
	r, err := New(Options{Name: name, Settings: s, Wire: n.wire, Addresses: n.vips, Transitions: n.trans, Health: n.health,
		Liveness: n.live, Log: log, CheckTimeout: 50 * time.Millisecond, TransitionTimeout: 10 * time.Second})
	if err != nil {
		l.t.Fatal(err)
	}
	n.r = r
	l.mu.Lock()
	l.wires = append(l.wires, n.wire)
	l.nodes = append(l.nodes, n)
	l.mu.Unlock()
	return n
}

func (n *testNode) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.done = make(chan error, 1)
	go func() { n.done <- n.r.Run(ctx) }()
}

// stop cancels Run and returns its error.
func (n *testNode) stop() error {
	if n.cancel == nil {
		return nil
	}
	n.cancel()
	n.cancel = nil
	return <-n.done
}

func (n *testNode) state() fsm.State { return n.r.Status().State }

// stopAll stops every running router; call it before the bubble ends.
func (l *lab) stopAll() {
	for _, n := range l.nodes {
		if err := n.stop(); err != nil {
			l.t.Errorf("%s: Run: %v", n.name, err)
		}
	}
}

// waitFor advances fake time in small steps until cond holds or limit
// passes, and returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("after %s: still not %s", limit, what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}
