// Package backup writes, verifies, lists and prunes the backups of one
// instance's dataset (safety rule S6: back up before discarding).
//
// There is one writer for both places that discard data: transition (a live
// server: BGSAVE, then copy the RDB; see [Writer.Snapshot]) and guard (a
// stopped server: copy the files redis-server would load, an RDB, a single
// AOF file, or the whole Redis 7 append-only directory; see
// [Writer.CopyStopped] and [Locate]).
//
// Every backup is staged in a temporary directory inside the backup
// directory (each file written with internal/atomicfile: temporary file,
// fsync, rename), verified there, and only then renamed to its final name,
// which never replaces an existing backup. Verification reads the copy back:
// every file's bytes hash the same as the bytes read from the source, and
// package rdbfile reads the copy as it read the source (RDB header and
// checksum where available, key count hint, history; for an AOF directory
// the manifest, every file it names with the same sizes, and the base). A
// backup that does not verify is removed and reported as an error: the
// caller must not discard the data then.
//
// A backup's name is
//
//	<instance>@<time>@<replid>@<offset>@<origin>.<kind>
//
// for example cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb:
// the instance name with every byte outside [A-Za-z0-9_-] (and a leading
// '-') written as %XX, so the escaped name never holds '@' or '.'; the UTC
// time with milliseconds; the first 12 characters of the replication ID
// ("none" when the dataset records no history) and the offset; who took it
// ([OriginBGSave], [OriginGuard]) and what it holds ([KindRDB],
// [KindAOFDir], [KindAOFFile]). [ParseName] parses names strictly, so an
// instance never lists or prunes another instance's backups (cache and
// cache-eu, cache and cache@eu), nor files that are not backups.
//
// Retention keeps the newest [Writer.Keep] backups of the instance, never
// deletes the one just written, and never touches anything else.
package backup
