// Package httpapi serves an instance's health endpoints over HTTP, as
// Patroni does, for load balancers (HAProxy's httpchk), cloud health probes
// and Kubernetes, where VRRP and gratuitous ARP cannot run:
//
//	GET /primary   200 only on the node that may take writes: the local
//	               Redis is master, the check verdict passes, and VRRP made
//	               this node master (run: it holds the VIP; keepalived mode:
//	               keepalived's newest event for the instance is MASTER)
//	GET /replica   200 on a replica whose link is up and not in a full sync;
//	               ?max_lag_bytes=N (1MiB, ...) also bounds its lag
//	GET /health    JSON: both nodes' facts, the check verdict, the VRRP
//	               state (run), the last transition, maintenance mode; 200
//	               while the local Redis answers, 503 otherwise
//	GET /metrics   the report's Prometheus metrics for the instance
//
// HEAD works as GET without the body. Every answer comes from one Snapshot
// of the pair: both Redis servers read concurrently within the instance's
// timeouts.check, shared by the requests that arrive meanwhile and reused
// for a short while, so a flood of probes costs the servers one read. The
// server runs beside the VRRP loop and never blocks it (it reads the
// Router's status under its mutex only). The decisions (Primary, Replica)
// are pure functions of a Snapshot.
package httpapi
