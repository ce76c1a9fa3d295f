package labnet

import (
	"reflect"
	"testing"
)

func TestShapeRoundTrip(t *testing.T) {
	for _, line := range []string{
		"isolated=- split=off off=-",
		"isolated=h1,w split=on off=h2",
		"isolated=w split=off off=-",
	} {
		s, err := ParseShape(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(); got != line {
			t.Errorf("ParseShape(%q).String() = %q", line, got)
		}
	}
	if s, _ := ParseShape("isolated=w,h1 split=off off=-"); !reflect.DeepEqual(s.Isolated, []string{"h1", "w"}) {
		t.Errorf("lists are sorted: %v", s.Isolated)
	}
	for _, bad := range []string{"", "isolated=- split=partial off=-", "isolated=- split=off", "isolated=- split=off off=- x=1", "isolated"} {
		if _, err := ParseShape(bad); err == nil {
			t.Errorf("ParseShape(%q): no error", bad)
		}
	}
	if !(Shape{}).Healed() {
		t.Error("the zero shape is healed")
	}
}

func TestShapeReaches(t *testing.T) {
	all := func(s Shape) map[[2]string]bool {
		m := map[[2]string]bool{}
		for _, a := range Nodes {
			for _, b := range Nodes {
				if a < b && !s.Reaches(a, b) {
					m[[2]string{a, b}] = true
				}
			}
		}
		return m
	}
	for _, tc := range []struct {
		name string
		s    Shape
		cut  [][2]string
	}{
		{"healed", Shape{}, nil},
		{"split", Shape{Split: true}, [][2]string{{"h1", "h2"}}},
		{"isolate h1", Shape{Isolated: []string{"h1"}}, [][2]string{{"h1", "h2"}, {"client", "h1"}, {"h1", "w"}}},
		{"isolate w", Shape{Isolated: []string{"w"}}, [][2]string{{"client", "w"}, {"h1", "w"}, {"h2", "w"}}},
		{"h2 off, split", Shape{Off: []string{"h2"}, Split: true}, [][2]string{{"h1", "h2"}, {"client", "h2"}, {"h2", "w"}}},
		{"split and w isolated", Shape{Split: true, Isolated: []string{"w"}}, [][2]string{{"h1", "h2"}, {"client", "w"}, {"h1", "w"}, {"h2", "w"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := map[[2]string]bool{}
			for _, p := range tc.cut {
				want[p] = true
			}
			if got := all(tc.s); !reflect.DeepEqual(got, want) {
				t.Errorf("cut pairs %v, want %v", got, want)
			}
			for _, a := range Nodes {
				for _, b := range Nodes {
					if tc.s.Reaches(a, b) != tc.s.Reaches(b, a) {
						t.Errorf("Reaches(%s, %s) is not symmetric", a, b)
					}
				}
			}
		})
	}
}
