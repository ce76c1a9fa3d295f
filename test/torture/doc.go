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
// FIFO read by a long-running `redis-vip notify-fifo`. The VIP is a proxy
// that forwards to the VRRP master's Redis.
//
// Each schedule is drawn from a seed: persistence, hook faults and a list of
// faults from the catalogue (faults.go). After the last fault is healed the
// suite waits for convergence within a stated bound and checks the
// invariants I1-I4 (invariants.go). Every run prints its seeds and ends with
// the line "N schedules, M violations".
//
//	go test ./test/torture/ -run '^TestTorture$' -v -args -seed 7 -schedules 3 -mode hooks
//	go test ./test/torture/ -run '^TestTorture$' -v -args -start 100 -duration 30m
package torture
