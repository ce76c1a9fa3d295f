// Package labnet is what the end-to-end labs (test/lab/netlab, and the
// keepalived lab test/lab built on it, which the operators' rv-lab and the
// demo also run) share about their network: the model of
// the partition shapes they make (Shape: which host reaches which), and
// sockets opened inside a lab namespace from the test process itself, to
// check the model against the kernel (Probe, Matrix, the raw VRRP-protocol
// Listener and SendProto) without starting a process per probe and without
// tools (ping, nc) a machine may lack.
//
// Both labs have the same nodes: h1 and h2 (the Redis hosts), w (the witness
// host) and client, each a namespace with one port on a bridge that lives in
// a namespace of its own. The shapes, with the names of the labs' methods and of rv-lab's commands:
//
//   - isolate HOST: HOST reaches nothing and nothing reaches it; its
//     processes run on and its interface keeps carrier (the bridge port's
//     STP state is disabled).
//   - split: h1 and h2 do not reach each other, everything else does
//     (bridge port isolation on the h1 and h2 ports).
//   - poweroff HOST: every process of the host killed at once, the cable
//     pulled before they die (no FIN, no RST), the namespace deleted;
//     poweron gives a fresh one.
//
// A socket belongs to the namespace its creating thread was in when it was
// made, and keeps it for life: Do runs the socket calls on a locked thread
// moved into the namespace and moves it back afterwards. The test process
// itself never joins a lab namespace (its main thread stays where it is), so
// `ip netns pids` never lists it and the labs' poweroff never kills it; a
// socket it holds in a host's namespace does keep that namespace's kernel
// state alive, so close them before a poweroff.
//
// Every call is bounded by the timeout it is given.
package labnet
