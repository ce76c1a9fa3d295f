// Package wiring turns the configuration into working parts: Redis clients
// (node.Client), transition runners, the report's and the health
// endpoints' sources, guard's runner and the built-in VRRP mode's routers;
// it starts the long-running helpers (reconcilers, track files, health
// servers, systemd notifications) and runs `redis-vip run`'s routers. It
// holds no decisions: those live in the domain packages, which take plain
// typed values and never import config. Only this package and
// cmd/redis-vip import config.
package wiring
