package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// warn passes a warning to the Source's Warn, if any.
func (src Source) warn(format string, args ...any) {
	if src.Warn != nil {
		src.Warn(fmt.Sprintf(format, args...))
	}
}

// passwordHolders names the sections of the file that set password:
// ("defaults" and instance names), sorted.
func passwordHolders(defaults *yaml.Node, instances map[string]*yaml.Node) []string {
	has := func(n *yaml.Node) bool {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return false
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "password" && n.Content[i+1].Value != "" {
				return true
			}
		}
		return false
	}
	var out []string
	for name, n := range instances {
		if has(n) {
			out = append(out, "instance "+name)
		}
	}
	sort.Strings(out)
	if has(defaults) {
		out = append([]string{"defaults"}, out...)
	}
	return out
}

// warnPasswordInFile warns once when the configuration file holds a
// password itself: a file read by keepalived's script user, copied between
// hosts and shown in support requests is no place for it.
func warnPasswordInFile(src Source, path string, defaults *yaml.Node, instances map[string]*yaml.Node) {
	holders := passwordHolders(defaults, instances)
	if len(holders) == 0 {
		return
	}
	readable := ""
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o004 != 0 {
		readable = fmt.Sprintf(", and every user may read it (mode %04o)", st.Mode().Perm())
	}
	src.warn("%s holds the Redis password (password: in %s)%s: move it to a password_file only root and redis-vip may read (mode 0640)",
		path, strings.Join(holders, ", "), readable)
}

// readablePasswordFile is the warning for a password file every user may
// read ("" when it is not).
func readablePasswordFile(path string) string {
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o004 != 0 {
		return fmt.Sprintf("password_file %s is readable by every user (mode %04o): chmod o-r %s", path, st.Mode().Perm(), path)
	}
	return ""
}
