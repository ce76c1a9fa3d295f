package backup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind says what a backup holds.
type Kind string

// The kinds of dataset a backup can hold.
const (
	// KindRDB is an RDB file (dbfilename, or the RDB a BGSAVE wrote).
	KindRDB Kind = "rdb"
	// KindAOFDir is a Redis 7 multi-part AOF: a copy of the whole
	// appenddirname directory (manifest, base and incremental files).
	KindAOFDir Kind = "aof-dir"
	// KindAOFFile is a single AOF file (the appendonly.aof of Redis 6 and
	// older).
	KindAOFFile Kind = "aof-file"
)

// Origin says who took a backup.
type Origin string

// The origins of a backup.
const (
	// OriginBGSave: taken from a live server by BGSAVE and a copy of the RDB.
	OriginBGSave Origin = "bgsave"
	// OriginGuard: taken by guard from the files of a stopped server.
	OriginGuard Origin = "guard"
)

// NoReplID stands for the replication ID in the name of a backup whose
// dataset records no replication history.
const NoReplID = "none"

// timeLayout is the UTC time in a backup's name; it sorts as it reads.
const timeLayout = "20060102T150405.000Z"

// sep separates the fields of a name; escaped instance names never hold it.
const sep = "@"

// ErrBadName is wrapped by ParseName's errors.
var ErrBadName = errors.New("not a backup name")

// Name is what a backup's file name says.
type Name struct {
	// Instance is the configured instance name, unescaped.
	Instance string
	// Time is when the backup was written, UTC, to the millisecond.
	Time time.Time
	// ReplID is the short replication ID (at most 12 characters of
	// [0-9a-z]), or NoReplID.
	ReplID string
	// Offset is the replication offset (0 without history).
	Offset int64
	// Origin is who took the backup.
	Origin Origin
	// Kind is what it holds.
	Kind Kind
}

// ShortReplID is the replication ID as a name carries it: its first 12
// characters, lower case, or NoReplID when id is empty or holds anything
// but letters and digits.
func ShortReplID(id string) string {
	id = strings.ToLower(id)
	if len(id) > 12 {
		id = id[:12]
	}
	if !validReplID(id) {
		return NoReplID
	}
	return id
}

func validReplID(id string) bool {
	if id == "" || len(id) > 12 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// String is the file name.
func (n Name) String() string {
	return escapeInstance(n.Instance) + sep + n.Time.UTC().Format(timeLayout) + sep + ShortReplID(n.ReplID) + sep +
		strconv.FormatInt(n.Offset, 10) + sep + string(n.Origin) + "." + string(n.Kind)
}

// ParseName parses a backup's file name strictly: every field must be
// exactly as String writes it.
func ParseName(s string) (Name, error) {
	bad := func(why string) (Name, error) { return Name{}, fmt.Errorf("%w: %q: %s", ErrBadName, s, why) }
	f := strings.Split(s, sep)
	if len(f) != 5 {
		return bad("want 5 fields separated by " + sep)
	}
	var n Name
	var ok bool
	if n.Instance, ok = unescapeInstance(f[0]); !ok {
		return bad("instance field is not an escaped instance name")
	}
	t, err := time.Parse(timeLayout, f[1])
	if err != nil || t.Format(timeLayout) != f[1] {
		return bad("time field is not " + timeLayout)
	}
	n.Time = t
	if !validReplID(f[2]) {
		return bad("replid field")
	}
	n.ReplID = f[2]
	off, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil || off < 0 || strconv.FormatInt(off, 10) != f[3] {
		return bad("offset field")
	}
	n.Offset = off
	origin, kind, found := strings.Cut(f[4], ".")
	if !found {
		return bad("want origin.kind")
	}
	switch Origin(origin) {
	case OriginBGSave, OriginGuard:
		n.Origin = Origin(origin)
	default:
		return bad("unknown origin")
	}
	switch Kind(kind) {
	case KindRDB, KindAOFDir, KindAOFFile:
		n.Kind = Kind(kind)
	default:
		return bad("unknown kind")
	}
	return n, nil
}

// keepByte reports whether an instance name's byte at position i is written
// as it is; every other byte is written as %XX.
func keepByte(c byte, i int) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || (c == '-' && i > 0)
}

const hexDigits = "0123456789ABCDEF"

// escapeInstance writes an instance name so that it holds no separator, no
// '.', no '/' and does not start with '-' or '.'.
func escapeInstance(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepByte(c, i) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// unescapeInstance undoes escapeInstance; only the exact form
// escapeInstance writes is accepted.
func unescapeInstance(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := strings.IndexByte(hexDigits, s[i+1]), strings.IndexByte(hexDigits, s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	out := b.String()
	return out, escapeInstance(out) == s
}
