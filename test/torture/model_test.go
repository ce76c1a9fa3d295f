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
	both, none := [2]bool{true, true}, [2]bool{}
	if got := m.step(t0, both); len(got) != 2 || got[0].To != stBackup || got[1].To != stBackup {
		t.Fatalf("start: %+v, want both INIT->BACKUP", got)
	}
	// Equal priorities, both BACKUP: one becomes MASTER after master_down; A
	// goes first here and B then hears it.
	got := m.step(at(timing.masterDown()), both)
	if len(got) != 1 || got[0].Router != 0 || got[0].To != stMaster || m.holder() != 0 {
		t.Fatalf("after master_down: %+v holder %d", got, m.holder())
	}
	// A's check fails twice (fall 2): FAULT, and B takes over after skew.
	m.checkResult(0, false)
	if got := m.step(at(5*time.Second), both); len(got) != 0 {
		t.Fatalf("one failed check changed state: %+v", got)
	}
	m.checkResult(0, false)
	if got := m.step(at(6*time.Second), both); len(got) != 1 || got[0].To != stFault {
		t.Fatalf("fall 2: %+v", got)
	}
	if got := m.step(at(6*time.Second+timing.skew()), both); len(got) != 1 || got[0].Router != 1 || got[0].To != stMaster {
		t.Fatalf("takeover after skew: %+v", got)
	}
	// A recovers (rise 2): BACKUP, and nopreempt keeps B MASTER.
	m.checkResult(0, true)
	m.checkResult(0, true)
	m.step(at(8*time.Second), both)
	if got := m.step(at(20*time.Second), both); len(got) != 0 || m.states() != [2]vrrpState{stBackup, stMaster} {
		t.Fatalf("nopreempt: %+v %v", got, m.states())
	}
	// Partition: A hears no adverts and becomes MASTER too; the VIP answers
	// on the newest master. Healed: A (lower address) steps down.
	if got := m.step(at(20*time.Second+timing.masterDown()), none); len(got) != 1 || got[0].To != stMaster || m.holder() != 0 {
		t.Fatalf("partition: %+v holder %d", got, m.holder())
	}
	if got := m.step(at(30*time.Second), both); len(got) != 1 || got[0].Router != 0 || got[0].To != stBackup {
		t.Fatalf("heal: %+v", got)
	}
	// keepalived stops on B: STOP, A takes over after skew; B starts again.
	if got := m.stop(1, at(31*time.Second), both); len(got) != 1 || got[0].To != stStop {
		t.Fatalf("stop: %+v", got)
	}
	if got := m.step(at(31*time.Second+timing.skew()), both); len(got) != 1 || got[0].Router != 0 || got[0].To != stMaster {
		t.Fatalf("after stop: %+v", got)
	}
	m.start(1)
	if got := m.step(at(33*time.Second), both); !reflect.DeepEqual(got, []change{{Router: 1, From: stInit, To: stBackup}}) {
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
		for _, cat := range []int{catalogueV1, catalogueV2} {
			a, b := drawSchedule(seed, "hooks", 3, cat), drawSchedule(seed, "hooks", 3, cat)
			if a.String() != b.String() {
				t.Fatalf("seed %d drew\n%s\n%s", seed, a, b)
			}
		}
	}
}

// TestVRRPModelOneWay: a link blackholed one way drops the adverts one way.
func TestVRRPModelOneWay(t *testing.T) {
	timing := vrrpTiming{Advert: time.Second, Fall: 2, Rise: 2}
	t0 := time.Unix(1000, 0)
	m := newVRRP(timing)
	both := [2]bool{true, true}
	m.step(t0, both)
	m.step(t0.Add(timing.masterDown()), both)
	if m.states() != [2]vrrpState{stMaster, stBackup} {
		t.Fatalf("start: %v", m.states())
	}
	// B's adverts lost, A's heard: nothing changes.
	if got := m.step(t0.Add(10*time.Second), [2]bool{true, false}); len(got) != 0 {
		t.Fatalf("B's adverts lost: %+v", got)
	}
	// A's adverts lost: B takes over after master_down; A hears B's and,
	// with the lower address, steps down.
	oneWay := [2]bool{false, true}
	m.step(t0.Add(11*time.Second), oneWay)
	if got := m.step(t0.Add(11*time.Second+timing.masterDown()), oneWay); len(got) != 1 || got[0].Router != 1 || got[0].To != stMaster {
		t.Fatalf("A's adverts lost: %+v", got)
	}
	if got := m.step(t0.Add(16*time.Second), oneWay); len(got) != 1 || got[0].Router != 0 || got[0].To != stBackup {
		t.Fatalf("A hears B master: %+v", got)
	}
}

// TestFenceRule: I1's fence rule on W3 writes, per fencing configuration.
func TestFenceRule(t *testing.T) {
	t0 := time.Unix(1000, 0)
	split := event{Kind: fSplit, Host: -1, Start: t0, End: t0.Add(8 * time.Second), Master: 0, LeaseHolder: 0, LeaseLeft: 4 * time.Second}
	isoMaster := split
	isoMaster.Kind, isoMaster.Host = fIsolate, 0
	early := ack{Node: 0, Sent: t0.Add(2 * time.Second)}
	late := ack{Node: 0, Sent: t0.Add(3*time.Second + fenceSlack + time.Millisecond)}
	for _, c := range []struct {
		name  string
		fence fencing
		e     event
		a     ack
		want  string
	}{
		{"off: any W3 write", fencing{}, split, late, ""},
		{"fence: within fence_after", fencing{After: 3 * time.Second}, split, early, ""},
		{"fence: later", fencing{After: 3 * time.Second}, split, late, classBeyondFence},
		{"fence: a stall's zombie is not bounded", fencing{After: 3 * time.Second}, event{Kind: fStall, Host: 0, Start: t0, End: t0.Add(8 * time.Second)}, late, ""},
		{"witness, master kept the lease: nothing", fencing{After: 3 * time.Second, Witness: true}, split, early, classLeaseKept},
		{"witness, master isolated: within fence_after", fencing{After: 3 * time.Second, Witness: true}, isoMaster, early, ""},
		{"witness, master isolated: later", fencing{After: 3 * time.Second, Witness: true}, isoMaster, late, classBeyondFence},
	} {
		r := &run{sched: schedule{Mode: "hooks", Fence: c.fence}, inj: &injector{}}
		r.inj.record(c.e)
		if got, _ := r.fenceBreach(c.a, c.e); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
