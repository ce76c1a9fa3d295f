// Package router is redis-vip's built-in VRRP mode for one instance (one
// virtual router): it wires the pure state machine (vrrp/fsm) to the wire
// (vrrp/transport, vrrp/packet), the VIPs (vrrp/vip), the health verdict
// (check) and the safe Redis transitions (transition), so that `redis-vip
// run` does what keepalived plus the redis-vip hooks do, in one process.
//
// # One goroutine owns the machine
//
// Run's goroutine is the only one that touches the fsm.Machine. It waits for
// whichever comes first: a checked advert from the receive loop (own
// adverts dropped, rejected ones counted per packet.Reason), the machine's
// timer (fsm.NextDeadline), a health result from the check loop, an event
// of the liveness watcher, a finished transition, the one-second reconcile
// tick, or the end of ctx. It carries out the returned actions in order,
// except that an advert with priority 0 goes first:
//
//   - SendAdvert: marshal and send to the group or to every unicast peer.
//   - BecomeMaster: start the master transition (sync-then-promote or
//     promote, S2/S3) in the transition worker. The VIPs are added when it
//     has finished and the local Redis is master (see below).
//   - BecomeBackup: remove the VIPs at once, then start the backup, fault or
//     stop transition, as the new state says.
//
// Transitions run one at a time in a worker goroutine, never in the loop:
// sync-then-promote can take seconds and adverts must keep flowing, or the
// peer would take the VIP back. A newer event marks itself as the newest at
// once, so the transition still running stops at its next step (S4, the
// transition package's lock and sequence file), and events queued behind it
// collapse to the newest.
//
// # Order on becoming Master: promote first, then the VIP
//
// The VIP is added only after the master transition has finished and the
// local Redis reports role master; until then the machine is Master (it
// sends adverts, so the peer stays Backup) but nobody holds the VIP. The
// other order would let clients reach a replica through the VIP: every
// write would fail with READONLY for as long as sync-then-promote lasts (up
// to timeouts.sync), and when sync-then-promote times out (S2) the VIP
// would sit on a replica that must not be promoted. While the VIP is
// nowhere, clients get connection errors instead, which they retry; no
// acknowledged write can be lost, because the old master's writes are
// paused (FAILOVER or CLIENT PAUSE WRITE) until the replica has caught up.
// In the usual failover (the master's Redis died) the transition is a
// plain promote and takes milliseconds, so the VIP is hardly delayed.
//
// A master transition that ends with the local Redis not master (failed,
// timed out, superseded) takes no VIP; the health check then fails
// ("made master but its redis is a replica", or the S2 hold-off) and the
// node gives mastership up through Fault.
//
// On leaving Master for Fault (the local Redis failing its check, in
// maintenance, two masters meeting at equal priority, IPv6 VIPs) the VIPs
// go first, then Redis is demoted, so the VIP never points at a Redis
// that is becoming a replica. On leaving on purpose (preempted by a higher
// priority, or shut down: the machine's Shutdown event sends an advert
// with priority 0, so the peer takes over after its skew time) the node
// drains instead (drain.go): it keeps the VIPs, sending no gratuitous ARP,
// until the new master announces them, bounded, so that the clients of
// the old master get -READONLY and a clean disconnect from an address
// that still exists rather than silence until their timeouts; then the
// stop transition is recorded and Run returns nil.
//
// It drains on Fault too when the Fault comes from the local Redis being
// positively dead (the liveness watcher's held connection closed and a new
// one was refused; never on a failed check, a hang or a timeout): nothing
// listens on the port, so the kept address makes this host's kernel refuse
// every new connect through the VIP at once, and the client retries at
// once and reaches the new master right after its gratuitous ARP, instead
// of waiting out its timeout on an address nobody answers. Such a drain
// also ends the moment the local Redis accepts connections again (systemd
// restarted it, and guard may have started it as a master): the VIP never
// points at a Redis that answers next to the new master for longer than
// the watcher's poll (10 ms) plus one turn of the event loop. It ends too
// when the node leaves Fault or maintenance mode comes on (drainFor and
// drain.over decide, pure).
//
// # A node that cannot hold the VIP is not master
//
// A Master that cannot put the VIPs on the interface would keep its peer in
// Backup with its adverts while nobody serves the VIP. Adding them is
// retried by the reconcile, but a permission error (EPERM or EACCES: the
// process lacks CAP_NET_ADMIN) gives mastership up at once, and any other
// error once it has lasted Options.VIPAddBound: the node goes to Fault,
// sends priority 0 so the peer takes over after its skew time, and one log
// line says why. After a permission error it stays in Fault until
// restarted; after another error it may try again after
// Options.VIPFaultHold.
//
// # Announcements
//
// On taking the VIPs the Router sends garp_count rounds of gratuitous ARP
// / unsolicited NA; with garp_master_refresh set it sends
// garp_master_refresh_repeat rounds again every garp_master_refresh while
// it holds them (keepalived's vrrp_garp_master_refresh). When another
// router acted as Master too and yields, or advertises a lower priority
// (a healed partition), the Router sends garp_count rounds again
// (fsm.ActReclaim, keepalived's garp_lower_prio_repeat): the neighbours
// that followed the other router's announcements come back at once
// instead of when their ARP entries expire.
//
// # Maintenance mode
//
// The health verdict says whether maintenance mode is on (check.Result).
// While it is, the Transitions that package wiring gives it only record
// each transition (package maintenance), the check keeps the current
// holder eligible, and a Master whose Redis is not master does not run
// the master transition again.
// The VIPs still follow the VRRP state, so two nodes never hold them.
//
// # Health
//
// The check loop runs the health check every check_interval, each bounded
// by timeouts.check. The first result alone decides whether the machine
// starts healthy (Start then goes to Backup) or in Fault, so a node whose
// Redis is down at start never becomes Master. After that, fall failing
// results in a row make it unhealthy (fsm.SetHealthy(false): a Master
// sends priority 0 and releases the VIPs) and rise passing results in a
// row make it healthy again.
//
// The liveness watcher (package liveness) holds a connection to the local
// Redis. When the Redis process dies the kernel closes that connection,
// and a new one is refused: the event loop hears of it within a
// millisecond and makes the node unhealthy at once, without counting
// failing checks. A Master's first act is the priority-0 advert, so the
// peer takes over after its skew time (61 ms at priority 100 and 100 ms
// adverts), and a Master holding the VIPs keeps them until the new master
// announces them (the drain on a dead Redis, above). A closed connection that a new one replaces (CLIENT KILL, an
// idle timeout) is no event; a hung Redis closes nothing, and the periodic
// check remains the judge of it. After the event, rise passing checks make
// the node healthy again, and a passing check that began before the event
// does not count. In maintenance mode the event changes nothing.
//
// # Addresses
//
// A Router starts as Backup and first removes VIPs left on the interface
// by a process that died without cleaning up. Every second it reconciles
// the kernel's addresses with what it holds: added back if someone removed
// them while it is Master with a promoted Redis, removed if they appear
// while it is not.
//
// Options takes small interfaces (Wire, Addresses, Transitions, Health),
// so tests drive a Router with fakes and the fake clock of testing/synctest;
// wiring.OpenRouter builds one from a configured instance with the real
// parts.
package router
