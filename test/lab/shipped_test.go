package lab

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The shipped keepalived configurations, rewritten for the lab: every path
// in the lab dir, the variants' changes.
func TestWriteKeepalivedConf(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want map[string][]string // host: lines (regexps) that must be there
		not  []string            // in neither host's file (but its comments)
	}{
		{"hooks shipped", Options{},
			map[string][]string{"h1": {`(?m)^\s*priority 250$`, `(?m)^\s*nopreempt$`, `(?m)^\s*fall 2$`, `(?m)^\s*script_user redis-vip$`, `notify_master "DIR/bin/redis-vip notify-master --config DIR/h1/etc/redis-vip.yml`},
				"h2": {`(?m)^\s*priority 250$`, `unicast_src_ip 192.0.2.12`}},
			[]string{"/usr/bin/", "/var/lib/redis-vip", "/etc/redis-vip/", "/run/keepalived-redis-vip.fifo"}},
		{"fifo tuned preempt", Options{Notify: "fifo", Profile: "tuned", Preempt: true, ScriptUser: "root"},
			map[string][]string{"h1": {`(?m)^\s*priority 250$`, `(?m)^\s*fall 1$`, `(?m)^\s*rise 1$`, `(?m)^\s*script_user root$`, `vrrp_notify_fifo DIR/h1/run/notify.fifo root`, `file "DIR/h1/state/redis6379.down"`},
				"h2": {`(?m)^\s*priority 240$`, `file "DIR/h2/state/redis6379.switchover"`}},
			[]string{"nopreempt\n", "fall 2", "/usr/bin/", "/var/lib/redis-vip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Dir = t.TempDir()
			l := New(tc.o)
			for _, h := range Hosts {
				if err := os.MkdirAll(filepath.Join(l.HostDir(h), "etc"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := l.writeKeepalivedConf(h); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(l.KeepalivedConf(h))
				if err != nil {
					t.Fatal(err)
				}
				conf := strings.ReplaceAll(string(b), tc.o.Dir, "DIR")
				for _, re := range tc.want[h] {
					if !regexp.MustCompile(re).MatchString(conf) {
						t.Errorf("%s: no %q in\n%s", h, re, conf)
					}
				}
				code := regexp.MustCompile(`(?m)^\s*#.*\n`).ReplaceAllString(conf, "")
				for _, s := range tc.not {
					if strings.Contains(code, s) {
						t.Errorf("%s: %q left in the file", h, s)
					}
				}
			}
		})
	}
}

// redis.conf: h2 installed as h1's replica, guard's include on the last line.
func TestWriteRedisConf(t *testing.T) {
	for _, include := range []string{"cmdline", "conf"} {
		l := New(Options{Dir: t.TempDir(), Include: include})
		for _, h := range Hosts {
			if err := os.MkdirAll(filepath.Join(l.HostDir(h), "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := l.writeRedisConf(h); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(l.HostDir(h), "etc", "redis.conf"))
			if err != nil {
				t.Fatal(err)
			}
			conf := string(b)
			lines := strings.Split(strings.TrimSpace(conf), "\n")
			if last := lines[len(lines)-1]; last != "include "+l.guardInclude(h) {
				t.Errorf("%s %s: last line %q", include, h, last)
			}
			if got := strings.Contains(conf, "\nreplicaof 192.0.2.11 6379\n"); got != (h == "h2") {
				t.Errorf("%s %s: replicaof line present=%v", include, h, got)
			}
			if !strings.Contains(conf, "\nbind 127.0.0.1 "+Addr[h]+" "+VIP+"\n") || !strings.Contains(conf, "\nsave 5 1 60 100\n") {
				t.Errorf("%s %s: bind or save rules missing:\n%s", include, h, conf)
			}
		}
	}
}
