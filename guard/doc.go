// Package guard runs before redis-server starts (systemd ExecStartPre) and
// makes sure a Redis that would come back empty or stale cannot serve as
// master to a peer holding newer data (S5). It reads what the local data
// files say about themselves (without loading them), reads the live peer,
// decides (purely), and writes one directive into a small file that
// redis.conf includes on its last line: `replicaof <peer>`, `replicaof no
// one`, or nothing. Local data that starting as a replica would discard is
// first backed up (S6) by package backup's writer, the one the transitions
// use: a verified copy, strictly named, pruned by the same per-instance
// retention (backups_keep counts both kinds together).
package guard
