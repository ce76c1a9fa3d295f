// Package testtier says which tier of tests a run includes.
//
//   - go test ./...                      unit and integration tests: pure
//     tables, fuzz seed corpora, real redis-server on loopback ports and the
//     built binary. No flags, no root, well under two minutes on two cores.
//   - go test -short ./...               no servers: the tests that start a
//     redis-server skip (the rest, the built binary's command-line checks
//     among them, run).
//   - RV_E2E=1 go test ./... (as root)   also the end-to-end tier: labs in
//     network namespaces with real keepalived, the Debian package installed
//     on this machine, the torture suite's fixed slice and regression seeds.
//     make test sets RV_E2E=1.
//
// The end-to-end tests skip with one line naming RV_E2E when it is unset.
// RV_PARTITION_TABLE=1 adds, on top of the end-to-end tier, the partition
// table (minutes) and the self-tests of the labs' partition shapes it
// stands on; make test runs one cell of the table instead.
package testtier

import (
	"os"
	"testing"
)

// Env is the environment variable that turns the end-to-end tier on.
const Env = "RV_E2E"

// EndToEnd reports whether the end-to-end tier runs: RV_E2E=1 and not -short.
// Call it after flag parsing (in a test, or in TestMain after flag.Parse).
func EndToEnd() bool {
	return os.Getenv(Env) == "1" && !testing.Short()
}

// SkipReason is why an end-to-end test does not run ("" when it does).
func SkipReason() string {
	switch {
	case testing.Short():
		return "-short: unit tests only (the end-to-end tier runs with " + Env + "=1, as make test does)"
	case os.Getenv(Env) != "1":
		return "end-to-end tier: set " + Env + "=1 to run it (make test does)"
	}
	return ""
}

// RequireEndToEnd skips the test unless the end-to-end tier runs.
func RequireEndToEnd(t testing.TB) {
	t.Helper()
	if r := SkipReason(); r != "" {
		t.Skip(r)
	}
}

// PartitionTableEnv turns on the partition table and the labs' partition
// self-tests (with Env).
const PartitionTableEnv = "RV_PARTITION_TABLE"

// RequirePartitionTable skips the test unless the end-to-end tier runs
// with PartitionTableEnv=1.
func RequirePartitionTable(t testing.TB) {
	t.Helper()
	RequireEndToEnd(t)
	if os.Getenv(PartitionTableEnv) != "1" {
		t.Skip("a self-test of the lab's partition shapes, run with the partition table: set " + PartitionTableEnv + "=1 (make test runs one cell of the table)")
	}
}

// RequireServers skips the test under -short: it starts servers
// (redis-server on loopback).
func RequireServers(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts redis-server (go test without -short runs it)")
	}
}
