package fsm

import (
	"net/netip"
	"testing"
	"time"
)

// checkMachine asserts the invariants that hold after every call made at
// now: Master runs only the Adver_Timer, Backup only the Master_Down_Timer,
// Init and Fault none; running timers lie in the future; Fault means
// unhealthy and Backup/Master mean healthy; Master_Adver_Interval is valid.
func checkMachine(t testing.TB, m *Machine, now time.Time) {
	t.Helper()
	switch m.state {
	case Master:
		if m.adverAt.IsZero() || !m.downAt.IsZero() {
			t.Errorf("Master timers: adver %v down %v", offset(m.adverAt), offset(m.downAt))
		}
		if !m.adverAt.After(now) {
			t.Errorf("Master adver timer %v not after now %v", offset(m.adverAt), offset(now))
		}
		if !m.healthy {
			t.Error("Master while unhealthy")
		}
	case Backup:
		if m.downAt.IsZero() || !m.adverAt.IsZero() {
			t.Errorf("Backup timers: adver %v down %v", offset(m.adverAt), offset(m.downAt))
		}
		if !m.downAt.After(now) {
			t.Errorf("Backup down timer %v not after now %v", offset(m.downAt), offset(now))
		}
		if !m.healthy {
			t.Error("Backup while unhealthy")
		}
	case Init, Fault:
		if !m.adverAt.IsZero() || !m.downAt.IsZero() || !m.NextDeadline().IsZero() {
			t.Errorf("%v has a timer: adver %v down %v", m.state, offset(m.adverAt), offset(m.downAt))
		}
		if m.state == Fault && m.healthy {
			t.Error("Fault while healthy")
		}
	default:
		t.Errorf("unknown state %v", m.state)
	}
	if got := m.NextDeadline(); m.state == Master && !got.Equal(m.adverAt) || m.state == Backup && !got.Equal(m.downAt) {
		t.Errorf("NextDeadline %v does not match the running timer", offset(got))
	}
	iv := m.masterAdverInterval
	if m.cfg.Version == 2 && iv != m.cfg.AdvertInterval {
		t.Errorf("v2 Master_Adver_Interval %v differs from configured %v", iv, m.cfg.AdvertInterval)
	}
	if iv < V3IntervalUnit || iv > V3MaxInterval {
		t.Errorf("Master_Adver_Interval %v out of range", iv)
	}
}

// checkActions asserts that acts, returned by a call that moved the machine
// from state before to state after, are well formed: at most one
// StateChanged, first, matching the states; becoming Master sends our
// priority and takes the VIP; every other transition releases the VIP, and
// leaving Master (for any state) sends exactly one priority-0 advert;
// adverts carry our priority otherwise. Without a transition only a Master
// acts: an advert, possibly followed by Reclaim.
func checkActions(t testing.TB, cfg Config, before, after State, acts []Action) {
	t.Helper()
	changes := 0
	for i, a := range acts {
		switch a.Kind {
		case ActStateChanged:
			changes++
			if i != 0 {
				t.Errorf("StateChanged at position %d in %v", i, acts)
			}
			if a.From != before || a.To != after || a.From == a.To {
				t.Errorf("StateChanged %v, machine went %v->%v", a, before, after)
			}
			if a.Reason == ReasonNone {
				t.Errorf("StateChanged without reason: %v", a)
			}
		case ActSendAdvert:
			if a.Priority != cfg.Priority && a.Priority != 0 {
				t.Errorf("advert with priority %d, config %d", a.Priority, cfg.Priority)
			}
		case ActBecomeMaster, ActBecomeBackup:
		case ActReclaim:
			if changes != 0 || before != Master || after != Master {
				t.Errorf("Reclaim outside a steady Master (%v->%v): %v", before, after, acts)
			}
		default:
			t.Errorf("unknown action %v", a)
		}
	}
	if changes == 0 {
		if before != after {
			t.Errorf("state went %v->%v without StateChanged: %v", before, after, acts)
		}
		advert := Action{Kind: ActSendAdvert, Priority: cfg.Priority}
		ok := len(acts) == 0 ||
			after == Master && acts[0] == advert && (len(acts) == 1 || len(acts) == 2 && acts[1].Kind == ActReclaim)
		if !ok {
			t.Errorf("actions without transition in %v: %v", after, acts)
		}
		return
	}
	if changes > 1 {
		t.Fatalf("%d StateChanged in one call: %v", changes, acts)
	}
	var want []Action
	switch {
	case after == Master:
		want = []Action{acts[0], {Kind: ActSendAdvert, Priority: cfg.Priority}, {Kind: ActBecomeMaster}}
	case before == Master:
		want = []Action{acts[0], {Kind: ActBecomeBackup}, {Kind: ActSendAdvert}}
	default:
		want = []Action{acts[0], {Kind: ActBecomeBackup}}
	}
	if len(acts) != len(want) {
		t.Errorf("%v->%v: actions %v, want %v", before, after, acts, want)
		return
	}
	for i := range want {
		if acts[i] != want[i] {
			t.Errorf("%v->%v: actions %v, want %v", before, after, acts, want)
			return
		}
	}
}

// FuzzMachine feeds random event sequences to one machine and checks the
// invariants after every call. The first three bytes pick the config; then
// each op byte picks an input, followed by the bytes that input needs.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0x03, 100, 99, 0, 0, 2, 200, 2, 255})
	f.Add([]byte{0x07, 255, 0, 0, 0, 5, 0, 3, 10, 200, 20, 100, 1, 0})
	f.Add([]byte{0x00, 100, 0, 0, 1, 4, 0, 4, 1, 2, 50, 3, 40, 0, 7, 100})
	f.Add([]byte{0x01, 1, 3, 0, 0, 3, 0, 0, 30, 5, 0, 3, 1, 255, 10, 100, 4, 0, 4, 1, 1, 0})
	f.Add([]byte{0x02, 200, 0, 0, 0, 5, 0, 3, 0, 100, 9, 100, 3, 0, 250, 11, 0, 6, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		cfg := Config{
			VRID:              7,
			Version:           2 + int(data[0]&1),
			Preempt:           data[0]&2 != 0,
			OwnerStartsMaster: data[0]&4 != 0,
			AcceptMode:        data[0]&8 != 0,
			Priority:          max(data[1], 1),
			Primary:           netip.AddrFrom4([4]byte{192, 0, 2, 128}),
		}
		if cfg.Version == 3 {
			cfg.AdvertInterval = time.Duration(int(data[2])%200+1) * V3IntervalUnit
		} else {
			cfg.AdvertInterval = time.Duration(int(data[2])%5+1) * time.Second
		}
		m, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", cfg, err)
		}
		data = data[3:]
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		now := t0
		vip := false
		for steps := 0; len(data) > 0 && steps < 10000; steps++ {
			op := next()
			// Time never goes backwards; step by 0..255 * 23 ms. A driver
			// ticks when a deadline passes: on time, or late when op has
			// its top bit set.
			later := now.Add(time.Duration(next()) * 23 * time.Millisecond)
			for i := 0; i < 10000; i++ { // at most 5.9 s / 10 ms ticks are due
				d := m.NextDeadline()
				if d.IsZero() || d.After(later) {
					break
				}
				at := d
				if op&0x80 != 0 {
					at = later
				}
				step(t, m, &vip, at, m.Tick)
			}
			now = later
			before := m.State()
			var acts []Action
			switch op % 6 {
			case 0:
				acts = m.Start(now)
			case 1:
				acts = m.Shutdown(now)
			case 2:
				acts = m.Tick(now)
			case 3:
				adv := Advert{
					Priority:          next(),
					Source:            netip.AddrFrom4([4]byte{192, 0, 2, next()}),
					MaxAdvertInterval: time.Duration(next()) * 20 * time.Millisecond,
				}
				acts = m.ReceiveAdvert(adv, now)
			case 4:
				acts = m.SetHealthy(op&8 != 0, now)
			case 5:
				// Jump exactly to the deadline, as a driver would.
				if d := m.NextDeadline(); !d.IsZero() {
					now = d
				}
				acts = m.Tick(now)
			}
			checkStep(t, m, &vip, before, now, acts)
		}
	})
}

// step calls in at now and checks the result.
func step(t testing.TB, m *Machine, vip *bool, now time.Time, in func(time.Time) []Action) {
	t.Helper()
	before := m.State()
	checkStep(t, m, vip, before, now, in(now))
}

// checkStep checks one call's actions and the machine after it, and tracks
// whether the driver holds the VIP, which must match state Master.
func checkStep(t testing.TB, m *Machine, vip *bool, before State, now time.Time, acts []Action) {
	t.Helper()
	checkActions(t, m.Config(), before, m.State(), acts)
	for _, a := range acts {
		switch a.Kind {
		case ActBecomeMaster:
			*vip = true
		case ActBecomeBackup:
			*vip = false
		}
	}
	if *vip != (m.State() == Master) {
		t.Errorf("VIP held=%v in state %v after %v", *vip, m.State(), acts)
	}
	checkMachine(t, m, now)
	if t.Failed() {
		t.FailNow()
	}
}
