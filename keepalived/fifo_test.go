package keepalived

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/vrrp/fsm"
)

// fifoTarget records, on channels, when it is marked and when it runs;
// each run waits for the test's release.
type fifoTarget struct {
	name    string
	marked  chan string
	started chan string
	release chan error
}

func (f *fifoTarget) Supersede(ev transition.Event) error {
	f.marked <- f.name + ":" + string(ev)
	return nil
}

func (f *fifoTarget) Run(_ context.Context, ev transition.Event) error {
	f.started <- f.name + ":" + string(ev)
	return <-f.release
}

func TestServeFIFONewestWins(t *testing.T) {
	marked, started, release := make(chan string, 16), make(chan string), make(chan error)
	targets := map[string]*fifoTarget{}
	for _, n := range []string{"a", "b"} {
		targets[n] = &fifoTarget{name: n, marked: marked, started: started, release: release}
	}
	resolve := func(n Notify) (string, Target, error) {
		name := strings.ToLower(strings.TrimPrefix(n.Name, "VI_"))
		t, ok := targets[name]
		if !ok {
			return "", nil, fmt.Errorf("no instance for %s", n.Name)
		}
		return name, t, nil
	}
	core, logs := observer.New(zap.DebugLevel)
	pr, pw := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- ServeFIFO(context.Background(), pr, resolve, zap.New(core)) }()

	write := func(line string) {
		t.Helper()
		if _, err := io.WriteString(pw, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	write(`INSTANCE "VI_A" MASTER 100`)
	if got := <-marked; got != "a:master" {
		t.Fatalf("marked %s", got)
	}
	if got := <-started; got != "a:master" {
		t.Fatalf("started %s", got)
	}
	// While a's master transition runs: every event is marked at once
	// (so the running one stops at its next step), and the waiting ones
	// collapse to the newest per instance, in the order of the newest.
	for _, l := range []string{`INSTANCE "VI_A" BACKUP 100`, `INSTANCE "VI_A" FAULT 0`, `INSTANCE "VI_B" BACKUP 90`,
		`nonsense`, `INSTANCE "VI_C" MASTER 100`, `INSTANCE "VI_A" STOP 0`} {
		write(l)
	}
	for _, want := range []string{"a:backup", "a:fault", "b:backup", "a:stop"} {
		if got := <-marked; got != want {
			t.Fatalf("marked %s, want %s", got, want)
		}
	}
	// A line is marked before it is queued: one more line for an unknown
	// instance, logged once its turn comes, says a:stop is in the queue.
	write(`INSTANCE "VI_C" BACKUP 100`)
	for deadline := time.Now().Add(10 * time.Second); logs.FilterMessage("notify fifo").Len() < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the line after a:stop was not read: %v", logs.All())
		}
	}
	// The FIFO closes with transitions still waiting: they run.
	pw.Close()
	release <- nil
	if got := <-started; got != "b:backup" {
		t.Fatalf("started %s, want b:backup", got)
	}
	release <- errors.New("refused")
	if got := <-started; got != "a:stop" {
		t.Fatalf("started %s, want a:stop (a's newest, queued after b's)", got)
	}
	release <- nil
	if err := <-served; err != nil {
		t.Fatalf("ServeFIFO: %v", err)
	}
	for msg, n := range map[string]int{"notify fifo: bad line": 1, "notify fifo": 2, "notify fifo: transition": 1} {
		if logs.FilterMessage(msg).Len() != n {
			t.Errorf("want %d %q logs, got %v", n, msg, logs.All())
		}
	}
}

// A mark that fails is logged, and the transition still runs.
func TestServeFIFOMarkFails(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	tg := &failingMark{}
	err := ServeFIFO(context.Background(), strings.NewReader("INSTANCE \"A\" BACKUP 100\n"),
		func(Notify) (string, Target, error) { return "a", tg, nil }, zap.New(core))
	if err != nil || tg.runs != 1 || logs.FilterMessage("notify fifo: mark newest").Len() != 1 {
		t.Fatalf("err %v runs %d logs %v", err, tg.runs, logs.All())
	}
}

type failingMark struct{ runs int }

func (f *failingMark) Supersede(transition.Event) error { return errors.New("read-only state dir") }
func (f *failingMark) Run(context.Context, transition.Event) error {
	f.runs++
	return nil
}

func TestStateEvent(t *testing.T) {
	for s, want := range map[State]transition.Event{
		StateMaster: transition.EventMaster, StateBackup: transition.EventBackup, StateFault: transition.EventFault,
		StateStop: transition.EventStop, StateDeleted: transition.EventStop, "INIT": transition.EventStop,
	} {
		if got := s.Event(); got != want {
			t.Errorf("%s: %s, want %s", s, got, want)
		}
	}
	// The built-in router's states print as keepalived's, and map so.
	for s, want := range map[fsm.State]transition.Event{
		fsm.Init: transition.EventStop, fsm.Backup: transition.EventBackup, fsm.Master: transition.EventMaster, fsm.Fault: transition.EventFault,
	} {
		if got := State(s.String()).Event(); got != want {
			t.Errorf("router state %s: %s, want %s", s, got, want)
		}
	}
}

// keepalived writes MASTER_RX_LOWER_PRI to the FIFO when a master hears a
// lower priority (a split healing): information, no transition, no error
// (it was logged as a bad line at every heal).
func TestServeFIFOMasterRxLowerPri(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	tg := &failingMark{}
	err := ServeFIFO(context.Background(), strings.NewReader("INSTANCE \"A\" MASTER_RX_LOWER_PRI 100\n"),
		func(Notify) (string, Target, error) { return "a", tg, nil }, zap.New(core))
	if err != nil || tg.runs != 0 {
		t.Fatalf("err %v, runs %d: want no transition", err, tg.runs)
	}
	if logs.FilterLevelExact(zap.ErrorLevel).Len() != 0 || logs.FilterMessage("notify fifo: no transition for this state").Len() != 1 {
		t.Fatalf("logs %v: want one info line and no error", logs.All())
	}
}
