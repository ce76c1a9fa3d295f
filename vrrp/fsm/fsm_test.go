package fsm

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	addrLocal  = netip.MustParseAddr("192.0.2.10")
	addrLower  = netip.MustParseAddr("192.0.2.5")
	addrHigher = netip.MustParseAddr("192.0.2.20")
)

// mdi100 and skew100 are the v3 timers for priority 100 and a 1 s interval.
const (
	skew100 = 609375 * time.Microsecond // 156/256 s
	mdi100  = 3*time.Second + skew100
)

func baseConfig() Config {
	return Config{
		VRID:           51,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		Version:        3,
		Primary:        addrLocal,
	}
}

type evKind int

const (
	evStart evKind = iota
	evTick
	evShutdown
	evAdvert
	evHealth
)

// ev is one input at an offset from t0.
type ev struct {
	at      time.Duration
	kind    evKind
	adv     Advert
	healthy bool
}

func start(at time.Duration) ev    { return ev{at: at, kind: evStart} }
func tick(at time.Duration) ev     { return ev{at: at, kind: evTick} }
func shutdown(at time.Duration) ev { return ev{at: at, kind: evShutdown} }
func health(at time.Duration, ok bool) ev {
	return ev{at: at, kind: evHealth, healthy: ok}
}
func advert(at time.Duration, prio uint8, src netip.Addr, interval time.Duration) ev {
	return ev{at: at, kind: evAdvert, adv: Advert{Priority: prio, Source: src, MaxAdvertInterval: interval}}
}

func (e ev) apply(m *Machine) []Action {
	now := t0.Add(e.at)
	switch e.kind {
	case evStart:
		return m.Start(now)
	case evTick:
		return m.Tick(now)
	case evShutdown:
		return m.Shutdown(now)
	case evAdvert:
		return m.ReceiveAdvert(e.adv, now)
	case evHealth:
		return m.SetHealthy(e.healthy, now)
	}
	panic("unknown event kind")
}

func chg(from, to State, r Reason) Action {
	return Action{Kind: ActStateChanged, From: from, To: to, Reason: r}
}

func send(p uint8) Action { return Action{Kind: ActSendAdvert, Priority: p} }

var (
	toMaster = Action{Kind: ActBecomeMaster}
	toBackup = Action{Kind: ActBecomeBackup}
	reclaim  = Action{Kind: ActReclaim}
)

// asMaster brings a non-owner v3 machine (priority 100, 1 s) to Master at
// mdi100; its Adver_Timer is then due at mdi100 + 1 s.
var asMaster = []ev{start(0), tick(mdi100)}

func TestTransitions(t *testing.T) {
	owner := baseConfig()
	owner.Priority = 255
	owner.OwnerStartsMaster = true
	ownerNoFlag := owner
	ownerNoFlag.OwnerStartsMaster = false
	ownerNoPreempt := ownerNoFlag
	ownerNoPreempt.Preempt = false
	noPreempt := baseConfig()
	noPreempt.Preempt = false
	v2 := baseConfig()
	v2.Version = 2
	mdiOwner := 3*time.Second + time.Second/256
	mdi100at2s := 6*time.Second + 2*skew100

	tests := []struct {
		name      string
		cfg       Config
		setup     []ev
		in        ev
		want      []Action
		wantState State
		// wantDeadline is NextDeadline as an offset from t0; -1 means zero.
		wantDeadline time.Duration
	}{
		// RFC 5798 6.4.1 Initialize.
		{
			name: "6.4.1 start non-owner goes Backup with down timer",
			cfg:  baseConfig(), in: start(0),
			want:      []Action{chg(Init, Backup, ReasonStart), toBackup},
			wantState: Backup, wantDeadline: mdi100,
		},
		{
			name: "6.4.1 start owner with OwnerStartsMaster goes Master",
			cfg:  owner, in: start(0),
			want:      []Action{chg(Init, Master, ReasonStart), send(255), toMaster},
			wantState: Master, wantDeadline: time.Second,
		},
		{
			name: "6.4.1 start owner without OwnerStartsMaster goes Backup",
			cfg:  ownerNoFlag, in: start(0),
			want:      []Action{chg(Init, Backup, ReasonStart), toBackup},
			wantState: Backup, wantDeadline: mdiOwner,
		},
		{
			name: "start while unhealthy goes Fault",
			cfg:  baseConfig(), setup: []ev{health(0, false)}, in: start(time.Second),
			want:      []Action{chg(Init, Fault, ReasonUnhealthy), toBackup},
			wantState: Fault, wantDeadline: -1,
		},
		{
			name: "start twice is a no-op",
			cfg:  baseConfig(), setup: []ev{start(0)}, in: start(time.Second),
			wantState: Backup, wantDeadline: mdi100,
		},
		{
			name: "Init ignores adverts", cfg: baseConfig(),
			in:        advert(0, 200, addrHigher, time.Second),
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "Init ignores ticks", cfg: baseConfig(), in: tick(time.Hour),
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "Init ignores shutdown", cfg: baseConfig(), in: shutdown(0),
			wantState: Init, wantDeadline: -1,
		},

		// RFC 5798 6.4.2 Backup.
		{
			name: "6.4.2 backup shutdown goes Init",
			cfg:  baseConfig(), setup: []ev{start(0)}, in: shutdown(time.Second),
			want:      []Action{chg(Backup, Init, ReasonShutdown), toBackup},
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "6.4.2 backup tick before down timer does nothing",
			cfg:  baseConfig(), setup: []ev{start(0)}, in: tick(mdi100 - time.Nanosecond),
			wantState: Backup, wantDeadline: mdi100,
		},
		{
			name: "6.4.2 backup down timer fires goes Master",
			cfg:  baseConfig(), setup: []ev{start(0), tick(time.Second)}, in: tick(mdi100),
			want:      []Action{chg(Backup, Master, ReasonMasterDown), send(100), toMaster},
			wantState: Master, wantDeadline: mdi100 + time.Second,
		},
		{
			name: "6.4.2 backup late tick still takes over, adver timer from now",
			cfg:  baseConfig(), setup: []ev{start(0)}, in: tick(10 * time.Second),
			want:      []Action{chg(Backup, Master, ReasonMasterDown), send(100), toMaster},
			wantState: Master, wantDeadline: 11 * time.Second,
		},
		{
			name: "6.4.2 backup advert priority 0 sets down timer to skew",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(2*time.Second, 0, addrHigher, time.Second),
			wantState: Backup, wantDeadline: 2*time.Second + skew100,
		},
		{
			name: "6.4.2 backup advert higher priority resets down timer",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(2*time.Second, 200, addrLower, time.Second),
			wantState: Backup, wantDeadline: 2*time.Second + mdi100,
		},
		{
			name: "6.4.2 backup advert equal priority from lower address accepted",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(2*time.Second, 100, addrLower, time.Second),
			wantState: Backup, wantDeadline: 2*time.Second + mdi100,
		},
		{
			name: "6.4.2 backup advert lower priority with preempt is discarded",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(2*time.Second, 50, addrHigher, time.Second),
			wantState: Backup, wantDeadline: mdi100,
		},
		{
			name: "6.4.2 backup advert lower priority without preempt accepted",
			cfg:  noPreempt, setup: []ev{start(0)},
			in:        advert(2*time.Second, 50, addrHigher, time.Second),
			wantState: Backup, wantDeadline: 2*time.Second + mdi100,
		},
		{
			name: "owner always preempts even with Preempt false",
			cfg:  ownerNoPreempt, setup: []ev{start(0)},
			in:        advert(2*time.Second, 254, addrHigher, time.Second),
			wantState: Backup, wantDeadline: mdiOwner,
		},
		{
			name: "v3 backup learns Master_Adver_Interval from advert",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(time.Second, 200, addrHigher, 2*time.Second),
			wantState: Backup, wantDeadline: time.Second + mdi100at2s,
		},
		{
			name: "v3 backup keeps interval when advert carries an invalid one",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(time.Second, 200, addrHigher, 0),
			wantState: Backup, wantDeadline: time.Second + mdi100,
		},
		{
			name: "v2 backup ignores the advert's interval",
			cfg:  v2, setup: []ev{start(0)},
			in:        advert(time.Second, 200, addrHigher, 2*time.Second),
			wantState: Backup, wantDeadline: time.Second + mdi100,
		},
		{
			name: "v2 priority 0 uses v2 skew",
			cfg:  v2, setup: []ev{start(0)},
			in:        advert(time.Second, 0, addrHigher, time.Second),
			wantState: Backup, wantDeadline: time.Second + skew100,
		},
		{
			name: "backup ignores advert from its own address",
			cfg:  baseConfig(), setup: []ev{start(0)},
			in:        advert(time.Second, 0, netip.MustParseAddr("::ffff:192.0.2.10"), time.Second),
			wantState: Backup, wantDeadline: mdi100,
		},
		{
			name: "priority 0 then master resumes restores down timer",
			cfg:  baseConfig(), setup: []ev{start(0), advert(time.Second, 0, addrHigher, time.Second)},
			in:        advert(time.Second+100*time.Millisecond, 200, addrHigher, time.Second),
			wantState: Backup, wantDeadline: time.Second + 100*time.Millisecond + mdi100,
		},

		// RFC 5798 6.4.3 Master.
		{
			name: "6.4.3 master shutdown sends priority 0 and goes Init",
			cfg:  baseConfig(), setup: asMaster, in: shutdown(mdi100 + 500*time.Millisecond),
			want:      []Action{chg(Master, Init, ReasonShutdown), toBackup, send(0)},
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "6.4.3 owner master shutdown sends priority 0",
			cfg:  owner, setup: []ev{start(0)}, in: shutdown(time.Second),
			want:      []Action{chg(Master, Init, ReasonShutdown), toBackup, send(0)},
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "6.4.3 master tick before adver timer does nothing",
			cfg:  baseConfig(), setup: asMaster, in: tick(mdi100 + 999*time.Millisecond),
			wantState: Master, wantDeadline: mdi100 + time.Second,
		},
		{
			name: "6.4.3 master adver timer fires sends advert and rearms",
			cfg:  baseConfig(), setup: asMaster, in: tick(mdi100 + time.Second),
			want:      []Action{send(100)},
			wantState: Master, wantDeadline: mdi100 + 2*time.Second,
		},
		{
			name: "6.4.3 master advert priority 0 sends advert at once and reclaims",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(mdi100+300*time.Millisecond, 0, addrHigher, time.Second),
			want:      []Action{send(100), reclaim},
			wantState: Master, wantDeadline: mdi100 + 1300*time.Millisecond,
		},
		{
			name: "6.4.3 master advert higher priority goes Backup",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(5*time.Second, 101, addrLower, time.Second),
			want:      []Action{chg(Master, Backup, ReasonHigherPriority), toBackup, send(0)},
			wantState: Backup, wantDeadline: 5*time.Second + mdi100,
		},
		{
			name: "6.4.3 master advert higher priority adopts its v3 interval",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(5*time.Second, 200, addrLower, 2*time.Second),
			want:      []Action{chg(Master, Backup, ReasonHigherPriority), toBackup, send(0)},
			wantState: Backup, wantDeadline: 5*time.Second + mdi100at2s,
		},
		{
			name: "6.4.3 master advert equal priority higher address goes Backup",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(5*time.Second, 100, addrHigher, time.Second),
			want:      []Action{chg(Master, Backup, ReasonHigherAddress), toBackup, send(0)},
			wantState: Backup, wantDeadline: 5*time.Second + mdi100,
		},
		{
			name: "6.4.3 master advert equal priority lower address: advert at once, reclaim",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(4*time.Second, 100, addrLower, time.Second),
			want:      []Action{send(100), reclaim},
			wantState: Master, wantDeadline: 5 * time.Second,
		},
		{
			name: "6.4.3 master advert lower priority: advert at once, reclaim",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(4*time.Second, 99, addrHigher, time.Second),
			want:      []Action{send(100), reclaim},
			wantState: Master, wantDeadline: 5 * time.Second,
		},
		{
			name: "master reclaims at most once per master down interval",
			cfg:  baseConfig(), setup: append(slices.Clone(asMaster), advert(4*time.Second, 99, addrHigher, time.Second)),
			in:        advert(4*time.Second+mdi100-time.Millisecond, 99, addrHigher, time.Second),
			want:      []Action{send(100)},
			wantState: Master, wantDeadline: 5*time.Second + mdi100 - time.Millisecond,
		},
		{
			name: "master reclaims on every priority 0",
			cfg:  baseConfig(), setup: append(slices.Clone(asMaster), advert(4*time.Second, 99, addrHigher, time.Second)),
			in:        advert(4*time.Second+time.Millisecond, 0, addrHigher, time.Second),
			want:      []Action{send(100), reclaim},
			wantState: Master, wantDeadline: 5*time.Second + time.Millisecond,
		},
		{
			name: "master reclaims again after a master down interval",
			cfg:  baseConfig(), setup: append(slices.Clone(asMaster), advert(4*time.Second, 99, addrHigher, time.Second)),
			in:        advert(4*time.Second+mdi100, 99, addrHigher, time.Second),
			want:      []Action{send(100), reclaim},
			wantState: Master, wantDeadline: 5*time.Second + mdi100,
		},
		{
			name: "master ignores advert from its own address",
			cfg:  baseConfig(), setup: asMaster,
			in:        advert(4*time.Second, 100, addrLocal, time.Second),
			wantState: Master, wantDeadline: mdi100 + time.Second,
		},
		{
			name: "IPv6 equal priority compares address bytes",
			cfg: func() Config {
				c := baseConfig()
				c.Primary = netip.MustParseAddr("fe80::1:0%eth0")
				return c
			}(),
			setup:     asMaster,
			in:        advert(4*time.Second, 100, netip.MustParseAddr("fe80::ff%eth0"), time.Second),
			want:      []Action{send(100), reclaim},
			wantState: Master, wantDeadline: 5 * time.Second,
		},
		{
			name: "IPv6 equal priority higher address wins",
			cfg: func() Config {
				c := baseConfig()
				c.Primary = netip.MustParseAddr("fe80::ff")
				return c
			}(),
			setup:     asMaster,
			in:        advert(4*time.Second, 100, netip.MustParseAddr("fe80::1:0%eth0"), time.Second),
			want:      []Action{chg(Master, Backup, ReasonHigherAddress), toBackup, send(0)},
			wantState: Backup, wantDeadline: 4*time.Second + mdi100,
		},

		// Health (keepalived FAULT).
		{
			name: "backup unhealthy goes Fault",
			cfg:  baseConfig(), setup: []ev{start(0)}, in: health(time.Second, false),
			want:      []Action{chg(Backup, Fault, ReasonUnhealthy), toBackup},
			wantState: Fault, wantDeadline: -1,
		},
		{
			name: "master unhealthy releases VIP, sends priority 0, goes Fault",
			cfg:  baseConfig(), setup: asMaster, in: health(5*time.Second, false),
			want:      []Action{chg(Master, Fault, ReasonUnhealthy), toBackup, send(0)},
			wantState: Fault, wantDeadline: -1,
		},
		{
			name: "fault healthy goes Backup with configured interval",
			cfg:  baseConfig(),
			setup: []ev{
				start(0), advert(time.Second, 200, addrHigher, 2*time.Second),
				health(2*time.Second, false),
			},
			in:        health(3*time.Second, true),
			want:      []Action{chg(Fault, Backup, ReasonHealthy), toBackup},
			wantState: Backup, wantDeadline: 3*time.Second + mdi100,
		},
		{
			name: "fault healthy owner with OwnerStartsMaster goes Master",
			cfg:  owner, setup: []ev{start(0), health(time.Second, false)},
			in:        health(2*time.Second, true),
			want:      []Action{chg(Fault, Master, ReasonHealthy), send(255), toMaster},
			wantState: Master, wantDeadline: 3 * time.Second,
		},
		{
			name: "fault ignores adverts",
			cfg:  baseConfig(), setup: []ev{start(0), health(time.Second, false)},
			in:        advert(2*time.Second, 0, addrHigher, time.Second),
			wantState: Fault, wantDeadline: -1,
		},
		{
			name: "fault ignores ticks",
			cfg:  baseConfig(), setup: []ev{start(0), health(time.Second, false)},
			in:        tick(time.Hour),
			wantState: Fault, wantDeadline: -1,
		},
		{
			name: "fault shutdown goes Init",
			cfg:  baseConfig(), setup: []ev{start(0), health(time.Second, false)},
			in:        shutdown(2 * time.Second),
			want:      []Action{chg(Fault, Init, ReasonShutdown), toBackup},
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "repeating health does nothing",
			cfg:  baseConfig(), setup: []ev{start(0)}, in: health(time.Second, true),
			wantState: Backup, wantDeadline: mdi100,
		},
		{
			name: "health in Init is only recorded",
			cfg:  baseConfig(), in: health(time.Second, false),
			wantState: Init, wantDeadline: -1,
		},
		{
			name: "restart after shutdown initializes again",
			cfg:  baseConfig(), setup: append(slices.Clone(asMaster), shutdown(5*time.Second)),
			in:        start(6 * time.Second),
			want:      []Action{chg(Init, Backup, ReasonStart), toBackup},
			wantState: Backup, wantDeadline: 6*time.Second + mdi100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for i, e := range tt.setup {
				e.apply(m)
				checkMachine(t, m, t0.Add(e.at))
				if t.Failed() {
					t.Fatalf("after setup step %d", i)
				}
			}
			before := m.State()
			got := tt.in.apply(m)
			if !slices.Equal(got, tt.want) {
				t.Errorf("actions = %v, want %v", got, tt.want)
			}
			if m.State() != tt.wantState {
				t.Errorf("state = %v, want %v", m.State(), tt.wantState)
			}
			want := time.Time{}
			if tt.wantDeadline >= 0 {
				want = t0.Add(tt.wantDeadline)
			}
			if !m.NextDeadline().Equal(want) {
				t.Errorf("NextDeadline = %v, want %v", offset(m.NextDeadline()), offset(want))
			}
			checkActions(t, m.Config(), before, m.State(), got)
			checkMachine(t, m, t0.Add(tt.in.at))
		})
	}
}

func offset(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return "t0+" + t.Sub(t0).String()
}

func TestTimers(t *testing.T) {
	ms := time.Millisecond
	us := time.Microsecond
	tests := []struct {
		version  int
		priority uint8
		interval time.Duration
		skew     time.Duration
		mdi      time.Duration
	}{
		// v3: ((256-p) * interval) / 256.
		{3, 100, time.Second, 609375 * us, 3609375 * us},
		{3, 255, time.Second, 3906250, 3003906250},
		{3, 254, time.Second, 7812500, 3007812500},
		{3, 200, time.Second, 218750 * us, 3218750 * us},
		{3, 1, time.Second, 996093750, 3996093750},
		{3, 100, 10 * ms, 6093750, 36093750},
		{3, 100, 100 * ms, 60937500, 360937500},
		{3, 200, 2 * time.Second, 437500 * us, 6437500 * us},
		{3, 254, V3MaxInterval, 319921875, 123169921875},
		// v2: (256-p)/256 seconds, whatever the interval.
		{2, 100, time.Second, 609375 * us, 3609375 * us},
		{2, 100, 3 * time.Second, 609375 * us, 9609375 * us},
		{2, 255, time.Second, 3906250, 3003906250},
		{2, 1, 5 * time.Second, 996093750, 15996093750},
		{2, 200, 10 * time.Second, 218750 * us, 30218750 * us},
	}
	for _, tt := range tests {
		if got := SkewTime(tt.version, tt.priority, tt.interval); got != tt.skew {
			t.Errorf("SkewTime(v%d, %d, %v) = %v, want %v", tt.version, tt.priority, tt.interval, got, tt.skew)
		}
		if got := MasterDownInterval(tt.version, tt.priority, tt.interval); got != tt.mdi {
			t.Errorf("MasterDownInterval(v%d, %d, %v) = %v, want %v", tt.version, tt.priority, tt.interval, got, tt.mdi)
		}
		cfg := baseConfig()
		cfg.Version, cfg.Priority, cfg.AdvertInterval = tt.version, tt.priority, tt.interval
		m, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%+v): %v", cfg, err)
		}
		if m.SkewTime() != tt.skew || m.MasterDownInterval() != tt.mdi {
			t.Errorf("machine v%d p%d %v: skew %v mdi %v, want %v %v",
				tt.version, tt.priority, tt.interval, m.SkewTime(), m.MasterDownInterval(), tt.skew, tt.mdi)
		}
		acts := m.Start(t0)
		if len(acts) == 0 || m.NextDeadline() != t0.Add(tt.mdi) {
			t.Errorf("v%d p%d %v: down timer at %v, want t0+%v", tt.version, tt.priority, tt.interval, offset(m.NextDeadline()), tt.mdi)
		}
	}
}

// TestSkewOrdersBackups checks the purpose of Skew_Time: a higher priority
// always times out first, for every interval.
func TestSkewOrdersBackups(t *testing.T) {
	for _, v := range []int{2, 3} {
		for _, iv := range []time.Duration{10 * time.Millisecond, time.Second, 3 * time.Second} {
			for p := 1; p < 255; p++ {
				lo := MasterDownInterval(v, uint8(p), iv)
				hi := MasterDownInterval(v, uint8(p+1), iv)
				if hi >= lo {
					t.Fatalf("v%d %v: MDI(p%d)=%v not below MDI(p%d)=%v", v, iv, p+1, hi, p, lo)
				}
			}
		}
	}
}

func TestValidate(t *testing.T) {
	mod := func(f func(*Config)) Config {
		c := baseConfig()
		f(&c)
		return c
	}
	good := []Config{
		baseConfig(),
		mod(func(c *Config) { c.Priority = 255 }),
		mod(func(c *Config) { c.Priority = 1 }),
		mod(func(c *Config) { c.AdvertInterval = 10 * time.Millisecond }),
		mod(func(c *Config) { c.AdvertInterval = V3MaxInterval }),
		mod(func(c *Config) { c.Version = 2; c.AdvertInterval = 255 * time.Second }),
		mod(func(c *Config) { c.Primary = netip.MustParseAddr("2001:db8::1") }),
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
	bad := map[string]Config{
		"vrid 0":               mod(func(c *Config) { c.VRID = 0 }),
		"priority 0":           mod(func(c *Config) { c.Priority = 0 }),
		"no primary":           mod(func(c *Config) { c.Primary = netip.Addr{} }),
		"version 1":            mod(func(c *Config) { c.Version = 1 }),
		"version 0":            mod(func(c *Config) { c.Version = 0 }),
		"v3 interval 0":        mod(func(c *Config) { c.AdvertInterval = 0 }),
		"v3 interval 5ms":      mod(func(c *Config) { c.AdvertInterval = 5 * time.Millisecond }),
		"v3 interval 15ms":     mod(func(c *Config) { c.AdvertInterval = 15 * time.Millisecond }),
		"v3 interval 41s":      mod(func(c *Config) { c.AdvertInterval = 41 * time.Second }),
		"v3 interval negative": mod(func(c *Config) { c.AdvertInterval = -time.Second }),
		"v2 interval 500ms":    mod(func(c *Config) { c.Version = 2; c.AdvertInterval = 500 * time.Millisecond }),
		"v2 interval 1.5s":     mod(func(c *Config) { c.Version = 2; c.AdvertInterval = 1500 * time.Millisecond }),
		"v2 interval 256s":     mod(func(c *Config) { c.Version = 2; c.AdvertInterval = 256 * time.Second }),
	}
	for name, c := range bad {
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New error = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestAccepts(t *testing.T) {
	c := baseConfig()
	if c.Accepts() {
		t.Error("non-owner without AcceptMode accepts")
	}
	c.AcceptMode = true
	if !c.Accepts() {
		t.Error("AcceptMode does not accept")
	}
	c.AcceptMode, c.Priority = false, 255
	if !c.Accepts() || !c.IsOwner() {
		t.Error("owner does not accept")
	}
}

// TestNoPreempt: a higher-priority node that (re)starts while a lower one is
// Master stays Backup without preempt, and takes over with preempt.
func TestNoPreempt(t *testing.T) {
	for _, preempt := range []bool{false, true} {
		cfg := baseConfig()
		cfg.Priority = 200
		cfg.Preempt = preempt
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Start(t0)
		// The lower Master advertises every second for a minute.
		for s := time.Duration(1); s <= 60; s++ {
			now := t0.Add(s * time.Second)
			if acts := m.Tick(now); len(acts) > 0 {
				if !preempt {
					t.Fatalf("nopreempt: took over at %v: %v", offset(now), acts)
				}
				break
			}
			m.ReceiveAdvert(Advert{Priority: 100, Source: addrHigher, MaxAdvertInterval: time.Second}, now)
		}
		want := Backup
		if preempt {
			want = Master
		}
		if m.State() != want {
			t.Errorf("preempt=%v: state %v, want %v", preempt, m.State(), want)
		}
	}
}

// TestHealthDownUp walks a Master through a failing and recovering health
// check: it releases the VIP at once, rejoins as Backup, and takes the VIP
// back only after a full Master_Down_Interval with no better Master.
func TestHealthDownUp(t *testing.T) {
	m, err := New(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		in    ev
		want  []Action
		state State
	}{
		{start(0), []Action{chg(Init, Backup, ReasonStart), toBackup}, Backup},
		{tick(mdi100), []Action{chg(Backup, Master, ReasonMasterDown), send(100), toMaster}, Master},
		{health(4*time.Second, false), []Action{chg(Master, Fault, ReasonUnhealthy), toBackup, send(0)}, Fault},
		{tick(10 * time.Second), nil, Fault},
		{advert(11*time.Second, 50, addrLower, time.Second), nil, Fault},
		{health(12*time.Second, false), nil, Fault},
		{health(13*time.Second, true), []Action{chg(Fault, Backup, ReasonHealthy), toBackup}, Backup},
		{tick(13*time.Second + mdi100 - 1), nil, Backup},
		{tick(13*time.Second + mdi100), []Action{chg(Backup, Master, ReasonMasterDown), send(100), toMaster}, Master},
		{health(20*time.Second, false), []Action{chg(Master, Fault, ReasonUnhealthy), toBackup, send(0)}, Fault},
		{shutdown(21 * time.Second), []Action{chg(Fault, Init, ReasonShutdown), toBackup}, Init},
		{health(22*time.Second, true), nil, Init},
		{start(23 * time.Second), []Action{chg(Init, Backup, ReasonStart), toBackup}, Backup},
	}
	for i, s := range steps {
		got := s.in.apply(m)
		if !slices.Equal(got, s.want) || m.State() != s.state {
			t.Fatalf("step %d: actions %v state %v, want %v state %v", i, got, m.State(), s.want, s.state)
		}
		checkMachine(t, m, t0.Add(s.in.at))
	}
}

func TestStrings(t *testing.T) {
	for _, s := range []State{Init, Backup, Master, Fault, State(9)} {
		if s.String() == "" {
			t.Errorf("empty name for state %d", s)
		}
	}
	for r := ReasonNone; r <= ReasonHealthy+1; r++ {
		if r.String() == "" {
			t.Errorf("empty name for reason %d", r)
		}
	}
	for k := ActionKind(0); k <= ActBecomeBackup+1; k++ {
		if (Action{Kind: k}).String() == "" {
			t.Errorf("empty name for action kind %d", k)
		}
	}
	if got := chg(Backup, Master, ReasonMasterDown).String(); got != "StateChanged(BACKUP->MASTER: master down timer expired)" {
		t.Errorf("StateChanged string = %q", got)
	}
	if got := send(0).String(); got != "SendAdvert(0)" {
		t.Errorf("SendAdvert string = %q", got)
	}
}

// TestLearnInterval: a v3 Backup adopts the Master's interval and forgets it
// on Initialize; v2 never adopts it.
func TestLearnInterval(t *testing.T) {
	for _, version := range []int{2, 3} {
		cfg := baseConfig()
		cfg.Version = version
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m.Start(t0)
		m.ReceiveAdvert(Advert{Priority: 200, Source: addrHigher, MaxAdvertInterval: 3 * time.Second}, t0.Add(time.Second))
		want := time.Second
		if version == 3 {
			want = 3 * time.Second
		}
		if got := m.MasterAdverInterval(); got != want {
			t.Errorf("v%d: learnt %v, want %v", version, got, want)
		}
		m.SetHealthy(false, t0.Add(2*time.Second))
		if m.Healthy() || m.State() != Fault {
			t.Errorf("v%d: healthy=%v state %v after SetHealthy(false)", version, m.Healthy(), m.State())
		}
		m.SetHealthy(true, t0.Add(3*time.Second))
		if got := m.MasterAdverInterval(); !m.Healthy() || got != time.Second {
			t.Errorf("v%d: after recovery healthy=%v interval %v, want configured 1s", version, m.Healthy(), got)
		}
	}
}
