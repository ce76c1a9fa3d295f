package backup

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func TestNameRoundTrip(t *testing.T) {
	for _, n := range []Name{
		{Instance: "cache", Time: t0, ReplID: "8c3f1a2b9d0e", Offset: 1555, Origin: OriginBGSave, Kind: KindRDB},
		{Instance: "cache-eu", Time: t0, ReplID: NoReplID, Offset: 0, Origin: OriginGuard, Kind: KindAOFDir},
		{Instance: "redis_6379", Time: t0, ReplID: "abc", Offset: 9, Origin: OriginGuard, Kind: KindAOFFile},
		// Bytes that would break the format, the file system or a shell.
		{Instance: "cache@eu", Time: t0, ReplID: "none", Origin: OriginGuard, Kind: KindRDB},
		{Instance: "../etc/x y.z%", Time: t0, ReplID: "none", Origin: OriginGuard, Kind: KindRDB},
		{Instance: "-rf", Time: t0, ReplID: "none", Origin: OriginGuard, Kind: KindRDB},
		{Instance: ".hidden", Time: t0, ReplID: "none", Origin: OriginGuard, Kind: KindRDB},
		{Instance: "ünï", Time: t0, ReplID: "none", Origin: OriginGuard, Kind: KindRDB},
	} {
		s := n.String()
		if strings.ContainsAny(s, "/ ") || strings.HasPrefix(s, "-") || strings.HasPrefix(s, ".") || strings.Count(s, sep) != 4 {
			t.Errorf("%q: name %q is unsafe", n.Instance, s)
		}
		got, err := ParseName(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got != n {
			t.Errorf("%q parsed as %+v, want %+v", s, got, n)
		}
	}
}

func TestNameFormat(t *testing.T) {
	n := Name{Instance: "cache", Time: t0.Add(999 * time.Microsecond), ReplID: "8C3F1A2B9D0E4455667788990011223344556677", Offset: 1555, Origin: OriginBGSave, Kind: KindRDB}
	if got, want := n.String(), "cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb"; got != want {
		t.Fatalf("name %q, want %q", got, want)
	}
	if got := (Name{Instance: "a/b", Time: t0.In(time.FixedZone("x", 3600)), Origin: OriginGuard, Kind: KindAOFDir}).String(); got != "a%2Fb@20250102T030405.678Z@none@0@guard.aof-dir" {
		t.Fatalf("name %q", got)
	}
}

func TestShortReplID(t *testing.T) {
	for in, want := range map[string]string{
		"":   NoReplID,
		"r1": "r1",
		"ABCDEF0123456789abcdef0123456789abcdef01": "abcdef012345",
		"has space": NoReplID,
		"a@b":       NoReplID,
	} {
		if got := ShortReplID(in); got != want {
			t.Errorf("ShortReplID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseNameIsStrict(t *testing.T) {
	good := "cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb"
	if _, err := ParseName(good); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"",
		"cache-20250102T030405.678Z-8c3f1a2b9d0e-1555.rdb",              // the old format
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb.tmp",   // kind with a suffix
		".cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb",      // '.' is escaped in names
		"cache@eu@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb",    // raw separator in the instance
		"cache%40eu@20250102T030405.67Z@8c3f1a2b9d0e@1555@bgsave.rdb",   // two-digit milliseconds
		"cache@20250102T030405Z@8c3f1a2b9d0e@1555@bgsave.rdb",           // no milliseconds
		"cache@20250102T030405.678+01:00@8c3f1a2b9d0e@1555@bgsave.rdb",  // not UTC
		"cache@20250102T030405.678Z@8C3F1A2B9D0E@1555@bgsave.rdb",       // upper-case replid
		"cache@20250102T030405.678Z@8c3f1a2b9d0e44@1555@bgsave.rdb",     // replid too long
		"cache@20250102T030405.678Z@@1555@bgsave.rdb",                   // no replid
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@01555@bgsave.rdb",      // leading zero
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@-1@bgsave.rdb",         // negative offset
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@+1@bgsave.rdb",         // signed offset
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave",           // no kind
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@manual.rdb",       // unknown origin
		"cache@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.aof",       // unknown kind
		"cache%2f@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb",    // lower-case escape
		"cache%2@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb",     // short escape
		"cache%41@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb",    // escaped byte that is written as is
		"%2Drf@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb" + "x", // trailing junk
		"-rf@20250102T030405.678Z@8c3f1a2b9d0e@1555@bgsave.rdb",         // leading '-' is escaped
	} {
		if n, err := ParseName(s); err == nil || !errors.Is(err, ErrBadName) {
			t.Errorf("ParseName(%q) = %+v, %v; want ErrBadName", s, n, err)
		}
	}
}

// An instance name that is a prefix of another's never parses as the other.
func TestEscapedInstanceNamesArePrefixFree(t *testing.T) {
	names := []string{"cache", "cache-eu", "cache@eu", "cache%40eu", "cache.eu", "cache-", "c"}
	for _, a := range names {
		for _, b := range names {
			if a == b {
				continue
			}
			if strings.HasPrefix(escapeInstance(b)+sep, escapeInstance(a)+sep) {
				t.Errorf("%q's names start like %q's", b, a)
			}
			n := Name{Instance: b, Time: t0, ReplID: "none", Origin: OriginGuard, Kind: KindRDB}
			if got, _ := ParseName(n.String()); got.Instance == a {
				t.Errorf("a backup of %q parses as %q's", b, a)
			}
		}
	}
}
