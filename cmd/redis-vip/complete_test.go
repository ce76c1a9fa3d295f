package main

import (
	"strings"
	"testing"
)

// A completion request never runs the command it completes: whatever the
// shell hands over (a line holding "--", a line without urfave's flag at
// the end), `maintenance on` must not switch maintenance on. (urfave itself
// runs the command when "--" is on the line, with its completion flag as
// an argument. What the requests offer depends on os.Args and is tested
// with the built binary in test/packaging.)
func TestCompletionNeverRuns(t *testing.T) {
	conf := healthyPairConfig(t)
	line := []string{"__complete", "maintenance", "on", "--config", conf, "--reason", "completion"}
	cases := []struct {
		name string
		tail []string
		code int
	}{
		{name: "the command's flags", tail: []string{completionFlag}},
		{name: "completing --", tail: []string{"--", completionFlag}},
		{name: "arguments after --", tail: []string{"--", "x", completionFlag}},
		{name: "-- after urfave's flag", tail: []string{completionFlag, "--"}, code: 2},
		{name: "no completion flag", tail: nil, code: 2},
		{name: "nothing but the command", tail: []string{"--"}, code: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(append([]string{}, line...), tc.tail...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (%q, %q)", code, tc.code, out, errOut)
			}
			if strings.Contains(out, "maintenance on") {
				t.Errorf("the request printed %q", out)
			}
			if code, status, _ := runCLI(t, "maintenance", "status", "--config", conf); code != 0 || status != "pair: maintenance off\n" {
				t.Fatalf("after the request: maintenance status exit %d, %q: the completion ran the command", code, status)
			}
		})
	}
}
