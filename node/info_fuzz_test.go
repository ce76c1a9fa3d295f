package node

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseInfo: ParseInfo never panics; on error it returns zero Facts; when
// it parses, the role is master or replica, the key count is not negative,
// and neither line endings nor an extra unknown field change the result.
func FuzzParseInfo(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(infoDir, "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in %s: %v", infoDir, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, tc := range fixtureCases {
		if tc.extra != "" {
			f.Add(readInfo(f, tc.file) + "\n" + tc.extra)
		}
	}
	f.Add(minimal)
	f.Add(minimal + "db0:keys=1,expires=0\r\nslave0:ip=::1,port=1,state=online,offset=2,lag=3\r\n")
	f.Add("redis_version:7.2.4\nvalkey_version:8.0.1\nrole:slave\nmaster_host:::1\nmaster_port:6379\n")
	f.Add("")

	f.Fuzz(func(t *testing.T, text string) {
		facts, err := ParseInfo(text)
		if err != nil {
			if !reflect.DeepEqual(facts, Facts{}) {
				t.Fatalf("error %v came with facts %+v", err, facts)
			}
			return
		}
		if facts.Role != RoleMaster && facts.Role != RoleReplica {
			t.Fatalf("role %q", facts.Role)
		}
		if facts.Keys < 0 {
			t.Fatalf("keys %d", facts.Keys)
		}
		if facts.ServerName == "" {
			t.Fatal("no server name")
		}
		if facts.Version.Major < 0 || facts.Version.Minor < 0 || facts.Version.Patch < 0 {
			t.Fatalf("version %v", facts.Version)
		}
		crlf := strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
		again, err := ParseInfo(crlf)
		if err != nil || !reflect.DeepEqual(again, facts) {
			t.Fatalf("CRLF changes the result: %v\n%+v\n%+v", err, again, facts)
		}
		more, err := ParseInfo(text + "\nzz_unknown_field:1\n")
		if err != nil || !reflect.DeepEqual(more, facts) {
			t.Fatalf("an unknown field changes the result: %v", err)
		}
	})
}
