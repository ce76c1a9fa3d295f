// Package node is one Redis server as redis-vip sees it: the Facts read from
// INFO (role, replication history, persistence, keyspace), the freshness
// comparisons between two nodes that every safety decision rests on, and the
// few commands redis-vip sends (REPLICAOF, FAILOVER, CLIENT PAUSE, ...).
//
// Parsing is by key=value, never by position, so the formats of Redis 5.0 to
// 7.4 and Valkey 7.2/8 all read the same way; unknown fields are ignored.
package node
