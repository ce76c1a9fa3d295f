// Package lab is the keepalived lab: the two-host lab with the shipped
// keepalived configurations, built in Go on the namespaces, processes and
// partitions of package netlab. The end-to-end tests (test/e2e,
// test/bench/failover) drive it, and so do the operators' lab
// (test/lab/cmd/rv-lab, make lab) and the demo (test/lab/cmd/rv-demo, make
// demo): it needs no *testing.T, only Options.Logf for what it does. It
// writes each host's files (redis.conf with RDB save rules, redis-vip.yml,
// the shipped packaging/keepalived configurations with their paths
// rewritten into the lab dir, the witness secret), runs `redis-vip guard`
// before each redis-server start, reads each host's Redis and keepalived
// state, waits for the pair to settle, and runs the rv-writer client inside
// a namespace. Everything it starts is bounded in time and dies with the
// program that built it (Down, or the program's exit).
//
// The lab has the Redis hosts h1 (192.0.2.11) and h2 (192.0.2.12), the
// witness host w (192.0.2.13, Witness) and the client (192.0.2.100) on one
// bridge; the VIP is 192.0.2.10: the addresses of the shipped keepalived
// configurations. Namespaces are Prefix-h1, -h2, -w, -c and -br; bridge
// ports vh1, vh2, vw and vc. Options choose the variants (rv-lab's flags):
// Notify (hooks or fifo), Profile (shipped or tuned: fall 1, rise 1),
// Preempt, Include (cmdline or conf), ScriptUser and LogLevel.
//
// Its methods are rv-lab's commands: Up, UpNet (-net-only), StartPair (the
// start sequence of Up), Down, StartRedis (start-redis, with NoGuard and
// NoPersist), StopRedis, KillRedis, FreezeRedis, ThawRedis (stop-redis
// --term, --kill, --stop, --cont), StartKeepalived, StopKeepalived, Status,
// WaitSettled (wait-settled), VIPHolder (vip), Cli, Exec. For the
// partition-safety work:
//
//   - the witness host: StartWitness runs `redis-vip witness --listen
//     192.0.2.13:7379 --secret-file WitnessSecret()` in w (or a stand-in
//     command), StopWitness and KillWitness (SIGKILL: the witness dead) end
//     it, WitnessRunning says whether it runs;
//   - partitions: Isolate/Heal a host (h1, h2, w: cut from everything, its
//     processes running, its link up), Split/HealSplit (h1 and h2 no longer
//     reach each other, the client and w reach both), PowerOff/PowerOn a
//     host (every process killed at once with SIGKILL after its cable is
//     pulled, the namespace deleted; PowerOn gives a fresh one and starts
//     nothing), HealAll; Partition reads the current shape from the bridge
//     (labnet.Shape), Reachability probes every pair of nodes;
//   - StartLocalWriter runs a writer inside h1 or h2 against its own Redis
//     (127.0.0.1), not the VIP, where split-brain writes come from;
//     VerifyWriter counts its lost writes from the client namespace.
//
// redis-server runs in the foreground as the lab's child (daemonize no);
// the witness logs to w/witness.log; Down kills everything with SIGKILL and
// leaves the lab dir to the caller. What differs from a real partition or
// power loss: a partition drops frames in the bridge, so both ends see
// silence (no ICMP, no RST), as with a failed switch; a poweroff keeps the
// page cache, so data Redis wrote but never fsynced survives (a real power
// loss can lose it), and the clock does not jump.
package lab
