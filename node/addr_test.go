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
