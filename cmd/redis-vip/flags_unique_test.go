package main

import (
	"io"
	"testing"
)

// A setting whose flag name equals a command's own flag (the report's
// --vip, say) makes urfave refuse the whole command at run time: every
// command's flag names and aliases must be unique.
func TestFlagNamesUniquePerCommand(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, c := range app.Commands {
		seen := map[string]bool{}
		for _, f := range c.Flags {
			for _, n := range f.Names() {
				if seen[n] {
					t.Errorf("%s: flag --%s defined twice", c.Name, n)
				}
				seen[n] = true
			}
		}
	}
}
