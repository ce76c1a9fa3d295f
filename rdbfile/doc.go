// Package rdbfile reads what a Redis persistence file says about itself,
// without loading the dataset.
//
// redis-vip's guard runs before redis-server starts and must know whether the
// data Redis is about to load is missing, empty, or older than what the live
// peer holds. This package answers that from the files alone:
//
//   - [Inspect] reads the header of an RDB file: the format version, the AUX
//     fields (redis-ver, ctime, used-mem, repl-id, repl-offset,
//     repl-stream-db, aof-base), and the first database's size from RESIZEDB.
//     It stops at the first key and never reads values.
//   - [InspectAOFDir] reads a Redis 7 multi-part AOF manifest, inspects the
//     base file (an RDB when it has the RDB preamble) and sums the sizes of the
//     incremental files.
//   - [InspectAOF] reads a single AOF file (Redis 6 and older appendonly.aof,
//     with or without the RDB preamble).
//   - [InspectDataDir] picks the file redis-server would load, given its
//     dir, dbfilename, appendonly, appenddirname and appendfilename settings.
//
// Parsing is bounded: at most [HeaderLimit] bytes of a file are read while
// scanning, plus a few bytes at its end to check that it is complete (for an
// RDB no larger than HeaderLimit, the CRC64 checksum is verified). A missing
// file gives an error for which errors.Is(err, fs.ErrNotExist) holds; a
// truncated or malformed file gives an error wrapping [ErrCorrupt]. The
// parser never panics on any input (it is fuzzed).
//
// What Redis 7.0 writes, found by experiment with redis-server 7.0.15: every
// RDB carries redis-ver, redis-bits, ctime, used-mem and aof-base. A master
// that has (or had, while its backlog lives) a replica, and a replica, also
// write repl-stream-db, repl-id and repl-offset; a master that never had a
// replica does not. An AOF base file never carries replication info.
//
// What a restart does with that info (also redis-server 7.0.15): a server
// started as a master from an RDB with repl-id R and repl-offset O reports
// a new master_replid, master_replid2 R, master_repl_offset O and
// second_repl_offset O+1, so replicas of R can still partially resync. The
// file's repl-id is therefore the restarted server's replid2, not its
// replid. Started as a replica, it keeps R and O as its own. A master
// restarted from an RDB without repl info starts a new history at offset 0.
package rdbfile
