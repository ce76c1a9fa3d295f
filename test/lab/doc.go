// Package lab drives the two-host lab of scripts/lab.sh from Go tests: it
// builds and removes the lab, reads each host's Redis and keepalived state,
// waits for the pair to settle, and runs the rv-writer client inside a
// namespace. Everything it starts is bounded in time.
package lab
