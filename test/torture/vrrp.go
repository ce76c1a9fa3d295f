package torture

import "time"

// vrrpState is a router's VRRP state as keepalived reports it.
type vrrpState string

// The states the model produces (keepalived's names).
const (
	stInit   vrrpState = "INIT"
	stBackup vrrpState = "BACKUP"
	stMaster vrrpState = "MASTER"
	stFault  vrrpState = "FAULT"
	// stStop: keepalived is not running on the host (no checks, no adverts).
	stStop vrrpState = "STOP"
)

// vrrpTiming is keepalived's timing as the shipped configuration sets it.
type vrrpTiming struct {
	Advert time.Duration // advert_int
	Fall   int           // vrrp_script fall
	Rise   int           // vrrp_script rise
}

// masterDown is 3 x advert_int + skew; skew at priority 100 is (256-100)/256 x advert_int.
func (t vrrpTiming) masterDown() time.Duration { return 3*t.Advert + t.skew() }

func (t vrrpTiming) skew() time.Duration { return t.Advert * 156 / 256 }

// router is one keepalived VRRP instance (state BACKUP, nopreempt, priority
// 100 on both: the shipped configuration).
type router struct {
	state   vrrpState
	checkOK bool
	fails   int
	oks     int
	// downAt is when a BACKUP router declares the master down.
	downAt time.Time
}

// vrrpModel is two routers that see each other's adverts unless the link
// between them is cut, in one direction or both. Pure: time is passed in,
// changes are returned.
type vrrpModel struct {
	timing vrrpTiming
	r      [2]router
	// since is when each router entered MASTER (the VIP's ARP goes to the
	// newest master when both claim it).
	since [2]time.Time
}

// change is one router's state change; the hooks fire on it.
type change struct {
	Router int
	From   vrrpState
	To     vrrpState
}

func newVRRP(t vrrpTiming) *vrrpModel {
	m := &vrrpModel{timing: t}
	for i := range m.r {
		m.r[i] = router{state: stInit, checkOK: true}
	}
	return m
}

// checkResult feeds one finished check into the fall/rise counters.
func (m *vrrpModel) checkResult(i int, ok bool) {
	r := &m.r[i]
	if ok {
		r.oks, r.fails = r.oks+1, 0
		if !r.checkOK && r.oks >= m.timing.Rise {
			r.checkOK = true
		}
		return
	}
	r.fails, r.oks = r.fails+1, 0
	if r.checkOK && r.fails >= m.timing.Fall {
		r.checkOK = false
	}
}

// step advances the model to now. heard[i] says whether router i's adverts
// reach the other router. It returns the state changes, in order.
func (m *vrrpModel) step(now time.Time, heard [2]bool) []change {
	var out []change
	set := func(i int, to vrrpState) {
		if m.r[i].state == to {
			return
		}
		out = append(out, change{Router: i, From: m.r[i].state, To: to})
		if to == stMaster {
			m.since[i] = now
		}
		m.r[i].state = to
	}
	for i := range m.r {
		r := &m.r[i]
		switch {
		case r.state == stStop:
		case r.state == stInit:
			set(i, stBackup)
			r.downAt = now.Add(m.timing.masterDown())
		case !r.checkOK && r.state != stFault:
			wasMaster := r.state == stMaster
			set(i, stFault)
			// A master going to FAULT sends priority 0: the peer takes over after skew.
			if wasMaster && heard[i] {
				p := &m.r[1-i]
				if p.state == stBackup {
					if d := now.Add(m.timing.skew()); d.Before(p.downAt) {
						p.downAt = d
					}
				}
			}
		case r.checkOK && r.state == stFault:
			set(i, stBackup)
			r.downAt = now.Add(m.timing.masterDown())
		}
	}
	for i := range m.r {
		r, p := &m.r[i], &m.r[1-i]
		seesMaster := heard[1-i] && p.state == stMaster
		switch r.state {
		case stStop:
		case stBackup:
			if seesMaster {
				r.downAt = now.Add(m.timing.masterDown())
			} else if !now.Before(r.downAt) {
				set(i, stMaster)
			}
		case stMaster:
			// Two masters that hear each other: equal priority, the higher
			// primary address (host B, router 1) keeps MASTER.
			if seesMaster && i == 0 {
				set(i, stBackup)
				r.downAt = now.Add(m.timing.masterDown())
			}
		}
	}
	return out
}

// stop is keepalived stopping on router i: STOP, and a master's last
// advert at priority 0 lets the peer take over after skew when it is heard.
func (m *vrrpModel) stop(i int, now time.Time, heard [2]bool) []change {
	r := &m.r[i]
	if r.state == stStop {
		return nil
	}
	ch := []change{{Router: i, From: r.state, To: stStop}}
	if r.state == stMaster && heard[i] {
		if p := &m.r[1-i]; p.state == stBackup {
			if d := now.Add(m.timing.skew()); d.Before(p.downAt) {
				p.downAt = d
			}
		}
	}
	r.state = stStop
	return ch
}

// start is keepalived starting again: INIT with fresh check counters.
func (m *vrrpModel) start(i int) {
	m.r[i] = router{state: stInit, checkOK: true}
}

// holder is the router the VIP answers on: the only MASTER, or the newest
// one when both claim it (the last gratuitous ARP wins); -1 when none.
func (m *vrrpModel) holder() int {
	a, b := m.r[0].state == stMaster, m.r[1].state == stMaster
	switch {
	case a && b:
		if m.since[1].After(m.since[0]) {
			return 1
		}
		return 0
	case a:
		return 0
	case b:
		return 1
	}
	return -1
}

func (m *vrrpModel) states() [2]vrrpState { return [2]vrrpState{m.r[0].state, m.r[1].state} }
