package torture

import (
	"reflect"
	"testing"
	"time"
)

func TestVRRPModel(t *testing.T) {
	timing := vrrpTiming{Advert: time.Second, Fall: 2, Rise: 2}
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	m := newVRRP(timing)
	if got := m.step(t0, true); len(got) != 2 || got[0].To != stBackup || got[1].To != stBackup {
		t.Fatalf("start: %+v, want both INIT->BACKUP", got)
	}
	// Equal priorities, both BACKUP: one becomes MASTER after master_down; A
	// goes first here and B then hears it.
	got := m.step(at(timing.masterDown()), true)
	if len(got) != 1 || got[0].Router != 0 || got[0].To != stMaster || m.holder() != 0 {
		t.Fatalf("after master_down: %+v holder %d", got, m.holder())
	}
	// A's check fails twice (fall 2): FAULT, and B takes over after skew.
	m.checkResult(0, false)
	if got := m.step(at(5*time.Second), true); len(got) != 0 {
		t.Fatalf("one failed check changed state: %+v", got)
	}
	m.checkResult(0, false)
	if got := m.step(at(6*time.Second), true); len(got) != 1 || got[0].To != stFault {
		t.Fatalf("fall 2: %+v", got)
	}
	if got := m.step(at(6*time.Second+timing.skew()), true); len(got) != 1 || got[0].Router != 1 || got[0].To != stMaster {
		t.Fatalf("takeover after skew: %+v", got)
	}
	// A recovers (rise 2): BACKUP, and nopreempt keeps B MASTER.
	m.checkResult(0, true)
	m.checkResult(0, true)
	m.step(at(8*time.Second), true)
	if got := m.step(at(20*time.Second), true); len(got) != 0 || m.states() != [2]vrrpState{stBackup, stMaster} {
		t.Fatalf("nopreempt: %+v %v", got, m.states())
	}
	// Partition: A hears no adverts and becomes MASTER too; the VIP answers
	// on the newest master. Healed: A (lower address) steps down.
	if got := m.step(at(20*time.Second+timing.masterDown()), false); len(got) != 1 || got[0].To != stMaster || m.holder() != 0 {
		t.Fatalf("partition: %+v holder %d", got, m.holder())
	}
	if got := m.step(at(30*time.Second), true); len(got) != 1 || got[0].Router != 0 || got[0].To != stBackup {
		t.Fatalf("heal: %+v", got)
	}
	// keepalived stops on B: STOP, A takes over after skew; B starts again.
	if got := m.stop(1, at(31*time.Second), true); len(got) != 1 || got[0].To != stStop {
		t.Fatalf("stop: %+v", got)
	}
	if got := m.step(at(31*time.Second+timing.skew()), true); len(got) != 1 || got[0].Router != 0 || got[0].To != stMaster {
		t.Fatalf("after stop: %+v", got)
	}
	m.start(1)
	if got := m.step(at(33*time.Second), true); !reflect.DeepEqual(got, []change{{Router: 1, From: stInit, To: stBackup}}) {
		t.Fatalf("restart: %+v", got)
	}
}

func TestContains(t *testing.T) {
	base := sample{Keys: 10, ReplID: "a", Offset: 100}
	for _, c := range []struct {
		name         string
		a, b         sample
		want, divert bool
	}{
		{"same history, ahead", sample{Keys: 12, ReplID: "a", Offset: 150}, base, true, false},
		{"same history, behind", sample{Keys: 8, ReplID: "a", Offset: 50}, base, false, false},
		{"promoted after b's offset", sample{Keys: 12, ReplID: "b", ReplID2: "a", SecondOff: 101, Offset: 300}, base, true, false},
		{"promoted before b's offset", sample{Keys: 12, ReplID: "b", ReplID2: "a", SecondOff: 90, Offset: 300}, base, false, true},
		{"empty b", sample{Keys: 3, ReplID: "x"}, sample{ReplID: "y"}, true, false},
		{"empty a", sample{ReplID: "x"}, base, false, false},
		{"unrelated", sample{Keys: 3, ReplID: "x", Offset: 999}, base, false, true},
		{"b promoted, nothing since: at its old position, which a holds", sample{Keys: 12, ReplID: "a", Offset: 150},
			sample{Keys: 10, ReplID: "n", ReplID2: "a", SecondOff: 101, Offset: 100}, true, false},
		{"b promoted, took writes since", sample{Keys: 12, ReplID: "a", Offset: 150},
			sample{Keys: 10, ReplID: "n", ReplID2: "a", SecondOff: 101, Offset: 130}, false, true},
	} {
		if got := contains(c.a, c.b); got != c.want {
			t.Errorf("%s: contains = %v, want %v", c.name, got, c.want)
		}
		if got := diverged(c.a, c.b); got != c.divert {
			t.Errorf("%s: diverged = %v, want %v", c.name, got, c.divert)
		}
	}
}

func TestParseInfo(t *testing.T) {
	text := "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n" +
		"slave0:ip=127.0.0.1,port=40001,state=online,offset=560,lag=1\r\n" +
		"master_replid:abc\r\nmaster_replid2:def\r\nmaster_repl_offset:560\r\nsecond_repl_offset:12\r\n" +
		"# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb2:keys=4,expires=0,avg_ttl=0\r\n"
	s := parseInfo(time.Time{}, text)
	want := sample{Role: "master", ReplID: "abc", ReplID2: "def", Offset: 560, SecondOff: 12, Keys: 7,
		Replicas: []replicaEntry{{Addr: "127.0.0.1:40001", State: "online", Lag: 1}}}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("parseInfo:\n got %+v\nwant %+v", s, want)
	}
}

func TestRetention(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := func(name string, seen, gone int) *watched {
		f := &watched{name: name, seen: t0.Add(time.Duration(seen) * time.Second)}
		if gone > 0 {
			f.gone = t0.Add(time.Duration(gone) * time.Second)
		}
		return f
	}
	owner := func(f *watched) string { return f.name[:1] }
	// Instance "c" keeps 2: c1 goes when c3 arrives (2 newer): fine. e1 (of
	// instance "e") goes when c3 arrives: retention of c touched e.
	files := []*watched{w("c1", 1, 3), w("e1", 1, 3), w("c2", 2, 0), w("c3", 3, 0)}
	if got := retentionViolations(files, 2, owner, "c"); len(got) != 0 {
		t.Errorf("c: %v", got)
	}
	if got := retentionViolations(files, 2, owner, "e"); len(got) != 1 {
		t.Errorf("e: %v, want one violation", got)
	}
}

func TestDrawScheduleIsReplayable(t *testing.T) {
	for seed := uint64(1); seed < 50; seed++ {
		a, b := drawSchedule(seed, "hooks", 3), drawSchedule(seed, "hooks", 3)
		if a.String() != b.String() {
			t.Fatalf("seed %d drew\n%s\n%s", seed, a, b)
		}
	}
}
