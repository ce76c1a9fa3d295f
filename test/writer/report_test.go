package writer

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func ack(n int64, ms int, by string) Ack {
	return Ack{N: n, At: time.Duration(ms) * time.Millisecond, By: by}
}

func TestLongestGap(t *testing.T) {
	for _, tc := range []struct {
		name string
		acks []Ack
		want Gap
	}{
		{"none", nil, Gap{}},
		{"one", []Ack{ack(1, 5, "a")}, Gap{}},
		{"steady", []Ack{ack(1, 0, "a"), ack(2, 10, "a"), ack(3, 20, "a")}, Gap{Length: 10 * time.Millisecond}},
		{"failover", []Ack{ack(1, 0, "a"), ack(2, 10, "a"), ack(7, 2510, "b"), ack(8, 2520, "b")},
			Gap{Length: 2500 * time.Millisecond, After: 10 * time.Millisecond}},
		{"first of equal gaps wins", []Ack{ack(1, 0, "a"), ack(2, 100, "a"), ack(3, 200, "a")}, Gap{Length: 100 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := LongestGap(tc.acks); got != tc.want {
				t.Fatalf("LongestGap = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAnalyze(t *testing.T) {
	l := Log{Key: "k", Sent: 8, Acks: []Ack{ack(1, 0, "a"), ack(2, 10, "a"), ack(3, 20, "a"), ack(5, 1000, "b"), ack(6, 1010, "b"), ack(8, 1020, "b")},
		Errors: map[string]int{"timeout": 2}}
	for _, tc := range []struct {
		name                      string
		present                   []int64
		lost, unacked, duplicates int
		ranges                    [][2]int64
	}{
		{"all there", []int64{1, 2, 3, 5, 6, 8}, 0, 0, 0, nil},
		{"unacked write applied anyway", []int64{1, 2, 3, 4, 5, 6, 8}, 0, 1, 0, nil},
		{"tail of the old master lost", []int64{1, 5, 6, 8}, 2, 0, 0, [][2]int64{{2, 3}}},
		// 4 and 7 were never acknowledged: not lost, and they split the runs.
		{"two runs lost", []int64{1, 6}, 4, 0, 0, [][2]int64{{2, 3}, {5, 5}, {8, 8}}},
		{"everything lost", nil, 6, 0, 0, [][2]int64{{1, 3}, {5, 6}, {8, 8}}},
		{"duplicate entry", []int64{1, 2, 3, 5, 6, 8, 8}, 0, 0, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Analyze(l, tc.present)
			if r.Lost != tc.lost || r.UnackedPresent != tc.unacked || r.Duplicates != tc.duplicates {
				t.Fatalf("lost %d unacked %d dup %d, want %d %d %d", r.Lost, r.UnackedPresent, r.Duplicates, tc.lost, tc.unacked, tc.duplicates)
			}
			if !reflect.DeepEqual(r.LostRanges, tc.ranges) {
				t.Fatalf("ranges %v, want %v", r.LostRanges, tc.ranges)
			}
			if r.Acked != 6 || r.MaxGapMS != 980 || r.AckedBy["a"] != 3 || r.AckedBy["b"] != 3 {
				t.Fatalf("report %+v", r)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	r := Report{Sent: 10, Acked: 9, Lost: 1, LostSample: []int64{4}, LostBy: map[string]int{"192.0.2.11": 1},
		MaxGapMS: 2100, MaxGapAfterMS: 3000, FinalMaster: "192.0.2.12:6379", VIPHost: "192.0.2.12:6379", VIPOnMaster: true}
	s := r.Summary()
	for _, want := range []string{"9 acknowledged", "1 acknowledged writes lost", "2100 ms", "192.0.2.12:6379 holds the VIP: yes"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary %q lacks %q", s, want)
		}
	}
	r.VIPOnMaster, r.VIPHost = false, ""
	if s := r.Summary(); !strings.Contains(s, "NO (VIP reaches nothing)") {
		t.Errorf("summary %q", s)
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("1\n2\n3\n")
	if err != nil || len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Errorf("ParseList = %v, %v; want [1 2 3]", got, err)
	}
	if got, err := ParseList(""); err != nil || got != nil {
		t.Errorf("ParseList of nothing = %v, %v; want nil, nil", got, err)
	}
	if _, err := ParseList("1\nLOADING Redis is loading\n"); err == nil || !strings.Contains(err.Error(), `"LOADING"`) {
		t.Errorf("ParseList of a non-number: %v, want an error naming it", err)
	}
}
