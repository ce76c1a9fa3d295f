// Package lab drives the lab of scripts/lab.sh from Go tests: it builds and
// removes the lab, reads each host's Redis and keepalived state, waits for
// the pair to settle, and runs the rv-writer client inside a namespace.
// Everything it starts is bounded in time.
//
// The lab has the Redis hosts h1 (192.0.2.11) and h2 (192.0.2.12), the
// witness host w (192.0.2.13, Witness) and the client (192.0.2.100) on one
// bridge; the VIP is 192.0.2.10. For the partition-safety work it adds, each
// a lab.sh command with a method of the same name:
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
// UpNet builds the namespaces and configs without starting a process, for
// tests of the network alone. See scripts/lab.sh's header for how each shape
// is made and what differs from a real partition or power loss.
package lab
