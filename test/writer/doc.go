// Package writer is the lab's client: it pushes numbered writes (RPUSH key N)
// through the VIP with short timeouts, records which were acknowledged,
// reconnects after every failure, and at the end reads the list back from the
// final master to count the acknowledged writes that are missing and the
// longest gap between acknowledged writes. A list (not INCR, not one key per
// write) lets one LRANGE say exactly which numbers survived.
package writer
