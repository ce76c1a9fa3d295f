package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLicense checks the project's licence: LICENSE is the Apache License
// 2.0 word for word (Debian's copy, when there is one), and the package's
// copyright file is machine-readable (DEP-5) and says so for every file,
// with the short pointer to Debian's copy of the text.
func TestLicense(t *testing.T) {
	root := repoRoot(t)
	license := string(readFile(t, filepath.Join(root, "LICENSE")))
	if common, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0"); err == nil {
		if license != string(common) {
			t.Error("LICENSE differs from /usr/share/common-licenses/Apache-2.0")
		}
	} else if !strings.Contains(license, "Apache License\n                           Version 2.0, January 2004") {
		t.Error("LICENSE is not the Apache License 2.0")
	}

	copyright := string(readFile(t, filepath.Join(root, "packaging/deb/copyright")))
	var paras []map[string]string
	for _, p := range strings.Split(copyright, "\n\n") {
		fields := map[string]string{}
		key := ""
		for _, l := range strings.Split(strings.TrimSpace(p), "\n") {
			if strings.HasPrefix(l, " ") && key != "" {
				fields[key] += "\n" + strings.TrimPrefix(l, " ")
				continue
			}
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				t.Fatalf("copyright: not a field: %q", l)
			}
			key = k
			fields[k] = strings.TrimSpace(v)
		}
		paras = append(paras, fields)
	}
	if len(paras) != 3 {
		t.Fatalf("copyright has %d paragraphs, want header, Files: *, License: Apache-2.0", len(paras))
	}
	if paras[0]["Format"] != "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" || paras[0]["Upstream-Name"] != "redis-vip" {
		t.Errorf("copyright header: %v", paras[0])
	}
	if paras[1]["Files"] != "*" || paras[1]["License"] != "Apache-2.0" || paras[1]["Copyright"] == "" {
		t.Errorf("copyright Files: * paragraph: %v", paras[1])
	}
	text, ok := paras[2]["License"]
	if !ok || !strings.HasPrefix(text, "Apache-2.0\n") || !strings.Contains(text, `"/usr/share/common-licenses/Apache-2.0"`) {
		t.Errorf("copyright License paragraph: %q", text)
	}
	if !strings.Contains(paras[0]["Comment"], "THIRD-PARTY-NOTICES") {
		t.Error("copyright does not point to the third-party notices")
	}
}
