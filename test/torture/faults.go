package torture

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// event is one applied fault, or a step of one, for windows and evidence.
type event struct {
	Kind  faultKind
	Host  int // -1: both hosts / the link
	Start time.Time
	End   time.Time
	Note  string
	// Files is a kill's restart mode: keep, lost or old (a snapshot).
	Files string
	// Partition faults (partition.go): the master's host when it began
	// (-1: none or two), who held the pair's witness lease then (the
	// suite's own look at the witness: -1 nobody, or not a node of the
	// pair) and for how long still, and the witness fault carried.
	Master      int
	LeaseHolder int
	LeaseLeft   time.Duration
	With        string
	Mode        string // as drawn (fault.Mode)
}

// class names a partition-class event as applied, its target resolved
// ("" for other faults): the run's counts are by class.
func (e event) class() string {
	c := ""
	switch e.Kind {
	case fSplit, fReplCut, fPartition:
		c = string(e.Kind) + "(" + e.Mode + ")"
	case fIsolate:
		c = "isolate(replica)"
		if e.Host == e.Master {
			c = "isolate(master)"
		}
	case fWitnessCut:
		switch {
		case e.With != "":
			return "" // carried by a partition: named there
		case e.Host < 0:
			c = "witness-cut(both)"
		case e.Host == e.Master:
			c = "witness-cut(master)"
		default:
			c = "witness-cut(replica)"
		}
	case fWitnessKill:
		if e.With != "" {
			return ""
		}
		c = "witness-kill"
	default:
		return ""
	}
	if e.With != "" {
		c += "+" + e.With
	}
	return c
}

func (e event) String() string {
	who := "link"
	switch {
	case e.Kind == fEvict:
		who = "both"
	case e.Kind == fWitnessKill:
		who = "witness"
	case e.Host >= 0:
		who = []string{"A", "B"}[e.Host]
	}
	return fmt.Sprintf("%s(%s) for %s: %s", e.Kind, who, e.End.Sub(e.Start).Round(100*time.Millisecond), e.Note)
}

// overlaps says whether the event was on at some moment of [from, to].
func (e event) overlaps(from, to time.Time) bool {
	return !e.Start.After(to) && !e.End.Before(from)
}

// injector applies faults to a running cluster and heals them.
type injector struct {
	c   *cluster
	ka  *keepalived
	mon *monitor
	bg  *background
	rnd *lockedRand

	mu     sync.Mutex
	events []event
	notes  []tlEntry
}

func (in *injector) record(e event) {
	in.mu.Lock()
	in.events = append(in.events, e)
	in.mu.Unlock()
}

func (in *injector) eventLog() []event {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]event(nil), in.events...)
}

// resolve turns a target into a host index using the monitor's latest view.
func (in *injector) resolve(target string) int {
	switch target {
	case "A":
		return 0
	case "B":
		return 1
	}
	a, b := in.mon.latest("A"), in.mon.latest("B")
	master := 0
	switch {
	case a.Role == "master" && b.Role != "master":
		master = 0
	case b.Role == "master" && a.Role != "master":
		master = 1
	default:
		if h := in.ka.vipHolder(); h >= 0 {
			master = h
		}
	}
	if target == "replica" {
		return 1 - master
	}
	return master
}

// snapshot copies both hosts' data files (the "older snapshot" a later
// restart may come back from).
func (in *injector) snapshot() {
	for _, h := range in.c.hosts {
		_ = os.RemoveAll(h.snapshot)
		_ = copyTree(h.redis.dir, h.snapshot, func(name string) bool {
			return name == "dump.rdb" || strings.HasPrefix(name, "appendonlydir")
		})
	}
}

// apply runs one fault to its end, healing it before returning.
func (in *injector) apply(ctx context.Context, f fault) {
	e := event{Kind: f.Kind, Host: -1, Start: time.Now()}
	if f.Target != "both" {
		e.Host = in.resolve(f.Target)
	}
	switch f.Kind {
	case fKill:
		e.Files = f.Mode
		e.Note = in.kill(ctx, e.Host, f)
	case fRestart:
		e.Note = in.restart(ctx, e.Host, f.Dur)
	case fStall:
		h := in.c.hosts[e.Host].redis
		h.signal(syscall.SIGSTOP)
		sleepCtx(ctx, f.Dur)
		h.signal(syscall.SIGCONT)
		e.Note = "SIGSTOP, SIGCONT"
	case fPassword:
		e.Note = in.password(ctx, e.Host, f.Dur)
	case fBusy:
		e.Note = in.busy(ctx, e.Host, f.Dur)
	case fMaxclients:
		e.Note = in.storm(ctx, e.Host, f.Dur)
	case fEvict:
		e.Note = in.evict(ctx, f.Dur)
	case fWritable:
		s := in.c.hosts[e.Host].redis
		_, err := s.do(time.Second, "CONFIG", "SET", "replica-read-only", "no")
		sleepCtx(ctx, f.Dur)
		_, err2 := s.do(time.Second, "CONFIG", "SET", "replica-read-only", "yes")
		e.Note = errNote(err, err2)
	}
	e.End = time.Now()
	in.record(e)
}

// cut cuts the link proxies with resets (setCut), and keepalived's
// adverts with them when adverts is set; heal undoes it.
func (in *injector) cut(cut, adverts bool) {
	for _, h := range in.c.hosts {
		h.reach.setCut(cut)
	}
	if adverts {
		in.ka.setLinked(!cut)
	}
}

// kill: kill -9, stay down, prepare the files, guard, start.
func (in *injector) kill(ctx context.Context, i int, f fault) string {
	h := in.c.hosts[i]
	h.redis.kill()
	sleepCtx(ctx, f.Dur)
	note := "files kept"
	switch f.Mode {
	case "lost":
		if err := h.redis.removeDataFiles(); err != nil {
			return "remove files: " + err.Error()
		}
		note = "files lost"
	case "old":
		if _, err := os.Stat(h.snapshot); err != nil {
			note = "no snapshot: files kept"
			break
		}
		if err := h.redis.removeDataFiles(); err != nil {
			return "remove files: " + err.Error()
		}
		if err := copyTree(h.snapshot, h.redis.dir, func(string) bool { return true }); err != nil {
			return "restore snapshot: " + err.Error()
		}
		note = "restored older snapshot"
	}
	return note + "; " + in.guardAndStart(ctx, i)
}

// restart: SHUTDOWN, guard, start.
func (in *injector) restart(ctx context.Context, i int, down time.Duration) string {
	h := in.c.hosts[i]
	note := "shutdown"
	if err := h.redis.shutdown(); err != nil {
		note = err.Error()
	}
	sleepCtx(ctx, down)
	return note + "; " + in.guardAndStart(ctx, i)
}

// guardAndStart runs `redis-vip guard` as systemd's ExecStartPre would and
// starts redis-server when it exits 0; a failing guard is retried once a
// second (Restart=always), at most 10 times.
func (in *injector) guardAndStart(ctx context.Context, i int) string {
	h := in.c.hosts[i]
	var outs []string
	for try := 0; try < 10 && ctx.Err() == nil; try++ {
		code, out, _ := runBinary(ctx, in.c.bin, 20*time.Second, 0, in.c.args(i, "guard")...)
		outs = append(outs, fmt.Sprintf("guard exit %d: %s", code, strings.TrimSpace(out)))
		if code == 0 {
			if err := h.redis.start(); err != nil {
				outs = append(outs, "start: "+err.Error())
				sleepCtx(ctx, time.Second)
				continue
			}
			return strings.Join(outs, "; ")
		}
		sleepCtx(ctx, time.Second)
	}
	return strings.Join(outs, "; ") + "; NOT STARTED"
}

// ensureUp starts a server that is down (a fault cut short), guard first.
func (in *injector) ensureUp(ctx context.Context) []string {
	var notes []string
	for i, h := range in.c.hosts {
		h.redis.signal(syscall.SIGCONT)
		if !h.redis.running() {
			notes = append(notes, h.name+": "+in.guardAndStart(ctx, i))
		}
	}
	return notes
}

func (in *injector) password(ctx context.Context, i int, d time.Duration) string {
	s := in.c.hosts[i].redis
	const pw = "torture-secret"
	_, err := s.do(time.Second, "CONFIG", "SET", "requirepass", pw)
	if err == nil {
		s.setPassword(pw)
	}
	sleepCtx(ctx, d)
	_, err2 := s.do(time.Second, "CONFIG", "SET", "requirepass", "")
	s.setPassword("")
	return errNote(err, err2)
}

// busyScript spins for ARGV[1] microseconds; read-only, so it ends on its own.
const busyScript = `local t0 = redis.call('TIME')
local s = tonumber(t0[1]) * 1000000 + tonumber(t0[2])
while true do
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000000 + tonumber(t[2]) - s > tonumber(ARGV[1]) then break end
end
return 1`

func (in *injector) busy(ctx context.Context, i int, d time.Duration) string {
	s := in.c.hosts[i].redis
	_, err := s.do(time.Second, "CONFIG", "SET", "busy-reply-threshold", "100")
	if err != nil {
		return "busy-reply-threshold: " + err.Error()
	}
	_, err = s.do(d+5*time.Second, "EVAL", busyScript, "0", strconv.FormatInt(d.Microseconds(), 10))
	_, _ = s.do(time.Second, "CONFIG", "SET", "busy-reply-threshold", "5000")
	return errNote(err)
}

// storm holds idle connections until the server refuses more.
func (in *injector) storm(ctx context.Context, i int, d time.Duration) string {
	s := in.c.hosts[i].redis
	var conns []*writer.Conn
	refused := 0
	for n := 0; n < 150 && refused < 3; n++ {
		c, err := writer.Dial(s.addr(), 500*time.Millisecond)
		if err != nil {
			refused++
			continue
		}
		if _, err := c.Do("PING"); err != nil {
			refused++
			c.Close()
			continue
		}
		conns = append(conns, c)
	}
	sleepCtx(ctx, d)
	for _, c := range conns {
		c.Close()
	}
	return fmt.Sprintf("held %d connections, %d refused", len(conns), refused)
}

func (in *injector) evict(ctx context.Context, d time.Duration) string {
	var notes []string
	for _, h := range in.c.hosts {
		v, err := h.redis.do(time.Second, "INFO", "memory")
		if err != nil {
			notes = append(notes, h.name+": "+err.Error())
			continue
		}
		used := infoInt(v, "used_memory")
		limit := strconv.FormatInt(used+1<<20, 10)
		if _, err := h.redis.do(time.Second, "CONFIG", "SET", "maxmemory-policy", "volatile-lru", "maxmemory", limit); err != nil {
			notes = append(notes, h.name+": "+err.Error())
		}
	}
	in.bg.evict.Store(true)
	sleepCtx(ctx, d)
	in.bg.evict.Store(false)
	evicted := []string{}
	for _, h := range in.c.hosts {
		if v, err := h.redis.do(time.Second, "INFO", "stats"); err == nil {
			evicted = append(evicted, h.name+"="+strconv.FormatInt(infoInt(v, "evicted_keys"), 10))
		}
		_, _ = h.redis.do(time.Second, "CONFIG", "SET", "maxmemory", "0")
	}
	return "evicted " + strings.Join(evicted, " ") + " " + strings.Join(notes, "; ")
}

func infoInt(v any, key string) int64 {
	s, _ := v.(string)
	for _, l := range strings.Split(s, "\n") {
		if val, ok := strings.CutPrefix(strings.TrimSpace(l), key+":"); ok {
			n, _ := strconv.ParseInt(val, 10, 64)
			return n
		}
	}
	return 0
}

func errNote(errs ...error) string {
	var s []string
	for _, e := range errs {
		if e != nil {
			s = append(s, e.Error())
		}
	}
	if len(s) == 0 {
		return "ok"
	}
	return strings.Join(s, "; ")
}

// copyTree copies the files and directories of src whose top-level name
// keep accepts into dst (cp -a, to keep it simple and exact).
func copyTree(src, dst string, keep func(string) bool) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	for _, e := range ents {
		if !keep(e.Name()) {
			continue
		}
		if out, err := exec.Command("cp", "-a", filepath.Join(src, e.Name()), dst+"/").CombinedOutput(); err != nil {
			return fmt.Errorf("cp %s: %v: %s", e.Name(), err, out)
		}
	}
	return nil
}
