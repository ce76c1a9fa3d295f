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
// and process timing still differ from run to run. After the last fault is
// healed (every server up, guard first), the writers run 2 s more, then the
// suite waits for convergence and checks the invariants (converge.go for
// I2, check_i1.go, check_i3.go, check_i4.go):
//
//   - I1: every acknowledged write is on the final master, unless it is in
//     W1 (acknowledged by a node at most 1 s, plus its replica's reported
//     lag, before that node was killed, stalled or cut off; or acknowledged
//     by a master that, with no replica in sync, was then killed and
//     restarted with its files lost or rolled back: it died with its disk
//     before any replica or any step of redis-vip had it) or in W3
//     (acknowledged while the link was cut, or while the peer was also a
//     master having been promoted when this node was unreachable: down,
//     stalled or cut off) and then it must be in a backup that loads (else
//     I3). A write acknowledged by a writable replica (replica-read-only
//     no, set by a fault) may be missing only if it is in a backup that
//     loads: redis-vip makes such a replica read-only again after backing
//     it up, and Redis discards those writes at its next full sync. W2
//     never applies: nothing is forced.
//   - I2: within Bound (40 s) after the heal, for three looks in a row: one
//     master, the other its replica through the link proxy, link up, listed
//     online with lag <= 2 s; VRRP MASTER on the master's host and BACKUP on
//     the other; the VIP reaches the master; a write on the master succeeds
//     within 1 s (no CLIENT PAUSE left).
//   - I3: every backup loads into a scratch redis-server; a full sync that
//     flushed data its new master lacked had a loadable backup of that
//     instance taken before; retention never deletes a backup while its
//     instance (told by content) has fewer than backups_keep newer ones.
//   - I4: `check` did not pass, twice in a row on a host (keepalived's
//     fall/rise), on a loading node, on an empty node while the reachable
//     peer holds keys, on a master whose peer master holds newer data, or on
//     both masters of diverged data at once.
//
// Every run prints its seeds, each violation with its seed, evidence and the
// schedule's timeline, and ends with the line "N schedules, M violations".
//
//	go test ./test/torture/ -run '^TestTorture$' -v -args -seed 7 -schedules 3 -mode hooks
//	go test ./test/torture/ -run '^TestTorture$' -v -args -start 100 -duration 30m
package torture
