package witness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			t.Fatal(err)
		}
		return p
	}
	const s = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
	for name, tc := range map[string]struct {
		path string
		want string // the secret, or a part of the error
		ok   bool
	}{
		"plain":             {write("plain", s, 0o600), s, true},
		"trailing newline":  {write("nl", s+"\n", 0o600), s, true},
		"CRLF":              {write("crlf", s+"\r\n", 0o400), s, true},
		"inner spaces kept": {write("sp", " "+s+" x\n", 0o600), " " + s + " x", true},
		"missing":           {filepath.Join(dir, "nope"), "no such file", false},
		"empty":             {write("empty", "", 0o600), "is empty", false},
		"only a newline":    {write("newline", "\n", 0o600), "is empty", false},
		"short":             {write("short", "hunter2\n", 0o600), "only 7 bytes", false},
		"group-readable":    {write("group", s, 0o640), "mode 0640", false},
		"world-readable":    {write("world", s, 0o604), "mode 0604", false},
		"group-writable":    {write("gw", s, 0o620), "mode 0620", false},
		"directory":         {dir, "not a regular file", false},
		"too big":           {write("big", strings.Repeat("x", MaxSecret+1), 0o600), "larger than", false},
		"no path":           {"", "no secret file", false},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ReadSecretFile(tc.path)
			if tc.ok {
				if err != nil || string(got) != tc.want {
					t.Fatalf("got %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), s) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}
