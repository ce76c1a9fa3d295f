// Package lab is the tests' keepalived lab: it builds, in Go, the two-host
// lab that scripts/lab.sh builds for operators (the demo, `make lab-up`),
// on the namespaces, processes and partitions of package netlab, and drives
// it from test/e2e and test/bench/failover. It writes the same files as
// lab.sh (redis.conf with RDB save rules, redis-vip.yml, the shipped
// packaging/keepalived configurations with their paths rewritten into the
// lab dir, the witness secret), runs `redis-vip guard` before each
// redis-server start, reads each host's Redis and keepalived state, waits
// for the pair to settle, and runs the rv-writer client inside a
// namespace. Everything it starts is bounded in time and dies with the test
// (Down, or the test binary's exit). lab.sh stays the operator-facing lab;
// keep the two in step (shipped.go names the lab.sh functions it mirrors).
//
// The lab has the Redis hosts h1 (192.0.2.11) and h2 (192.0.2.12), the
// witness host w (192.0.2.13, Witness) and the client (192.0.2.100) on one
// bridge; the VIP is 192.0.2.10: the addresses of the shipped keepalived
// configurations. Options choose the variants lab.sh's environment does:
// Notify (hooks or fifo: LAB_NOTIFY), Profile (shipped or tuned:
// LAB_PROFILE), Preempt (LAB_PREEMPT), Include (cmdline or conf:
// LAB_INCLUDE), ScriptUser (LAB_SCRIPT_USER) and LogLevel (LAB_LOG_LEVEL).
//
// Its methods are lab.sh's commands: Up, UpNet (up --net-only), StartPair
// (the start sequence of up), Down, StartRedis (start-redis, with NoGuard
// and NoPersist), StopRedis, KillRedis, FreezeRedis, ThawRedis (stop-redis
// --term, --kill, --stop, --cont), StartKeepalived, StopKeepalived, Status,
// WaitSettled (wait-settled), VIPHolder (vip), Cli, Exec. For the
// partition-safety work:
//
//   - the witness host: StartWitness runs `redis-vip witness --listen
//     192.0.2.13:7379 --secret-file WitnessSecret()` in w (or a stand-in
//     command), StopWitness and KillWitness (SIGKILL: the witness dead) end
//     it, WitnessRunning says whether it runs;
//   - partitions: Isolate/Heal a host (h1, h2, w: cut from everything, its
//     processes running, its link up; lab.sh's cut), Split/HealSplit (h1
//     and h2 no longer reach each other, the client and w reach both),
//     PowerOff/PowerOn a host (every process killed at once with SIGKILL
//     after its cable is pulled, the namespace deleted; PowerOn gives a
//     fresh one and starts nothing), HealAll; Partition reads the current
//     shape from the bridge (labnet.Shape), Reachability probes every pair
//     of nodes;
//   - StartLocalWriter runs a writer inside h1 or h2 against its own Redis
//     (127.0.0.1), not the VIP, where split-brain writes come from;
//     VerifyWriter counts its lost writes from the client namespace.
//
// What differs from lab.sh: redis-server runs in the foreground as the
// lab's child (daemonize no) instead of daemonized; the client's namespace
// is Prefix-c and the bridge ports are netlab's (vh1, vh2, vw, vc); the
// witness logs to w/witness.log; Down kills everything with SIGKILL (lab.sh
// stops keepalived with SIGTERM first) and leaves the lab dir to the
// caller. See scripts/lab.sh's header for how each partition shape is made
// and what differs from a real partition or power loss.
package lab
