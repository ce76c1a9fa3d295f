package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/redis-vip/redis-vip/config"
)

// The README's configuration reference names every setting, its flag and its
// environment variable, so it cannot silently fall behind the code.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range config.Settings {
		want := []string{"`" + s.Key + "`", s.Env()}
		if !s.EnvOnly {
			want = append(want, "--"+s.Flag())
		}
		for _, w := range want {
			if !strings.Contains(readme, w) {
				t.Errorf("README.md does not mention %s (setting %s)", w, s.Key)
			}
		}
	}
}
