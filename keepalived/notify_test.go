package keepalived

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want Notify
		bad  bool
	}{
		{args: []string{"INSTANCE", "VI_REDIS", "MASTER", "100"}, want: Notify{"INSTANCE", "VI_REDIS", StateMaster, 100}},
		{args: []string{"GROUP", "G1", "BACKUP", "0"}, want: Notify{"GROUP", "G1", StateBackup, 0}},
		{args: []string{"INSTANCE", "VI_1", "FAULT"}, want: Notify{"INSTANCE", "VI_1", StateFault, 0}},
		{args: []string{"instance", `"VI_1"`, "stop", "255"}, want: Notify{"INSTANCE", "VI_1", StateStop, 255}},
		{args: []string{"INSTANCE", "VI_1", "DELETED", "10"}, want: Notify{"INSTANCE", "VI_1", StateDeleted, 10}},
		{args: nil, bad: true},
		{args: []string{"INSTANCE", "VI_1"}, bad: true},
		{args: []string{"VS", "VI_1", "MASTER", "1"}, bad: true},
		{args: []string{"INSTANCE", "", "MASTER", "1"}, bad: true},
		{args: []string{"INSTANCE", "VI_1", "PRIMARY", "1"}, bad: true},
		{args: []string{"INSTANCE", "VI_1", "MASTER", "256"}, bad: true},
		{args: []string{"INSTANCE", "VI_1", "MASTER", "x"}, bad: true},
		{args: []string{"INSTANCE", "VI_1", "MASTER", "1", "extra"}, bad: true},
	}
	for _, tt := range tests {
		got, err := ParseArgs(tt.args)
		if tt.bad {
			if !errors.Is(err, ErrBadNotify) {
				t.Errorf("ParseArgs(%q) err = %v, want ErrBadNotify", tt.args, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want Notify
		bad  bool
	}{
		{line: `INSTANCE "VI_REDIS" MASTER 100`, want: Notify{"INSTANCE", "VI_REDIS", StateMaster, 100}},
		{line: `INSTANCE "with space" BACKUP 90` + "\n", want: Notify{"INSTANCE", "with space", StateBackup, 90}},
		{line: `GROUP G1 FAULT 0`, want: Notify{"GROUP", "G1", StateFault, 0}},
		{line: `INSTANCE "VI_1 MASTER 100`, bad: true},
		{line: `INSTANCE`, bad: true},
		{line: `INSTANCE "" MASTER 1`, bad: true},
		{line: ``, bad: true},
	}
	for _, tt := range tests {
		got, err := ParseLine(tt.line)
		if tt.bad {
			if !errors.Is(err, ErrBadNotify) {
				t.Errorf("ParseLine(%q) err = %v, want ErrBadNotify", tt.line, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestReadFIFOKeepsOrderAndSkipsBadLines(t *testing.T) {
	in := "INSTANCE \"A\" BACKUP 100\nnonsense\n\nINSTANCE \"A\" MASTER 100\nINSTANCE \"B\" FAULT 0\n"
	var got []string
	var bad []string
	err := ReadFIFO(context.Background(), strings.NewReader(in),
		func(n Notify) { got = append(got, n.Name+":"+string(n.State)) },
		func(line string, err error) { bad = append(bad, line) })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "A:BACKUP,A:MASTER,B:FAULT" {
		t.Errorf("order = %v", got)
	}
	if len(bad) != 1 || bad[0] != "nonsense" {
		t.Errorf("bad = %q", bad)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{`INSTANCE "VI_1" MASTER 100`, `GROUP G BACKUP 0`, `INSTANCE "a b" FAULT 255`, `"`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		n, err := ParseLine(line)
		if err != nil {
			if !errors.Is(err, ErrBadNotify) {
				t.Fatalf("error not ErrBadNotify: %v", err)
			}
			return
		}
		if n.Name == "" || n.Priority < 0 || n.Priority > 255 {
			t.Fatalf("accepted invalid %+v from %q", n, line)
		}
		// A parsed line re-formatted parses to the same value (names without quotes inside).
		if !strings.Contains(n.Name, `"`) {
			again, err := ParseLine(n.Type + ` "` + n.Name + `" ` + string(n.State) + " " + itoa(n.Priority))
			if err != nil || again != n {
				t.Fatalf("round trip %+v -> %+v, %v", n, again, err)
			}
		}
	})
}

func FuzzParseArgs(f *testing.F) {
	f.Add("INSTANCE", "VI_1", "MASTER", "100")
	f.Add("GROUP", "\"g\"", "stop", "")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		args := []string{a, b, c}
		if d != "" {
			args = append(args, d)
		}
		if _, err := ParseArgs(args); err != nil && !errors.Is(err, ErrBadNotify) {
			t.Fatalf("error not ErrBadNotify: %v", err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
