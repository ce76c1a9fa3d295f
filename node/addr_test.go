package node

import "testing"

func TestParseAddr(t *testing.T) {
	good := map[string]Addr{
		"192.0.2.1:6379":      {"192.0.2.1", 6379},
		"[2001:db8::1]:6380":  {"2001:db8::1", 6380},
		"redis-a.test:1":      {"redis-a.test", 1},
		"192.0.2.1:65535":     {"192.0.2.1", 65535},
		"redis-b.example:443": {"redis-b.example", 443},
	}
	for in, want := range good {
		a, err := ParseAddr(in)
		if err != nil || a != want || a.String() != in {
			t.Errorf("ParseAddr(%q) = %+v (%s), %v", in, a, a, err)
		}
	}
	for _, in := range []string{"", "192.0.2.1", ":6379", "192.0.2.1:", "192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:-1", "2001:db8::1:6379", "192.0.2.1:port"} {
		if a, err := ParseAddr(in); err == nil {
			t.Errorf("ParseAddr(%q) = %+v: want an error", in, a)
		}
	}
	for in, a := range good {
		if !a.Valid() {
			t.Errorf("%s: not Valid", in)
		}
	}
	for _, a := range []Addr{{}, {Host: "192.0.2.1"}, {Port: 6379}, {"192.0.2.1", 65536}, {"192.0.2.1", -1}} {
		if a.Valid() {
			t.Errorf("%+v: Valid", a)
		}
	}
	if (Addr{}).String() != "" || !(Addr{}).IsZero() {
		t.Error("the zero Addr is not empty")
	}
	for in, want := range map[string]bool{"127.0.0.1:1": true, "localhost:1": true, "[::1]:1": true, "0.0.0.0:1": true, "192.0.2.1:1": false, "redis.test:1": false} {
		a, _ := ParseAddr(in)
		if a.IsLoopback() != want {
			t.Errorf("%s: IsLoopback %v", in, !want)
		}
	}
	a, _ := ParseAddr("[2001:db8::1]:6379")
	b, _ := ParseAddr("[2001:db8:0:0::1]:6379")
	if !a.Same(b) {
		t.Error("one IPv6 address spelled two ways is not the same")
	}
}

// Same keeps SameAddr's rules: equal IPs in any spelling are the same,
// hostnames compare as written, the port must match, and the zero Addr is
// the same as nothing (as "" was).
func TestAddrSame(t *testing.T) {
	cases := []struct {
		a, b Addr
		want bool
	}{
		{Addr{"127.0.0.1", 6379}, Addr{"127.0.0.1", 6379}, true},
		{Addr{"::1", 6379}, Addr{"0:0:0:0:0:0:0:1", 6379}, true},
		{Addr{"::ffff:192.0.2.1", 6379}, Addr{"192.0.2.1", 6379}, true},
		{Addr{"localhost", 6379}, Addr{"localhost", 6379}, true},
		{Addr{"127.0.0.1", 6379}, Addr{"127.0.0.1", 6380}, false},
		{Addr{"localhost", 6379}, Addr{"127.0.0.1", 6379}, false},
		{Addr{"Redis-A.test", 6379}, Addr{"redis-a.test", 6379}, false},
		{Addr{}, Addr{}, false},
		{Addr{}, Addr{"127.0.0.1", 6379}, false},
		{Addr{"127.0.0.1", 6379}, Addr{}, false},
		{Addr{Port: 6379}, Addr{Port: 6379}, false},
	}
	for _, c := range cases {
		if got := c.a.Same(c.b); got != c.want {
			t.Errorf("%+v.Same(%+v) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got, str := c.a.Same(c.b), SameAddr(c.a.String(), c.b.String()); got != str {
			t.Errorf("%+v.Same(%+v) = %v, SameAddr on the strings %v", c.a, c.b, got, str)
		}
	}
}
