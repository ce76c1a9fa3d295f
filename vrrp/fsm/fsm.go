package fsm

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the state of a virtual router instance.
type State uint8

// The states. Init, Backup and Master are those of RFC 5798 section 6.4;
// Fault is keepalived's FAULT: the node is started but unhealthy.
const (
	// Init is "Initialize": not started, or shut down. No timer runs.
	Init State = iota
	// Backup monitors the Master and runs the Master_Down_Timer.
	Backup
	// Master holds the virtual addresses and runs the Adver_Timer.
	Master
	// Fault is a started node whose health check fails: it holds no
	// virtual address, sends no advert, ignores adverts and runs no timer.
	Fault
)

// String returns the state's name in capitals, as keepalived prints it.
func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Advert is what the state machine needs from a received advertisement. The
// packet layer decodes and validates the packet (version, VRID, checksum,
// addresses, TTL) before handing it over; this package never sees bytes.
type Advert struct {
	// Priority is the sender's priority; 0 means the Master is stopping.
	Priority uint8
	// MaxAdvertInterval is the sender's advertisement interval. A version 3
	// Backup adopts it as Master_Adver_Interval; version 2 ignores it (RFC
	// 3768 requires the packet layer to drop adverts whose interval differs
	// from the local one). Values outside 10ms..40.95s are ignored.
	MaxAdvertInterval time.Duration
	// Source is the sender's primary address, used to break priority ties.
	// An advert from our own Primary is ignored.
	Source netip.Addr
}

// ActionKind says what an Action asks the driver to do.
type ActionKind uint8

// The action kinds.
const (
	// ActStateChanged reports a transition: From, To and Reason are set. It
	// comes first in the list of the call that made the transition.
	ActStateChanged ActionKind = iota + 1
	// ActSendAdvert asks the driver to send one advertisement now with
	// Priority (the local priority, or 0 when a Master stops).
	ActSendAdvert
	// ActBecomeMaster asks the driver to add the virtual addresses and send
	// gratuitous ARP / unsolicited neighbour advertisements for them.
	ActBecomeMaster
	// ActBecomeBackup asks the driver to make sure it holds no virtual
	// address: remove them if present (idempotently) and stop answering for
	// them. It accompanies every transition to a state other than Master
	// (Backup, Fault and Init), so a restarted process also clears a VIP
	// left behind by a crash.
	ActBecomeBackup
	// ActReclaim asks a Master to announce its virtual addresses again
	// (gratuitous ARP / unsolicited NA) if it holds them: another router
	// acted as Master too (it advertised a lower priority, or yielded to
	// us with priority 0), so neighbours may still send to it. This is
	// keepalived's garp_lower_prio_repeat. It comes for every priority-0
	// advert and at most once per Master_Down_Interval for lower-priority
	// ones.
	ActReclaim
)

// String returns the kind's name.
func (k ActionKind) String() string {
	switch k {
	case ActStateChanged:
		return "StateChanged"
	case ActSendAdvert:
		return "SendAdvert"
	case ActBecomeMaster:
		return "BecomeMaster"
	case ActBecomeBackup:
		return "BecomeBackup"
	case ActReclaim:
		return "Reclaim"
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// Reason says why a transition happened.
type Reason uint8

// The reasons.
const (
	// ReasonNone is the zero Reason, used by actions that are not transitions.
	ReasonNone Reason = iota
	// ReasonStart: Start was called (RFC 5798 section 6.4.1).
	ReasonStart
	// ReasonMasterDown: the Master_Down_Timer fired.
	ReasonMasterDown
	// ReasonHigherPriority: a Master heard an advert with a higher priority.
	ReasonHigherPriority
	// ReasonHigherAddress: a Master heard an advert with its own priority
	// from a higher primary address.
	ReasonHigherAddress
	// ReasonShutdown: Shutdown was called.
	ReasonShutdown
	// ReasonUnhealthy: the health check failed (SetHealthy(false)), or Start
	// was called while unhealthy.
	ReasonUnhealthy
	// ReasonHealthy: the health check recovered (SetHealthy(true)).
	ReasonHealthy
)

// String returns a short description of the reason.
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonStart:
		return "start"
	case ReasonMasterDown:
		return "master down timer expired"
	case ReasonHigherPriority:
		return "advert with higher priority"
	case ReasonHigherAddress:
		return "advert with equal priority from higher address"
	case ReasonShutdown:
		return "shutdown"
	case ReasonUnhealthy:
		return "health check failing"
	case ReasonHealthy:
		return "health check recovered"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Action is one thing the driver must do, in the order returned.
type Action struct {
	// Kind says what to do.
	Kind ActionKind
	// Priority is the priority to advertise, for ActSendAdvert.
	Priority uint8
	// From is the previous state, for ActStateChanged.
	From State
	// To is the new state, for ActStateChanged.
	To State
	// Reason is why, for ActStateChanged.
	Reason Reason
}

// String renders the action for logs and test failures.
func (a Action) String() string {
	switch a.Kind {
	case ActStateChanged:
		return fmt.Sprintf("StateChanged(%v->%v: %v)", a.From, a.To, a.Reason)
	case ActSendAdvert:
		return fmt.Sprintf("SendAdvert(%d)", a.Priority)
	}
	return a.Kind.String()
}

// Machine is the state machine of one virtual router instance. It does no
// I/O and reads no clock: every input carries the current time and every
// output is a list of Actions. It is not safe for concurrent use; the driver
// serialises calls.
type Machine struct {
	cfg     Config
	primary netip.Addr // cfg.Primary, unmapped and without zone, for comparisons
	state   State
	healthy bool
	// masterAdverInterval is Master_Adver_Interval: the interval at which
	// the Master we follow advertises.
	masterAdverInterval time.Duration
	// adverAt is the Adver_Timer deadline; set only in Master.
	adverAt time.Time
	// downAt is the Master_Down_Timer deadline; set only in Backup.
	downAt time.Time
	// reclaimAt is when a Master may ask for its addresses to be announced
	// again (ActReclaim) at the earliest.
	reclaimAt time.Time
}

// New returns a machine in state Init, healthy, for a valid cfg.
func New(cfg Config) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new vrrp state machine for vrid %d: %w", cfg.VRID, err)
	}
	return &Machine{
		cfg:                 cfg,
		primary:             normalize(cfg.Primary),
		state:               Init,
		healthy:             true,
		masterAdverInterval: cfg.AdvertInterval,
	}, nil
}

// Config returns the machine's configuration.
func (m *Machine) Config() Config { return m.cfg }

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Healthy returns the last health reported with SetHealthy (true initially).
func (m *Machine) Healthy() bool { return m.healthy }

// MasterAdverInterval returns Master_Adver_Interval: the configured interval,
// or for version 3 the one learnt from the Master's adverts.
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterAdverInterval }

// SkewTime returns the current Skew_Time.
func (m *Machine) SkewTime() time.Duration {
	return SkewTime(m.cfg.Version, m.cfg.Priority, m.masterAdverInterval)
}

// MasterDownInterval returns the current Master_Down_Interval.
func (m *Machine) MasterDownInterval() time.Duration {
	return MasterDownInterval(m.cfg.Version, m.cfg.Priority, m.masterAdverInterval)
}

// NextDeadline returns when the driver must call Tick next: the Adver_Timer
// in Master, the Master_Down_Timer in Backup, and the zero Time in Init and
// Fault, where no timer runs. Any other input may move it, so the driver
// reads it again after every call.
func (m *Machine) NextDeadline() time.Time {
	switch m.state {
	case Master:
		return m.adverAt
	case Backup:
		return m.downAt
	}
	return time.Time{}
}

// Start is the Startup event (RFC 5798 section 6.4.1). From Init it moves
// to Master if the node is the owner and OwnerStartsMaster is set, to Fault
// if it is unhealthy, and to Backup otherwise. In any other state it does
// nothing.
func (m *Machine) Start(now time.Time) []Action {
	if m.state != Init {
		return nil
	}
	return m.initialize(now, ReasonStart)
}

// Shutdown is the Shutdown event (RFC 5798 sections 6.4.2 and 6.4.3): the
// node goes to Init and cancels its timer; a Master also sends an advert
// with priority 0 so that a Backup takes over after Skew_Time. In Init it
// does nothing.
func (m *Machine) Shutdown(now time.Time) []Action {
	if m.state == Init {
		return nil
	}
	return m.leave(Init, ReasonShutdown)
}

// Tick checks the running timer against now. In Master an expired
// Adver_Timer sends an advert and restarts; in Backup an expired
// Master_Down_Timer makes the node Master. Early or extra calls are harmless.
func (m *Machine) Tick(now time.Time) []Action {
	switch m.state {
	case Master:
		if now.Before(m.adverAt) {
			return nil
		}
		m.adverAt = now.Add(m.cfg.AdvertInterval)
		return []Action{sendAdvert(m.cfg.Priority)}
	case Backup:
		if now.Before(m.downAt) {
			return nil
		}
		return m.becomeMaster(now, ReasonMasterDown)
	}
	return nil
}

// ReceiveAdvert handles an advert received at now (RFC 5798 sections 6.4.2
// and 6.4.3). Init and Fault ignore adverts, as does every state for an
// advert from our own Primary.
func (m *Machine) ReceiveAdvert(adv Advert, now time.Time) []Action {
	src := normalize(adv.Source)
	if src == m.primary {
		return nil
	}
	switch m.state {
	case Backup:
		if adv.Priority == 0 {
			// The Master is stopping: take over after Skew_Time, so that
			// the highest-priority Backup goes first.
			m.downAt = now.Add(m.SkewTime())
			return nil
		}
		if !m.cfg.preempts() || adv.Priority >= m.cfg.Priority {
			m.learnInterval(adv)
			m.downAt = now.Add(m.MasterDownInterval())
			return nil
		}
		// Lower priority and we preempt: discard, and let the
		// Master_Down_Timer fire.
		return nil
	case Master:
		var reason Reason
		switch {
		case adv.Priority == 0:
			// Another Master is stopping, or yielding to us after both
			// acted as Master (a healed partition): advertise at once so
			// that its Backups keep following us, and announce the
			// addresses again for the neighbours that followed it. Every
			// such advert ends one mastership of the other router, so it
			// is never rate-limited.
			m.reclaimAt = time.Time{}
			return m.reassert(now)
		case adv.Priority > m.cfg.Priority:
			reason = ReasonHigherPriority
		case adv.Priority == m.cfg.Priority && addrGreater(src, m.primary):
			reason = ReasonHigherAddress
		default:
			// A lower priority, or equal from a lower address, also acts
			// as Master: RFC 5798 discards the advert, which leaves the
			// neighbours that followed the other Master sending to it
			// until it hears us. Advertise at once so that it yields
			// sooner, and announce the addresses again.
			return m.reassert(now)
		}
		m.learnInterval(adv)
		return m.becomeBackup(now, reason)
	}
	return nil
}

// reassert is a Master's answer to another router acting as Master with
// less right to: an advert now, and ActReclaim at most once per
// Master_Down_Interval for lower-priority adverts (the other router may
// keep advertising if it cannot hear us, and neighbours should not be
// pulled back at every advert).
func (m *Machine) reassert(now time.Time) []Action {
	m.adverAt = now.Add(m.cfg.AdvertInterval)
	acts := []Action{sendAdvert(m.cfg.Priority)}
	if !now.Before(m.reclaimAt) {
		m.reclaimAt = now.Add(m.MasterDownInterval())
		acts = append(acts, Action{Kind: ActReclaim})
	}
	return acts
}

// SetHealthy reports the result of the health check (keepalived's tracked
// script). Going unhealthy moves Backup or Master to Fault; a Master sends a
// priority-0 advert on the way so a Backup takes over after Skew_Time.
// Becoming healthy again moves Fault through Initialize, exactly as Start
// would. In Init it only records the health, which Start then honours.
// Repeating the current health does nothing.
func (m *Machine) SetHealthy(healthy bool, now time.Time) []Action {
	if healthy == m.healthy {
		return nil
	}
	m.healthy = healthy
	switch m.state {
	case Backup, Master:
		if !healthy {
			return m.leave(Fault, ReasonUnhealthy)
		}
	case Fault:
		if healthy {
			return m.initialize(now, ReasonHealthy)
		}
	}
	return nil
}

// initialize is RFC 5798 section 6.4.1, extended with Fault.
func (m *Machine) initialize(now time.Time, reason Reason) []Action {
	m.masterAdverInterval = m.cfg.AdvertInterval
	switch {
	case !m.healthy:
		return m.leave(Fault, ReasonUnhealthy)
	case m.cfg.IsOwner() && m.cfg.OwnerStartsMaster:
		return m.becomeMaster(now, reason)
	default:
		return m.becomeBackup(now, reason)
	}
}

// becomeMaster sends an advert, takes the addresses and starts the
// Adver_Timer.
func (m *Machine) becomeMaster(now time.Time, reason Reason) []Action {
	from := m.state
	m.state = Master
	m.downAt = time.Time{}
	m.adverAt = now.Add(m.cfg.AdvertInterval)
	return []Action{
		changed(from, Master, reason),
		sendAdvert(m.cfg.Priority),
		{Kind: ActBecomeMaster},
	}
}

// becomeBackup releases the addresses and starts the Master_Down_Timer from
// the current Master_Adver_Interval. A Master that yields to a better one
// also sends priority 0, as every exit from Master does: the better Master
// may never have heard this one (the first advert after a healed partition
// may be its), and the priority 0 tells it to announce the addresses again
// (ActReclaim) for the neighbours that followed this one.
func (m *Machine) becomeBackup(now time.Time, reason Reason) []Action {
	from := m.state
	m.state = Backup
	m.adverAt = time.Time{}
	m.downAt = now.Add(m.MasterDownInterval())
	acts := []Action{
		changed(from, Backup, reason),
		{Kind: ActBecomeBackup},
	}
	if from == Master {
		acts = append(acts, sendAdvert(0))
	}
	return acts
}

// leave moves to Init or Fault: no timer, no address, and a priority-0
// advert if we were Master.
func (m *Machine) leave(to State, reason Reason) []Action {
	from := m.state
	m.state = to
	m.adverAt = time.Time{}
	m.downAt = time.Time{}
	acts := []Action{
		changed(from, to, reason),
		{Kind: ActBecomeBackup},
	}
	if from == Master {
		acts = append(acts, sendAdvert(0))
	}
	return acts
}

// learnInterval adopts a version 3 Master's advertisement interval.
func (m *Machine) learnInterval(adv Advert) {
	if m.cfg.Version != 3 {
		return
	}
	if adv.MaxAdvertInterval < V3IntervalUnit || adv.MaxAdvertInterval > V3MaxInterval {
		return
	}
	m.masterAdverInterval = adv.MaxAdvertInterval
}

func changed(from, to State, reason Reason) Action {
	return Action{Kind: ActStateChanged, From: from, To: to, Reason: reason}
}

func sendAdvert(priority uint8) Action {
	return Action{Kind: ActSendAdvert, Priority: priority}
}

// normalize strips the zone and IPv4-mapping so that addresses compare as
// the bytes that travel in the packet.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// addrGreater reports whether a is greater than b as an unsigned integer of
// its bytes (RFC 5798 section 6.4.3). Both are normalized. Mixing IPv4 and
// IPv6 in one virtual router is a misconfiguration; the order stays total:
// an IPv6 address counts as greater than any IPv4 one, and an invalid
// (zero) address as smaller than all.
func addrGreater(a, b netip.Addr) bool {
	return a.Compare(b) > 0
}
