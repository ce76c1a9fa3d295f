package node

import "testing"

// Replication ids used below: O is the old master's history, X and Y two
// histories that continued from it after a promotion, N a fresh one.
const (
	idO = "00000000000000000000000000000000000000aa"
	idX = "00000000000000000000000000000000000000bb"
	idY = "00000000000000000000000000000000000000cc"
	idN = "00000000000000000000000000000000000000dd"
)

// hist is a node that never changed history: replid at offset, with keys.
func hist(replid string, offset, keys int64) Facts {
	return Facts{ReplID: replid, ReplID2: zeroID, ReplOffset: offset, SecondReplOffset: -1, Keys: keys}
}

// promoted is a node that was a replica of replid2 up to offset
// second-1, was promoted, and has written up to offset since.
func promoted(replid, replid2 string, second, offset, keys int64) Facts {
	return Facts{ReplID: replid, ReplID2: replid2, ReplOffset: offset, SecondReplOffset: second, Keys: keys}
}

func loading(f Facts) Facts { f.Loading = true; return f }

func TestCompareAndAtLeastAsFresh(t *testing.T) {
	cases := []struct {
		name   string
		a, b   Facts
		want   Relation
		ab, ba bool // AtLeastAsFresh(a, b), AtLeastAsFresh(b, a)
	}{
		{
			name: "both empty, unrelated fresh replids",
			a:    hist(idN, 0, 0), b: hist(idO, 0, 0),
			want: Same,
		},
		{
			name: "both empty, same replid and offset",
			a:    hist(idO, 14, 0), b: hist(idO, 14, 0),
			want: Same, ab: true, ba: true,
		},
		{
			name: "b empty with a new replid",
			a:    hist(idO, 500, 10), b: hist(idN, 0, 0),
			want: Ahead,
		},
		{
			name: "a empty with a new replid",
			a:    hist(idN, 0, 0), b: hist(idO, 500, 10),
			want: Behind,
		},
		{
			// Drained on purpose: a's history holds b's position and goes
			// further (a FLUSHALL b has not seen): the deletions are the
			// newest writes, so a is ahead.
			name: "a empty on the same history, further ahead: drained",
			a:    hist(idO, 900, 0), b: hist(idO, 500, 10),
			want: Ahead, ab: true,
		},
		{
			// Emptied at b's very position is no drain: nothing newer.
			name: "a empty on the same history at b's offset",
			a:    hist(idO, 500, 0), b: hist(idO, 500, 10),
			want: Behind, ab: true, ba: true,
		},
		{
			// A restart without files has a new replid: shares nothing.
			name: "a empty with a new replid",
			a:    hist(idN, 900, 0), b: hist(idO, 500, 10),
			want: Behind,
		},
		{
			name: "same replid, a further",
			a:    hist(idO, 120, 5), b: hist(idO, 100, 5),
			want: Ahead, ab: true,
		},
		{
			name: "same replid, a behind",
			a:    hist(idO, 100, 5), b: hist(idO, 120, 5),
			want: Behind, ba: true,
		},
		{
			name: "same replid, same offset",
			a:    hist(idO, 100, 5), b: hist(idO, 100, 5),
			want: Same, ab: true, ba: true,
		},
		{
			// a was promoted after reading offset 100 of O (second 101).
			name: "promoted; other stopped below second_repl_offset-1",
			a:    promoted(idX, idO, 101, 150, 5), b: hist(idO, 80, 5),
			want: Ahead, ab: true,
		},
		{
			name: "promoted; other stopped exactly at second_repl_offset-1",
			a:    promoted(idX, idO, 101, 150, 5), b: hist(idO, 100, 5),
			want: Ahead, ab: true,
		},
		{
			// b wrote offset 101 on O after a had left it: split brain.
			// Both wrote after the fork; a was promoted from b's history, so a
			// is the successor (the side the VIP moved to).
			name: "promoted; other went on to second_repl_offset",
			a:    promoted(idX, idO, 101, 150, 5), b: hist(idO, 101, 5),
			want: Successor,
		},
		{
			name: "promoted; other went on well past second_repl_offset",
			a:    promoted(idX, idO, 101, 150, 5), b: hist(idO, 400, 5),
			want: Successor,
		},
		{
			name: "promoted, other side of the same pair",
			a:    hist(idO, 100, 5), b: promoted(idX, idO, 101, 150, 5),
			want: Behind, ba: true,
		},
		{
			// A node promoted without writes since (offset == second-1)
			// still stands at its old position: nothing to sync either way.
			name: "promoted with no write since, other at the promotion point",
			a:    promoted(idX, idO, 101, 100, 5), b: hist(idO, 100, 5),
			want: Same, ab: true, ba: true,
		},
		{
			name: "promoted with no write since, other behind the promotion point",
			a:    promoted(idX, idO, 101, 100, 5), b: hist(idO, 60, 5),
			want: Ahead, ab: true,
		},
		{
			name: "promoted with no write since, other went on past it",
			a:    promoted(idX, idO, 101, 100, 5), b: hist(idO, 130, 5),
			want: Behind, ba: true,
		},
		{
			name: "both promoted from the same old master",
			a:    promoted(idX, idO, 101, 150, 5), b: promoted(idY, idO, 91, 120, 5),
			want: Diverged,
		},
		{
			name: "both promoted from the same point, both wrote since",
			a:    promoted(idX, idO, 101, 101, 5), b: promoted(idY, idO, 101, 101, 5),
			want: Diverged,
		},
		{
			name: "both promoted from the same point, neither wrote since",
			a:    promoted(idX, idO, 101, 100, 5), b: promoted(idY, idO, 101, 100, 5),
			want: Same, ab: true, ba: true,
		},
		{
			name: "both promoted, only b wrote since",
			a:    promoted(idX, idO, 101, 100, 5), b: promoted(idY, idO, 101, 110, 5),
			want: Behind, ba: true,
		},
		{
			name: "all-zero replid2 is no history, whatever second_repl_offset says",
			a:    promoted(idX, zeroID, 101, 150, 5), b: hist(zeroID, 80, 5),
			want: Diverged,
		},
		{
			name: "a replica of the promoted node shares its new history",
			a:    promoted(idX, idO, 101, 150, 5), b: promoted(idX, idO, 101, 140, 5),
			want: Ahead, ab: true,
		},
		{
			name: "unrelated replids, both hold data",
			a:    hist(idX, 1000, 5), b: hist(idY, 10, 5),
			want: Diverged,
		},
		{
			// A master restarted from its RDB: keys, but a fresh replid at 0.
			name: "restarted master with keys and a fresh replid vs its old replica",
			a:    hist(idN, 0, 1401), b: hist(idO, 5000, 1401),
			want: Diverged,
		},
		{
			name: "replid2 matches but second_repl_offset unset",
			a:    promoted(idX, idO, -1, 150, 5), b: hist(idO, 80, 5),
			want: Diverged,
		},
		{
			name: "no replid on either side (unknown history)",
			a:    hist("", 100, 5), b: hist("", 100, 5),
			want: Diverged,
		},
		{
			name: "no replid on one side",
			a:    hist(idO, 100, 5), b: hist("", 0, 5),
			want: Diverged,
		},
		{
			// Loading with no keys counted yet is not empty.
			name: "loading node with 0 keys so far vs an empty node",
			a:    loading(hist(idN, 0, 0)), b: hist(idO, 0, 0),
			want: Ahead,
		},
		{
			// A replica mid full sync has its own fresh replid until the load
			// ends, so against its master it reads as diverged: callers must
			// look at Loading before acting on the relation.
			name: "replica loading a full sync vs its master",
			a:    loading(hist(idN, 0, 0)), b: hist(idO, 800, 1000),
			want: Diverged,
		},
		{
			name: "loading node on the same history",
			a:    loading(hist(idO, 800, 300)), b: hist(idO, 800, 1000),
			want: Same, ab: true, ba: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Compare(tc.a, tc.b); got != tc.want {
				t.Errorf("Compare(a, b) = %v, want %v", got, tc.want)
			}
			if got, want := Compare(tc.b, tc.a), tc.want.Reverse(); got != want {
				t.Errorf("Compare(b, a) = %v, want %v", got, want)
			}
			if got := AtLeastAsFresh(tc.a, tc.b); got != tc.ab {
				t.Errorf("AtLeastAsFresh(a, b) = %v, want %v", got, tc.ab)
			}
			if got := AtLeastAsFresh(tc.b, tc.a); got != tc.ba {
				t.Errorf("AtLeastAsFresh(b, a) = %v, want %v", got, tc.ba)
			}
		})
	}
}

// The same rules on the facts captured from real 7.0.15 servers.
func TestCompareCaptured(t *testing.T) {
	cases := []struct {
		a, b string
		want Relation
	}{
		// Master and its acked replica: same replid, same offset.
		{"redis-7.0.15-master-with-replica.txt", "redis-7.0.15-replica-in-sync.txt", Same},
		// The master moved on (a second replica joined, offset 74 > 60).
		{"redis-7.0.15-master-with-two-replicas.txt", "redis-7.0.15-replica-in-sync.txt", Ahead},
		// FAILOVER: the target (replid2 = old replid, second 131) against the
		// old master as it was while waiting (offset 130 = second-1).
		{"redis-7.0.15-replica-promoted-by-failover.txt", "redis-7.0.15-master-failover-waiting-for-sync.txt", Ahead},
		{"redis-7.0.15-replica-promoted-by-failover.txt", "redis-7.0.15-master-failover-in-progress.txt", Ahead},
		// After FAILOVER the old master follows the new one.
		{"redis-7.0.15-replica-promoted-by-failover.txt", "redis-7.0.15-master-demoted-by-failover.txt", Same},
		// REPLICAOF NO ONE after the master died: the promoted node against
		// itself before promotion (replid 2d3b.. at 61, second 62).
		{"redis-7.0.15-replica-promoted.txt", "redis-7.0.15-replica-link-down.txt", Ahead},
		// A fresh empty master never outranks data.
		{"redis-7.0.15-master-empty.txt", "redis-7.0.15-master-with-replica.txt", Behind},
		// Unrelated histories from separate runs, both with data.
		{"redis-7.0.15-replica-promoted.txt", "redis-7.0.15-master-with-replica.txt", Diverged},
		// Loading nodes hold data (Empty() is false while loading).
		{"redis-7.0.15-master-loading.txt", "redis-7.0.15-master-empty.txt", Ahead},
		{"redis-7.0.15-replica-loading.txt", "redis-7.0.15-master-with-replica.txt", Diverged},
	}
	for _, tc := range cases {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			a, b := mustFacts(t, tc.a), mustFacts(t, tc.b)
			if got := Compare(a, b); got != tc.want {
				t.Errorf("Compare = %v, want %v\n a: %s\n b: %s", got, tc.want, a.Summary(), b.Summary())
			}
			if got := Compare(b, a); got != tc.want.Reverse() {
				t.Errorf("reverse Compare = %v, want %v", got, tc.want.Reverse())
			}
		})
	}
}

func TestLoadingIsNotEmpty(t *testing.T) {
	f := loading(hist(idN, 0, 0))
	if f.Empty() {
		t.Fatal("a loading node with no keys counted yet reads as empty")
	}
	f.Loading = false
	if !f.Empty() {
		t.Fatal("a loaded node with no keys is not empty")
	}
}

func TestRelationString(t *testing.T) {
	for r, want := range map[Relation]string{Same: "same", Ahead: "ahead", Behind: "behind", Diverged: "diverged", Relation(42): "unknown"} {
		if got := r.String(); got != want {
			t.Errorf("Relation(%d).String() = %q, want %q", int(r), got, want)
		}
	}
}

func TestLinkedTo(t *testing.T) {
	r := Facts{Role: RoleReplica, MasterHost: "192.0.2.11", MasterPort: 6379, MasterLinkUp: true}
	if !r.LinkedTo(Addr{Host: "192.0.2.11", Port: 6379}) {
		t.Error("linked replica not recognised")
	}
	if r.LinkedTo(Addr{Host: "192.0.2.12", Port: 6379}) {
		t.Error("replica of another server counted as linked")
	}
	if r.LinkedTo(Addr{}) {
		t.Error("replica counted as linked to the zero Addr")
	}
	r.MasterLinkUp = false
	if r.LinkedTo(Addr{Host: "192.0.2.11", Port: 6379}) {
		t.Error("replica with its link down counted as linked")
	}
	if (Facts{Role: RoleMaster}).LinkedTo(Addr{Host: "192.0.2.11", Port: 6379}) {
		t.Error("a master counted as linked")
	}
}

// Judge applies Compare, Unskew and Refine in that order, and returns
// Compare's answer beside the corrected one.
func TestJudge(t *testing.T) {
	addr := Addr{Host: "192.0.2.11", Port: 6379}
	master := func(f Facts) Facts { f.Role = RoleMaster; return f }
	replicaOf := func(f Facts, host string, port int) Facts {
		f.Role, f.MasterHost, f.MasterPort, f.MasterLinkUp = RoleReplica, host, port, true
		return f
	}
	for _, tc := range []struct {
		name        string
		local, peer Facts
		ls, ps      Writes
		rel, raw    Relation
	}{
		{"the same history and offset", master(hist(idO, 100, 5)), replicaOf(hist(idO, 100, 5), "192.0.2.11", 6379),
			WritesUnknown, WritesUnknown, Same, Same},
		{"local's replica read a moment later is not ahead (Unskew)", master(hist(idO, 100, 5)), replicaOf(hist(idO, 140, 5), "192.0.2.11", 6379),
			WritesUnknown, WritesUnknown, Same, Behind},
		{"a replica of another master further on is", master(hist(idO, 100, 5)), replicaOf(hist(idO, 140, 5), "192.0.2.99", 6379),
			WritesUnknown, WritesUnknown, Behind, Behind},
		{"a promoted peer that took no writes is behind local's writes (Refine)", master(hist(idO, 200, 5)), master(promoted(idX, idO, 101, 160, 5)),
			WritesSome, WritesNone, Ahead, Predecessor},
		{"writes on both sides stay a fork", master(hist(idO, 200, 5)), master(promoted(idX, idO, 101, 160, 5)),
			WritesSome, WritesSome, Predecessor, Predecessor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel, raw := Judge(tc.local, tc.peer, addr, tc.ls, tc.ps)
			if rel != tc.rel || raw != tc.raw {
				t.Errorf("Judge = %v (raw %v), want %v (raw %v)", rel, raw, tc.rel, tc.raw)
			}
		})
	}
}

func TestRelationReverse(t *testing.T) {
	for _, r := range []Relation{Same, Ahead, Behind, Diverged, Successor, Predecessor} {
		if r.Reverse().Reverse() != r {
			t.Errorf("%v reversed twice is %v", r, r.Reverse().Reverse())
		}
	}
	for r, want := range map[Relation]Relation{Same: Same, Diverged: Diverged, Ahead: Behind, Successor: Predecessor} {
		if got := r.Reverse(); got != want {
			t.Errorf("%v.Reverse() = %v, want %v", r, got, want)
		}
	}
}
