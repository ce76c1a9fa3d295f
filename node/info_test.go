package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const infoDir = "testdata/info"

// readInfo returns the text of one INFO fixture.
func readInfo(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(infoDir, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return string(b)
}

// mustFacts parses one fixture that must parse.
func mustFacts(t testing.TB, name string) Facts {
	t.Helper()
	f, err := ParseInfo(readInfo(t, name))
	if err != nil {
		t.Fatalf("ParseInfo(%s): %v", name, err)
	}
	return f
}

// diffFacts names the fields that differ, with both values.
func diffFacts(got, want Facts) []string {
	var out []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s: got %+v, want %+v", gv.Type().Field(i).Name, g, w))
		}
	}
	return out
}

// base is the Facts a parse starts from: the defaults ParseInfo fills in
// before reading any line.
func base(f Facts) Facts {
	if f.MasterLinkDownSecs == 0 {
		f.MasterLinkDownSecs = -1
	}
	return f
}

const zeroID = "0000000000000000000000000000000000000000"

func unix(n int64) time.Time { return time.Unix(n, 0).UTC() }

// fixtureCases has one row per file in testdata/info. extra is appended to
// the file before parsing: the role or version line a partial published
// output lacks (its .source file says where the value comes from).
var fixtureCases = []struct {
	file  string
	extra string
	want  Facts
}{
	{
		file: "redis-7.0.15-master-empty.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "3cc137db913a4a8183495efb10b8a50101691a9c",
			Role:  RoleMaster, FailoverState: "no-failover",
			ReplID: "c221544865a73df65e32e60936307331007096b6", ReplID2: zeroID,
			ReplOffset: 0, SecondReplOffset: -1,
			RDBLastSave: unix(1795294272), RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-master-aof.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "0cafc4dbc12d82a6e1d9c76adcd5142cc4d8c881",
			Role:  RoleMaster, FailoverState: "no-failover",
			ReplID: "cedfb1e3c3e9b5b5b1ffc8027da41cb4463964b5", ReplID2: zeroID,
			SecondReplOffset: -1, Keys: 1004, AOFEnabled: true,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 6, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-master-with-replica.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "b089197d5aa97a9f1e1ed0d49abdfabb3cc108e6", Uptime: 5,
			Role:          RoleMaster,
			Replicas:      []Replica{{IP: "127.0.0.1", Port: 22465, State: "online", Offset: 60, Lag: 0}},
			FailoverState: "no-failover",
			ReplID:        "fa66eb8197129ea984c7f0da6cccb62aad7e2810", ReplID2: zeroID,
			ReplOffset: 60, SecondReplOffset: -1, Keys: 1005,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 60,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 7, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-replica-in-sync.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "e5872f2e41fa2619fba3cdde63bb9afa9b512672", Uptime: 5,
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 23559, MasterLinkUp: true,
			FailoverState: "no-failover",
			ReplID:        "fa66eb8197129ea984c7f0da6cccb62aad7e2810", ReplID2: zeroID,
			ReplOffset: 60, SecondReplOffset: -1, Keys: 1005,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 60,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 1, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-master-with-two-replicas.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "b089197d5aa97a9f1e1ed0d49abdfabb3cc108e6", Uptime: 10,
			Role: RoleMaster,
			Replicas: []Replica{
				{IP: "127.0.0.1", Port: 22465, State: "online", Offset: 74},
				{IP: "127.0.0.1", Port: 33316, State: "online", Offset: 74},
			},
			FailoverState: "no-failover",
			ReplID:        "fa66eb8197129ea984c7f0da6cccb62aad7e2810", ReplID2: zeroID,
			ReplOffset: 74, SecondReplOffset: -1, Keys: 1005,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 74,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 7, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-master-failover-waiting-for-sync.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "b089197d5aa97a9f1e1ed0d49abdfabb3cc108e6", Uptime: 10,
			Role:          RoleMaster,
			Replicas:      []Replica{{IP: "127.0.0.1", Port: 22465, State: "online", Offset: 74}},
			FailoverState: "waiting-for-sync",
			ReplID:        "fa66eb8197129ea984c7f0da6cccb62aad7e2810", ReplID2: zeroID,
			ReplOffset: 130, SecondReplOffset: -1, Keys: 1006,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 130,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 8, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		// Mid-FAILOVER the old master already reports role:slave of the
		// target, link down, while still listing the target as its replica.
		file: "redis-7.0.15-master-failover-in-progress.txt",
		want: Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "b089197d5aa97a9f1e1ed0d49abdfabb3cc108e6", Uptime: 12,
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 22465,
			MasterLastIOSecsAgo: -1, MasterLinkDownSecs: -1,
			Replicas:      []Replica{{IP: "127.0.0.1", Port: 22465, State: "online", Offset: 74, Lag: 2}},
			FailoverState: "failover-in-progress",
			ReplID:        "fa66eb8197129ea984c7f0da6cccb62aad7e2810", ReplID2: zeroID,
			ReplOffset: 130, SecondReplOffset: -1, Keys: 1006,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 130,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 8, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		},
	},
	{
		file: "redis-7.0.15-replica-promoted-by-failover.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "e5872f2e41fa2619fba3cdde63bb9afa9b512672", Uptime: 13,
			Role:          RoleMaster,
			Replicas:      []Replica{{IP: "127.0.0.1", Port: 23559, State: "online", Offset: 194}},
			FailoverState: "no-failover",
			ReplID:        "f580c85d8d6a80fbb3f6e77feedec686bdd579f4", ReplID2: "fa66eb8197129ea984c7f0da6cccb62aad7e2810",
			ReplOffset: 194, SecondReplOffset: 131, Keys: 1007,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 194,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 3, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-master-demoted-by-failover.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "b089197d5aa97a9f1e1ed0d49abdfabb3cc108e6", Uptime: 13,
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 22465, MasterLinkUp: true,
			MasterLastIOSecsAgo: 1,
			FailoverState:       "no-failover",
			ReplID:              "f580c85d8d6a80fbb3f6e77feedec686bdd579f4", ReplID2: "fa66eb8197129ea984c7f0da6cccb62aad7e2810",
			ReplOffset: 194, SecondReplOffset: 131, Keys: 1007,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 194,
			RDBLastSave: unix(1795294272), RDBChangesSinceSave: 9, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.15-replica-link-down.txt",
		want: Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "75ad05022d9445b265cde341e15fd28673f6b79b", Uptime: 5,
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 38261,
			MasterLastIOSecsAgo: -1, MasterLinkDownSecs: 0,
			FailoverState: "no-failover",
			ReplID:        "2d3b316d9abc263cb5257ddd4ea8f00b1fec72ec", ReplID2: zeroID,
			ReplOffset: 61, SecondReplOffset: -1, Keys: 1005,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 61,
			RDBLastSave: unix(1795294285), RDBChangesSinceSave: 1, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		},
	},
	{
		file: "redis-7.0.15-replica-promoted.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "75ad05022d9445b265cde341e15fd28673f6b79b", Uptime: 5,
			Role: RoleMaster, FailoverState: "no-failover",
			ReplID: "016e88185fbc73ddaca4c9839001f5f2703caa0e", ReplID2: "2d3b316d9abc263cb5257ddd4ea8f00b1fec72ec",
			ReplOffset: 126, SecondReplOffset: 62, Keys: 1006,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 126,
			RDBLastSave: unix(1795294285), RDBChangesSinceSave: 2, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		// A replica loading a full sync keeps its own fresh replid and offset 0
		// until the load ends; the keyspace shows the keys loaded so far.
		file: "redis-7.0.15-replica-loading.txt",
		want: Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "6dcd7eb1d8420b02b1df74a5a7c8a5f7ddb907f6", Uptime: 6, Loading: true,
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 30608,
			MasterSyncInProgress: true, MasterLastIOSecsAgo: -1, MasterLinkDownSecs: -1,
			FailoverState: "no-failover",
			ReplID:        "9b6e37445545e3be27dbf352b45073471430192a", ReplID2: zeroID,
			ReplOffset: 0, SecondReplOffset: -1, Keys: 311464,
			RDBLastSave: unix(1795294291), RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		},
	},
	{
		file: "redis-7.0.15-master-loading.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 15},
			RunID: "f6c3cad176f254926751a62b70cdd2fdb45dc093", Uptime: 1, Loading: true,
			Role: RoleMaster, FailoverState: "no-failover",
			ReplID: "8408037ee9cbbdfbc3d042d284b6f5e6dbe48ae6", ReplID2: zeroID,
			SecondReplOffset: -1, Keys: 498356,
			BacklogActive: true, BacklogFirstByte: 1,
			RDBLastSave: unix(1795294298), RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-5.0.6-master-promoted-two-replicas.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{5, 0, 6},
			RunID: "088c4d4f1a2d405c5efbd2bc817cb90fc7ea4beb", Uptime: 324300,
			ConfigFile: "/data/conf/redis.conf",
			Role:       RoleMaster,
			Replicas: []Replica{
				{IP: "10.111.179.178", Port: 6379, State: "online", Offset: 1332660983},
				{IP: "10.98.125.94", Port: 6379, State: "online", Offset: 1332660983},
			},
			GoodReplicas: 2, GoodReplicasCounted: true,
			ReplID: "7f1074e6bfcccc057654c286ae9281b71d8edda0", ReplID2: "ee8596993dd6a4ea403df2728166bbd092be62c2",
			ReplOffset: 1332661125, SecondReplOffset: 1292024488,
			BacklogActive: true, BacklogFirstByte: 1331612550, BacklogHistLen: 1048576,
			RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file:  "redis-6.0.6-server-only.txt",
		extra: "role:master\n",
		want: base(Facts{
			ServerName: "redis", Version: Version{6, 0, 6},
			RunID: "a0f53a2c7fb96924ccafb43594b42c47c176376e", Uptime: 300196,
			Role:             RoleMaster,
			SecondReplOffset: -1, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file:  "redis-6.2.1-master-replication-keyspace.txt",
		extra: "redis_version:6.2.1\n",
		want: base(Facts{
			ServerName: "redis", Version: Version{6, 2, 1},
			Role: RoleMaster, FailoverState: "no-failover",
			ReplID: "d9d402f299d106fea2ce1907f275d6c783ff3672", ReplID2: zeroID,
			SecondReplOffset: -1, Keys: 1401,
			RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file: "redis-7.0.12-master-promoted-two-replicas.txt",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 0, 12},
			RunID: "f8bf7497fa785e7ca4ccb8e904aab19528962d92", Uptime: 747703,
			ConfigFile: "/app/bocz/redis-7.0.12/redis.conf",
			Role:       RoleMaster,
			Replicas: []Replica{
				{IP: "192.168.115.96", Port: 36379, State: "online", Offset: 17825355194},
				{IP: "192.168.115.97", Port: 36379, State: "online", Offset: 17825355194},
			},
			FailoverState: "no-failover",
			ReplID:        "3ed70f293717e46498d02e35be30ccd339562b10", ReplID2: "3342620b8e2d64b5bac978afa7a164c0da4e0808",
			ReplOffset: 17825360038, SecondReplOffset: 10585353633,
			BacklogActive: true, BacklogFirstByte: 17824306745, BacklogHistLen: 1053294,
			RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file:  "redis-7.2.4-master-two-replicas-replication-only.txt",
		extra: "redis_version:7.2.4\n",
		want: base(Facts{
			ServerName: "redis", Version: Version{7, 2, 4},
			Role: RoleMaster,
			Replicas: []Replica{
				{IP: "192.168.0.200", Port: 6381, State: "online", Offset: 112, Lag: 1},
				{IP: "192.168.0.200", Port: 6380, State: "online", Offset: 112, Lag: 1},
			},
			FailoverState: "no-failover",
			ReplID:        "11ccc77e30f5ac466f92c53cf4db287054ee727f", ReplID2: zeroID,
			ReplOffset: 112, SecondReplOffset: -1,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 112,
			RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		// Valkey 8 says redis_version:7.2.4; valkey_version is the real one.
		file: "valkey-8.0.1-master-empty.txt",
		want: base(Facts{
			ServerName: "valkey", Version: Version{8, 0, 1},
			RunID: "7769484dff765d89925a5dd005713fbda9f62d53", Uptime: 179,
			ConfigFile: "/etc/valkey/valkey.conf",
			Role:       RoleMaster, FailoverState: "no-failover",
			ReplID: "97096db9bcf142ac3672a8889244121130c6a3a9", ReplID2: zeroID,
			SecondReplOffset: -1,
			RDBLastSave:      unix(1732878260), RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
	{
		file:  "valkey-8.1.1-server-only.txt",
		extra: "role:master\n",
		want: base(Facts{
			ServerName: "valkey", Version: Version{8, 1, 1},
			RunID: "db51448e49fb73ce02ccbab88ff56f6eddef6a90",
			Role:  RoleMaster, SecondReplOffset: -1, RDBLastBgsaveOK: true, AOFLastWriteOK: true,
		}),
	},
}

func TestParseInfoTestdata(t *testing.T) {
	for _, tc := range fixtureCases {
		t.Run(strings.TrimSuffix(tc.file, ".txt"), func(t *testing.T) {
			text := readInfo(t, tc.file)
			if tc.extra != "" {
				// A partial output is not INFO on its own.
				if _, err := ParseInfo(text); !errors.Is(err, ErrNotInfo) {
					t.Fatalf("partial file alone: err = %v, want ErrNotInfo", err)
				}
				text += "\n" + tc.extra
			}
			for name, variant := range lineEndingVariants(text) {
				got, err := ParseInfo(variant)
				if err != nil {
					t.Fatalf("%s: ParseInfo: %v", name, err)
				}
				for _, d := range diffFacts(got, tc.want) {
					t.Errorf("%s: %s", name, d)
				}
			}
		})
	}
}

// lineEndingVariants gives the text as stored, with LF only, and with CRLF only.
func lineEndingVariants(text string) map[string]string {
	lf := strings.ReplaceAll(text, "\r\n", "\n")
	return map[string]string{
		"as-stored": text,
		"lf":        lf,
		"crlf":      strings.ReplaceAll(lf, "\n", "\r\n"),
	}
}

// Every fixture must have a row, so a new capture cannot go untested.
func TestParseInfoTestdataCoversEveryFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(infoDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("glob fixtures: %v (%d files)", err, len(files))
	}
	rows := map[string]bool{}
	for _, tc := range fixtureCases {
		rows[tc.file] = true
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !rows[name] {
			t.Errorf("%s has no row in fixtureCases", name)
		}
		if !strings.HasPrefix(name, "redis-7.0.15-") {
			if _, err := os.Stat(strings.TrimSuffix(f, ".txt") + ".source"); err != nil {
				t.Errorf("%s: published output without a .source sidecar", name)
			}
		}
	}
}

// The local captures are byte for byte what Client.Facts reads: CRLF lines.
func TestLocalCapturesKeepCRLF(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(infoDir, "redis-7.0.15-*.txt"))
	for _, f := range files {
		text := readInfo(t, filepath.Base(f))
		if !strings.Contains(text, "# Server\r\n") || !strings.Contains(text, "\r\n\n# Replication\r\n") {
			t.Errorf("%s: not in the Client.Facts layout (CRLF sections joined by LF)", filepath.Base(f))
		}
	}
}

// Fields may come in any order: sections shuffled, lines reversed.
func TestParseInfoAnyOrder(t *testing.T) {
	for _, name := range []string{
		"redis-7.0.15-master-with-two-replicas.txt",
		"redis-7.0.15-replica-loading.txt",
		"redis-7.0.15-replica-promoted-by-failover.txt",
		"valkey-8.0.1-master-empty.txt",
	} {
		t.Run(name, func(t *testing.T) {
			want := mustFacts(t, name)
			lines := strings.Split(readInfo(t, name), "\n")
			for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
				lines[i], lines[j] = lines[j], lines[i]
			}
			got, err := ParseInfo(strings.Join(lines, "\n"))
			if err != nil {
				t.Fatalf("reversed: %v", err)
			}
			// Replicas are listed in text order; compare them as a set.
			sortReplicas(got.Replicas)
			sortReplicas(want.Replicas)
			for _, d := range diffFacts(got, want) {
				t.Error(d)
			}
		})
	}
}

func sortReplicas(rs []Replica) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Addr().String() < rs[j].Addr().String() })
}

// minimal is the least text ParseInfo accepts.
const minimal = "redis_version:7.0.15\r\nrole:master\r\n"

func TestParseInfoMalformed(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		notInfo bool   // want ErrNotInfo
		errHas  string // else the error must mention this
	}{
		{name: "empty", text: "", notInfo: true},
		{name: "only newlines", text: "\r\n\n\r\n", notInfo: true},
		{name: "garbage", text: "hello world\x00\xff\xfe\n-ERR nope\n$5\r\n", notInfo: true},
		{name: "section headers only", text: "# Server\r\n# Replication\r\n# Keyspace\r\n", notInfo: true},
		{name: "an error reply", text: "-NOAUTH Authentication required.\r\n", notInfo: true},
		{name: "missing role", text: "redis_version:7.0.15\r\nconnected_slaves:0\r\n", notInfo: true},
		{name: "empty role", text: "redis_version:7.0.15\r\nrole:\r\n", notInfo: true},
		{name: "missing version", text: "role:master\r\nmaster_repl_offset:5\r\n", notInfo: true},
		{name: "role with no colon", text: "redis_version:7.0.15\r\nrole master\r\n", notInfo: true},
		{name: "sentinel INFO", text: "# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\n# Sentinel\r\nsentinel_masters:1\r\n", notInfo: true},
		{name: "unknown role", text: "redis_version:7.0.15\r\nrole:sentinel\r\n", errHas: "unknown role"},
		{name: "role with trailing space", text: "redis_version:7.0.15\r\nrole:master \r\n", errHas: "unknown role"},
		{name: "non-numeric offset", text: minimal + "master_repl_offset:abc\r\n", errHas: "master_repl_offset"},
		{name: "empty offset", text: minimal + "master_repl_offset:\r\n", errHas: "master_repl_offset"},
		{name: "offset overflows int64", text: minimal + "master_repl_offset:99999999999999999999\r\n", errHas: "master_repl_offset"},
		{name: "float offset", text: minimal + "master_repl_offset:1.5\r\n", errHas: "master_repl_offset"},
		{name: "non-numeric second_repl_offset", text: minimal + "second_repl_offset:x\r\n", errHas: "second_repl_offset"},
		{name: "non-numeric master_port", text: minimal + "master_port:six\r\n", errHas: "master_port"},
		{name: "non-numeric uptime", text: minimal + "uptime_in_seconds:long\r\n", errHas: "uptime_in_seconds"},
		{name: "loading not 0/1", text: minimal + "loading:yes\r\n", errHas: "loading"},
		{name: "loading 2", text: minimal + "loading:2\r\n", errHas: "loading"},
		{name: "sync in progress not 0/1", text: minimal + "master_sync_in_progress:maybe\r\n", errHas: "master_sync_in_progress"},
		{name: "aof_enabled not 0/1", text: minimal + "aof_enabled:on\r\n", errHas: "aof_enabled"},
		{name: "negative keys", text: minimal + "db0:keys=-1,expires=0,avg_ttl=0\r\n", errHas: "negative"},
		{name: "non-numeric keys", text: minimal + "db0:keys=lots,expires=0\r\n", errHas: "db0"},
		{name: "db line without keys", text: minimal + "db0:expires=1,avg_ttl=0\r\n", errHas: "db0"},
		{name: "replica line bad port", text: minimal + "slave0:ip=10.0.0.1,port=x,state=online,offset=1,lag=0\r\n", errHas: "slave0"},
		{name: "replica line bad offset", text: minimal + "slave0:ip=10.0.0.1,port=6379,state=online,offset=,lag=0\r\n", errHas: "slave0"},
		{name: "replica line bad lag", text: minimal + "slave0:ip=10.0.0.1,port=6379,state=online,offset=1,lag=-x\r\n", errHas: "slave0"},
		{name: "non-numeric version", text: "redis_version:seven\r\nrole:master\r\n", errHas: "version"},
		{name: "bad valkey version wins over redis_version", text: "redis_version:7.2.4\r\nvalkey_version:eight\r\nrole:master\r\n", errHas: "version"},
		{name: "bad field after a good one", text: minimal + "master_repl_offset:10\r\nsecond_repl_offset:oops\r\n", errHas: "second_repl_offset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseInfo(tc.text)
			if err == nil {
				t.Fatalf("ParseInfo accepted it: %+v", f)
			}
			if !reflect.DeepEqual(f, Facts{}) {
				t.Errorf("facts on error = %+v, want zero Facts", f)
			}
			if tc.notInfo {
				if !errors.Is(err, ErrNotInfo) {
					t.Errorf("err = %v, want ErrNotInfo", err)
				}
				return
			}
			if errors.Is(err, ErrNotInfo) {
				t.Errorf("err = %v: a malformed field is not ErrNotInfo", err)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("err = %v, want it to mention %q", err, tc.errHas)
			}
		})
	}
}

func TestParseInfoAccepted(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		check func(t *testing.T, f Facts)
	}{
		{
			name: "unknown fields and look-alike keys are ignored",
			text: minimal + "future_field:1\r\nslaves:3\r\nslave:1\r\nslave_repl_offset:77\r\nslave0x:ip=1\r\n" +
				"slave_read_repl_offset:9\r\ndb:keys=5\r\ndbx:keys=6\r\ndb0a:keys=7\r\nmaster_replid_new:zz\r\n" +
				"replicas_waiting_psync:0\r\nlistener0:name=tcp,bind=*,port=6379\r\nmodule:name=lua,ver=1\r\n",
			check: func(t *testing.T, f Facts) {
				if len(f.Replicas) != 0 || f.Keys != 0 || f.ReplID != "" || f.ReplOffset != 0 {
					t.Errorf("look-alike keys were read: %+v", f)
				}
			},
		},
		{
			name: "lines without a colon are skipped",
			text: "garbage line\r\n" + minimal + "another one\r\n \r\n\t\r\n",
			check: func(t *testing.T, f Facts) {
				if f.Role != RoleMaster {
					t.Errorf("role = %q", f.Role)
				}
			},
		},
		{
			name: "keys summed over databases; extra keyspace fields ignored",
			text: minimal + "db0:keys=2,expires=0,avg_ttl=0\r\ndb15:keys=3,expires=1,avg_ttl=5,subexpiry=0\r\ndb3:expires=0,keys=10\r\n",
			check: func(t *testing.T, f Facts) {
				if f.Keys != 15 || f.Empty() {
					t.Errorf("keys = %d empty = %v, want 15 false", f.Keys, f.Empty())
				}
			},
		},
		{
			name: "replica line with extra fields and fields in another order",
			text: minimal + "slave0:state=online,lag=1,offset=42,port=6380,ip=10.0.0.2,type=replica\r\n",
			check: func(t *testing.T, f Facts) {
				want := []Replica{{IP: "10.0.0.2", Port: 6380, State: "online", Offset: 42, Lag: 1}}
				if !reflect.DeepEqual(f.Replicas, want) {
					t.Errorf("replicas = %+v", f.Replicas)
				}
			},
		},
		{
			name: "IPv6 master host keeps its colons",
			text: "redis_version:7.0.15\nrole:slave\nmaster_host:2001:db8::1\nmaster_port:6379\nmaster_link_status:up\n",
			check: func(t *testing.T, f Facts) {
				if f.MasterHost != "2001:db8::1" || f.MasterAddr() != "[2001:db8::1]:6379" {
					t.Errorf("master = %q / %q", f.MasterHost, f.MasterAddr())
				}
			},
		},
		{
			name: "values with colons (executable, config file)",
			text: minimal + "executable:C:\\Redis\\redis-server.exe\r\nconfig_file:C:\\Redis\\redis.conf\r\n",
			check: func(t *testing.T, f Facts) {
				if f.ConfigFile != `C:\Redis\redis.conf` {
					t.Errorf("config file = %q", f.ConfigFile)
				}
			},
		},
		{
			name: "role slave and role replica both read as replica",
			text: "redis_version:7.0.15\nrole:replica\n",
			check: func(t *testing.T, f Facts) {
				if f.Role != RoleReplica {
					t.Errorf("role = %q", f.Role)
				}
			},
		},
		{
			name: "link status other than up is down; bgsave err and aof err are read",
			text: minimal + "master_link_status:connecting\r\nrdb_last_bgsave_status:err\r\naof_last_write_status:err\r\nrdb_bgsave_in_progress:1\r\n",
			check: func(t *testing.T, f Facts) {
				if f.MasterLinkUp || f.RDBLastBgsaveOK || f.AOFLastWriteOK || !f.RDBBgsaveInProgress {
					t.Errorf("got %+v", f)
				}
			},
		},
		{
			name: "rdb_last_save_time 0 leaves the time zero",
			text: minimal + "rdb_last_save_time:0\r\n",
			check: func(t *testing.T, f Facts) {
				if !f.RDBLastSave.IsZero() {
					t.Errorf("last save = %v", f.RDBLastSave)
				}
			},
		},
		{
			name: "numbers with surrounding spaces",
			text: minimal + "master_repl_offset: 12 \r\nloading: 0\r\n",
			check: func(t *testing.T, f Facts) {
				if f.ReplOffset != 12 {
					t.Errorf("offset = %d", f.ReplOffset)
				}
			},
		},
		{
			name: "mixed line endings, no final newline",
			text: "redis_version:6.2.6\r\nrole:master\nmaster_repl_offset:5\r\r\ndb0:keys=1",
			check: func(t *testing.T, f Facts) {
				if f.ReplOffset != 5 || f.Keys != 1 || f.Version != (Version{6, 2, 6}) {
					t.Errorf("got %+v", f)
				}
			},
		},
		{
			name: "valkey_version without server_name still names valkey",
			text: "redis_version:7.2.4\r\nvalkey_version:7.2.5\r\nrole:master\r\n",
			check: func(t *testing.T, f Facts) {
				if f.ServerName != "valkey" || f.Version != (Version{7, 2, 5}) {
					t.Errorf("server = %s %v", f.ServerName, f.Version)
				}
			},
		},
		{
			name: "later duplicate field wins",
			text: minimal + "master_repl_offset:5\r\nmaster_repl_offset:9\r\n",
			check: func(t *testing.T, f Facts) {
				if f.ReplOffset != 9 {
					t.Errorf("offset = %d", f.ReplOffset)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseInfo(tc.text)
			if err != nil {
				t.Fatalf("ParseInfo: %v", err)
			}
			tc.check(t, f)
		})
	}
}

// Keys is a sum over databases; a sum that wraps around int64 must be an
// error, or a node full of data can come out with Keys == 0, i.e. Empty().
func TestParseInfoKeysSumOverflow(t *testing.T) {
	text := minimal +
		"db0:keys=9223372036854775807,expires=0,avg_ttl=0\r\n" +
		"db1:keys=9223372036854775807,expires=0,avg_ttl=0\r\n" +
		"db2:keys=2,expires=0,avg_ttl=0\r\n"
	f, err := ParseInfo(text)
	if err == nil && (f.Keys <= 0 || f.Empty()) {
		t.Fatalf("ParseInfo accepted an overflowing key count: Keys=%d Empty=%v", f.Keys, f.Empty())
	}
}

func TestParseVersion(t *testing.T) {
	cases := []struct {
		in   string
		want Version
		bad  bool
	}{
		{in: "7.0.15", want: Version{7, 0, 15}},
		{in: "5.0.6", want: Version{5, 0, 6}},
		{in: "255.255.255", want: Version{255, 255, 255}},
		{in: "7.4.0-typescript-clone", want: Version{7, 4, 0}},
		{in: "8.1.0-rc1", want: Version{8, 1, 0}},
		{in: "7.0.15.1", want: Version{7, 0, 15}},
		{in: " 6.2.6 ", want: Version{6, 2, 6}},
		{in: "7.2", want: Version{7, 2, 0}},
		{in: "7", want: Version{7, 0, 0}},
		{in: "", bad: true},
		{in: "seven", bad: true},
		{in: "7.x.1", bad: true},
		{in: ".1.2", bad: true},
		{in: "99999999999999999999.0.0", bad: true},
	}
	for _, tc := range cases {
		got, err := ParseVersion(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestVersionAtLeastAndText(t *testing.T) {
	v := Version{6, 2, 14}
	for _, c := range []struct {
		major, minor int
		want         bool
	}{{6, 2, true}, {6, 0, true}, {5, 9, true}, {6, 3, false}, {7, 0, false}} {
		if got := v.AtLeast(c.major, c.minor); got != c.want {
			t.Errorf("%v.AtLeast(%d, %d) = %v", v, c.major, c.minor, got)
		}
	}
	b, err := v.MarshalText()
	if err != nil || string(b) != "6.2.14" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var back Version
	if err := back.UnmarshalText(b); err != nil || back != v {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("nope")); err == nil {
		t.Fatal("UnmarshalText accepted garbage")
	}
}

func TestFactsHelpers(t *testing.T) {
	replica := mustFacts(t, "redis-7.0.15-replica-in-sync.txt")
	replica.Addr = "127.0.0.1:30001"
	if !replica.InSync() || replica.Empty() {
		t.Errorf("in-sync replica: InSync=%v Empty=%v", replica.InSync(), replica.Empty())
	}
	if got := replica.MasterAddr(); got != "127.0.0.1:23559" || replica.Master() != (Addr{Host: "127.0.0.1", Port: 23559}) {
		t.Errorf("MasterAddr = %q", got)
	}
	want := "127.0.0.1:30001 replica keys=1005 replid=fa66eb81 offset=60 of=127.0.0.1:23559 link=up"
	if got := replica.Summary(); got != want {
		t.Errorf("Summary = %q\nwant      %q", got, want)
	}

	down := mustFacts(t, "redis-7.0.15-replica-link-down.txt")
	if down.InSync() || !strings.Contains(down.Summary(), "link=down") {
		t.Errorf("link-down replica: InSync=%v Summary=%q", down.InSync(), down.Summary())
	}
	loading := mustFacts(t, "redis-7.0.15-replica-loading.txt")
	if loading.InSync() || loading.Empty() || !strings.HasSuffix(loading.Summary(), " loading") {
		t.Errorf("loading replica: InSync=%v Empty=%v Summary=%q", loading.InSync(), loading.Empty(), loading.Summary())
	}

	master := mustFacts(t, "redis-7.0.15-master-empty.txt")
	if master.MasterAddr() != "" || master.InSync() || !master.Empty() {
		t.Errorf("empty master: MasterAddr=%q InSync=%v Empty=%v", master.MasterAddr(), master.InSync(), master.Empty())
	}
	if master.Master() != (Addr{}) {
		t.Errorf("empty master: Master = %+v", master.Master())
	}
	if r := (Replica{IP: "::1", Port: 6380}); r.Addr() != (Addr{Host: "::1", Port: 6380}) || r.Addr().String() != "[::1]:6380" {
		t.Errorf("Replica.Addr = %q", r.Addr())
	}
	if r := (Replica{}); r.Addr().String() != "" {
		t.Errorf("empty Replica.Addr = %q", r.Addr())
	}
}

func TestSameAddr(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:6379", "127.0.0.1:6379", true},
		{"[::1]:6379", "[0:0:0:0:0:0:0:1]:6379", true},
		{"[::ffff:192.0.2.1]:6379", "192.0.2.1:6379", true},
		{"localhost:6379", "localhost:6379", true},
		{"127.0.0.1:6379", "127.0.0.1:6380", false},
		{"localhost:6379", "127.0.0.1:6379", false},
		{"192.0.2.1", "192.0.2.1", false},
		{"", "", false},
	}
	for _, c := range cases {
		if got := SameAddr(c.a, c.b); got != c.want {
			t.Errorf("SameAddr(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
