// Package torture is the randomized fault-injection suite (`make torture`).
//
// It drives the real redis-vip binary against real redis-server pairs on
// loopback: two hosts A and B, each with one Redis, a redis-vip config, a
// state dir and a backup dir. Each host reaches the other's Redis through an
// in-process TCP proxy, so a schedule can cut the link between the hosts
// while writers still reach both servers. A model of keepalived (VRRP with
// two routers and one VIP, fall/rise checks, nopreempt, FAULT on a failing
// check) runs `redis-vip check` and fires the notify hooks as keepalived
// does: as separate processes, without waiting, with injected delays,
// duplicates, reorders, losses and kills; or, in FIFO mode, through a notify
// FIFO read by a long-running `redis-vip notify-fifo`. In hooks mode each
// host also runs `redis-vip reconcile --loop`, as the shipped
// redis-vip-reconcile.service does beside the per-event hooks (S12). The
// VIP is a proxy that forwards to the VRRP master's Redis; as root, each
// host also gets an address of its own on lo while the model has it MASTER
// (hostvip.go), which its config names in vips, so check's rule for a
// replica holding the VIP (a lost notify_master) is exercised.
//
// Each schedule is drawn from a seed: persistence (none, RDB, AOF), one or
// two instances in one config file, hook faults, and a list of faults from
// the catalogue (schedule.go): kill -9 and restart keeping files, with
// files lost or from an older snapshot; clean restart; SIGSTOP stalls;
// replication cuts; partitions (both routers MASTER); a password on one
// server only; -BUSY scripts; maxclients storms; maxmemory eviction under
// TTL load; a writable replica; keepalived restarts (notify-stop); and, per
// hook, delays, duplicates, losses and SIGKILL mid-step. guard runs before
// every restart of a Redis, its include on the command line. A replay draws the same schedule; goroutine
// and process timing still differ from run to run.
//
// Partition safety (issue 10, catalogue v2; regressions found before it
// replay catalogue v1). Each schedule also draws its fencing, a third each:
// off, fence_after 3s, or fence_after 3s with a witness (the real
// `redis-vip witness`, --max-lease 5s, which is also its restart grace;
// each host reaches it through a proxy of its own), and partition faults:
// the link between the hosts blackholed both ways or one way (split), one
// host isolated from everything (its peer, the VIP's clients, the witness;
// the writer on that host still reaches its Redis), and, with a witness,
// the witness cut off from one host or both, or SIGKILLed and restarted,
// alone or for the whole length of a partition. The proxies (proxy.go)
// give a node the two kinds of evidence about its peer: a Redis that is
// down refuses (its proxy stops listening: ECONNREFUSED, a dead peer); a
// blackhole is silence (no reset, nothing refused, bytes dropped, new
// connections held: an unknown peer). Three writers run: one through the
// VIP and one on each host writing to that host's Redis directly (the
// split-brain source). After the last fault is healed (every server up,
// guard first, the witness up), the writers run 2 s more, then the
// suite waits for convergence and checks the invariants (converge.go for
// I2, check_i1.go, check_i3.go, check_i4.go):
//
//   - I1: every acknowledged write is on the final master, unless it is in
//     W1 (acknowledged by a node at most 1 s, plus its replica's reported
//     lag, before that node was killed, stalled or cut off; or acknowledged
//     by a master that, with no replica in sync, was then killed and
//     restarted with its files lost or rolled back: it died with its disk
//     before any replica or any step of redis-vip had it) or in W3
//     (acknowledged while the link was cut, or at most 1 s after, or while
//     the peer was also a master having been promoted when this node was
//     unreachable: down, stalled or cut off) and then it must be in a
//     backup that loads (else I3). A write acknowledged by a writable
//     replica (replica-read-only no, set by a fault) may be missing only if
//     it is in a backup that loads: redis-vip makes such a replica
//     read-only again after backing it up, and Redis discards those writes
//     at its next full sync. W2 never applies: nothing is forced.
//     With fencing on, W3 is the fence window. A write in W3 by a fault that
//     cut the link (repl-cut, partition, split, isolate) is allowed only if
//     its EXEC was sent at most fence_after + 250 ms (the suite's slack: the
//     fault's start is read just after the paths changed, and a chunk the
//     proxy read just before may reach the master a moment after) after
//     that fault began, the moment its node lost its peer: the server ran
//     it between sending and reply, so one sent later was acknowledged
//     later. With the witness, none is allowed where the master kept the
//     lease: it held it when the fault began (the suite asks the witness)
//     for at least fence.Margin, the fault did not isolate it, and no fault
//     during it killed the witness, cut the master's path to it, or touched
//     the master. Two cases keep the rule of fencing off, and say so: a
//     zombie master made by a stall or a kill (a SIGSTOPped Redis counts no
//     replica silence, and on SIGCONT serves what waits in its sockets
//     before its cron refreshes its count of good replicas: outside the
//     fence's argument), and, with the witness, a node whose fence keeper
//     was down (FIFO mode: notify-fifo killed or keepalived restarted)
//     between the fault's start and the write (an open fence held by the
//     lease stays open without its keeper: docs/partitions.md, "What this
//     does not cover").
//   - I2: within Bound (40 s) after the heal, for three looks in a row: one
//     master, the other its replica through the link proxy, link up, listed
//     online with lag <= 2 s; VRRP MASTER on the master's host and BACKUP on
//     the other; the VIP reaches the master; a write on the master succeeds
//     within 1 s (no CLIENT PAUSE left, and no fence left closed).
//   - I3: every backup loads into a scratch redis-server; a full sync that
//     flushed data its new master lacked had a loadable backup of that
//     instance taken before (data a kill -9 destroyed with its files before
//     the flush is I1's to judge, not I3's); retention never deletes a
//     backup while its instance (told by content) has fewer than
//     backups_keep newer ones.
//   - I4: `check` did not pass, twice in a row on a host (keepalived's
//     fall/rise), on a loading node, on an empty node while the reachable
//     peer holds keys, on a master whose peer master holds newer data, or on
//     both masters of diverged data at once.
//
// Every run prints its seeds, each violation with its seed, evidence and the
// schedule's timeline (with fencing: the keepers' changes of fence level
// and the witness's grants, from their logs), the partition classes it ran
// with how many of each had violations, the W3 writes lost per fencing
// configuration, and ends with the line "N schedules, M violations".
//
//	go test ./test/torture/ -run '^TestTorture$' -v -args -seed 7 -schedules 3 -mode hooks
//	go test ./test/torture/ -run '^TestTorture$' -v -args -start 100 -duration 30m
//	go test ./test/torture/ -run '^TestTorture$' -v -args -seed 96 -torture.keep  # keep the logs
package torture
