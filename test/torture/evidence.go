package torture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/transition"
)

// flushTimes are the moments the server's log says a full sync flushed its
// old data ("MASTER <-> REPLICA sync: Flushing old data").
func flushTimes(s *redisServer) []time.Time {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "Flushing old data") {
			continue
		}
		// "12345:S 25 Jul 2025 23:54:44.123 * MASTER <-> REPLICA sync: Flushing old data"
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		t, err := time.ParseInLocation("2 Jan 2006 15:04:05.000", strings.Join(fields[1:5], " "), time.Local)
		if err == nil {
			out = append(out, t)
		}
	}
	return out
}

// tlEntry is one timeline line and when it happened.
type tlEntry struct {
	at time.Time
	s  string
}

// journalTail is host i's last n journal records, one line each.
func (r *run) journalTail(i, n int) []string {
	es := r.journal(i)
	if len(es) > n {
		es = es[len(es)-n:]
	}
	out := make([]string, len(es))
	for j, e := range es {
		out[j] = r.rel(e.at) + " " + e.s
	}
	return out
}

func (r *run) journal(i int) []tlEntry {
	h := r.c.hosts[i]
	recs, bad, err := transition.ReadJournal(h.journal())
	if err != nil {
		return []tlEntry{{at: r.start, s: h.name + " journal: " + err.Error()}}
	}
	var out []tlEntry
	if bad > 0 {
		out = append(out, tlEntry{at: r.start, s: fmt.Sprintf("%s journal: %d bad lines", h.name, bad)})
	}
	for _, j := range recs {
		s := fmt.Sprintf("%s journal %s %s: %s", h.name, j.Event, j.Source, j.Outcome)
		if j.Plan != nil {
			s += ": " + j.Plan.Decision + ": " + trunc(j.Plan.Reason, 200)
		}
		if j.Error != "" {
			s += " [" + trunc(j.Error, 200) + "]"
		}
		out = append(out, tlEntry{at: j.Time, s: s})
	}
	return out
}

// fenceLog is what host i's redis-vip processes logged about this pair's
// fence and witness lease (the keeper's changes of level, the witness's
// answers), from the host's JSON log.
func (r *run) fenceLog(i int) []tlEntry {
	h := r.c.hosts[i]
	if r.sched.Fence.After == 0 {
		return nil
	}
	f, err := os.Open(h.logFile)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []tlEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"fence `)) && !bytes.Contains(line, []byte(`"witness`)) {
			continue
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil || m["instance"] != h.inst {
			continue
		}
		msg, _ := m["msg"].(string)
		if !strings.HasPrefix(msg, "fence ") && !strings.HasPrefix(msg, "witness") {
			continue
		}
		ts, _ := m["time"].(string)
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", ts)
		if err != nil {
			continue
		}
		s := h.name + " log: " + msg
		for _, k := range []string{"reason", "peer", "lease_held", "error"} {
			if v, ok := m[k]; ok {
				s += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		out = append(out, tlEntry{at: at, s: trunc(s, 300)})
	}
	return out
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// finish collects the timeline (sorted by time) and the violations into out.
func (r *run) finish(out *outcome, n notifier) {
	out.Violations = r.vio
	var es []tlEntry
	for _, e := range r.inj.eventLog() {
		es = append(es, tlEntry{at: e.Start, s: "fault " + e.String()})
	}
	r.inj.mu.Lock()
	es = append(es, r.inj.notes...)
	r.inj.mu.Unlock()
	es = append(es, r.ka.stateChanges()...)
	for _, h := range n.runs() {
		at := h.Started
		if h.Dropped {
			at = h.Fired
		}
		es = append(es, tlEntry{at: at, s: "hook " + h.String()})
	}
	for i := range r.c.hosts {
		es = append(es, r.journal(i)...)
		es = append(es, r.fenceLog(i)...)
	}
	if r.wit != nil {
		es = append(es, r.wit.timeline(r.c.spec.Inst)...)
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].at.Before(es[j].at) })
	tl := []string{"schedule: " + r.sched.String()}
	for _, e := range es {
		tl = append(tl, r.rel(e.at)+" "+e.s)
	}
	if f, ok := n.(pairFIFO); ok {
		for _, rd := range f.f.readers {
			for _, l := range strings.Split(strings.TrimSpace(rd.output()), "\n") {
				if l != "" {
					tl = append(tl, rd.host.name+" notify-fifo said: "+l)
				}
			}
		}
	}
	for _, w := range r.writers {
		res := w.result()
		tl = append(tl, fmt.Sprintf("writer %s: sent %d, acked %d, errors %v", res.Name, res.Sent, len(res.Acks), res.Errors))
	}
	for _, h := range r.c.hosts {
		for _, b := range r.backups(h, nil) {
			tl = append(tl, h.name+" backup "+b.String())
		}
	}
	out.Timeline = tl
}

// report renders one outcome for the log.
func (o outcome) report(verbose bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule seed=%d: %d violations (%s)\n", o.Schedule.Seed, len(o.Violations), o.Took.Round(time.Second))
	for _, v := range o.Violations {
		fmt.Fprintf(&b, "VIOLATION seed=%d %s %s: %s\n", o.Schedule.Seed, v.Invariant, v.Class, v.Detail)
		for _, e := range v.Evidence {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	if len(o.Violations) > 0 || verbose {
		for _, l := range o.Timeline {
			fmt.Fprintf(&b, "  | %s\n", l)
		}
	}
	return b.String()
}
