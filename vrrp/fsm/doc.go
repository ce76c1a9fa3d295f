// Package fsm is the VRRP state machine of redis-vip's built-in mode: the
// rules of RFC 5798 section 6 (VRRPv3) and RFC 3768 section 6 (VRRPv2), as
// keepalived applies them, with no packets, sockets, clocks or goroutines.
//
// A Machine takes inputs (Start, ReceiveAdvert, Tick, Shutdown, SetHealthy),
// each with the current time, and returns the Actions the driver must carry
// out in order: send an advert, take or release the virtual addresses, and
// a StateChanged record for every transition. NextDeadline says when the
// driver must call Tick next. Tests therefore use a fake clock and no sleep.
//
// # States and transitions
//
// Init (RFC 5798 section 6.4.1, "Initialize") is where a machine is created
// and where Shutdown returns it. No timer runs. Start leaves Init:
//
//   - to Fault if the node was reported unhealthy;
//   - to Master if the node is the address owner (priority 255) and
//     Config.OwnerStartsMaster is set: it sends an advert, takes the
//     addresses and starts the Adver_Timer;
//   - otherwise to Backup, with Master_Adver_Interval set to the configured
//     interval and the Master_Down_Timer set to Master_Down_Interval.
//
// OwnerStartsMaster is false by default, unlike the RFC: redis-vip never
// holds a VIP it has not earned, so an owner starts as Backup and takes over
// when its Master_Down_Timer fires, which it does because the owner always
// preempts.
//
// Backup (section 6.4.2) holds no address and runs the Master_Down_Timer.
//
//   - Shutdown: cancel the timer, go to Init.
//   - Master_Down_Timer fires (Tick): send an advert, take the addresses,
//     start the Adver_Timer, go to Master.
//   - Advert with priority 0 (the Master is stopping): set the
//     Master_Down_Timer to Skew_Time, so the highest Backup takes over first.
//   - Advert with priority >= ours, or any advert when we do not preempt:
//     follow it; version 3 adopts its interval as Master_Adver_Interval; reset
//     the Master_Down_Timer to Master_Down_Interval.
//   - Advert with lower priority when we preempt: discard it, so the
//     Master_Down_Timer fires and we take over.
//
// Master (section 6.4.3) holds the addresses and runs the Adver_Timer.
//
//   - Shutdown: cancel the timer, release the addresses, send an advert with
//     priority 0, go to Init.
//   - Adver_Timer fires (Tick): send an advert, restart the timer.
//   - Advert with priority 0: send an advert at once, restart the timer,
//     and ask for the addresses to be announced again (Reclaim).
//   - Advert with higher priority, or equal priority from a higher primary
//     address (compared as unsigned integers of the address bytes): cancel
//     the timer, adopt the sender's interval (version 3), release the
//     addresses, send an advert with priority 0, start the
//     Master_Down_Timer, go to Backup.
//   - Advert with lower priority, or equal from a lower address: send an
//     advert at once, restart the timer, and Reclaim at most once per
//     Master_Down_Interval.
//
// Fault is not in the RFC; it is keepalived's FAULT state, entered when a
// tracked script fails. SetHealthy(false) moves Backup or Master to Fault;
// a Master releases its addresses and sends a priority-0 advert on the way,
// exactly as on Shutdown, so the peer takes over after its Skew_Time instead
// of a full Master_Down_Interval. In Fault no timer runs, no advert is sent
// and received adverts are ignored. SetHealthy(true) leaves Fault through
// Initialize, as Start does. Shutdown moves Fault to Init. Modelling ill
// health as a state rather than a lower priority (keepalived's weight)
// keeps one rule: an unhealthy node never holds the VIP, whatever its peer
// is doing.
//
// # Timers
//
// Skew_Time is ((256 - Priority) * Master_Adver_Interval) / 256 for version
// 3, and (256 - Priority) / 256 seconds for version 2 whatever the interval,
// as RFC 3768 defines it and keepalived computes it. Master_Down_Interval is
// 3 * Master_Adver_Interval + Skew_Time. Version 2 never learns an interval
// from adverts (RFC 3768 makes the packet layer drop adverts whose interval
// differs), so its Master_Adver_Interval is always the configured one.
//
// # Choices where the RFC is silent or keepalived differs
//
//   - The address owner always preempts, whatever Config.Preempt says (RFC
//     5798 section 6.1).
//   - Two Masters at once (a partition that heals) leave neighbours
//     sending to whichever announced the addresses last, which may be the
//     one that yields. So, as keepalived does with garp_lower_prio_repeat,
//     a Master answers a lower-priority advert with an immediate advert
//     and a Reclaim (announce the addresses again), where the RFC only
//     discards it. And a Master that yields to a better one sends priority
//     0, as every other exit from Master does, where the RFC sends nothing:
//     the better Master may never have heard the yielding one (its advert
//     may be the first to cross the healed link), and the priority 0 makes
//     it Reclaim. A priority 0 always reclaims; lower-priority adverts at
//     most once per Master_Down_Interval, since a router that cannot hear
//     us keeps advertising.
//   - Adverts from our own primary address are ignored.
//   - Every transition to a state other than Master comes with
//     ActBecomeBackup, so the driver removes the addresses if they are
//     present; that also clears a VIP left behind by a crashed process.
//   - Actions are ordered: StateChanged first, then, on becoming Master,
//     SendAdvert and BecomeMaster (RFC order: advert, then gratuitous ARP);
//     on leaving Master, BecomeBackup and then the priority-0 SendAdvert, so
//     the addresses are gone before a Backup can take them.
//   - Packet checks (TTL 255, VRID, authentication, checksum, address list)
//     belong to the packet layer; Advert carries only what decisions need.
package fsm
