// Package vrrpe2e holds the end-to-end tests of the built-in VRRP mode
// (`redis-vip run`), each in a lab of its own built by netlab: two hosts
// with real redis-server, a client running test/writer's rv-writer through
// the VIP, and keepalived for the interoperation tests.
//
//	sudo go test ./test/vrrpe2e/                      # about 40 s
//	sudo RVT_LOGS=1 go test -v -run Interop ./test/vrrpe2e/
//	sudo go run ./test/vrrpe2e/cmd/bench-failover-builtin -n 5
//
// ops_test.go covers the operations features: a `run` without
// CAP_NET_ADMIN going to FAULT, the health endpoints (curl, in both modes),
// HAProxy routing through GET /primary across a failover, maintenance mode
// (both modes) and the periodic gratuitous ARP; they need curl, tcpdump,
// haproxy and keepalived, and skip without them.
//
// The tests skip when not root (TestRunBadConfig and
// TestHAProxyExampleIsValid need no root). Namespaces
// are named rvt-<pid>-<n>-{br,c,h1,h2} and removed, with every process the
// lab started, when a test ends, also when it fails.
package vrrpe2e
