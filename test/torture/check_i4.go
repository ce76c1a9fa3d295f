package torture

import (
	"fmt"
	"sort"
	"time"
)

// checkI4: `check` passed only where the rules allow. Each rule must hold
// in the samples just before and just after the check ran, the check must
// have been able to see the peer (no link cut during it), and the rule must
// be broken by two checks in a row on the host: keepalived acts on fall/rise
// 2, so one passing check alone changes nothing it does.
func (r *run) checkI4() {
	type finding struct {
		class string
		ev    string
	}
	var found []finding
	var split [2][]checkRun
	for host := range r.c.hosts {
		var prevClass, prevEv string
		for _, cr := range r.ka.checkRuns() {
			if cr.Host != host {
				continue
			}
			class, ev := r.judgeCheck(cr)
			if class != "" && class == prevClass {
				if class == classDiverged {
					cr.Output = ev
					split[host] = append(split[host], cr)
				} else {
					found = append(found, finding{class, prevEv + " || then " + ev})
				}
			}
			prevClass, prevEv = class, ev
		}
	}
	// Diverged masters: a violation when both hosts passed (twice in a row)
	// within a second of each other.
	for _, a := range split[0] {
		for _, b := range split[1] {
			if !a.Start.After(b.End.Add(time.Second)) && !b.Start.After(a.End.Add(time.Second)) {
				found = append(found, finding{classDiverged, a.Output + " || " + b.Output})
				break
			}
		}
	}
	byClass := map[string][]string{}
	var classes []string
	for _, f := range found {
		if _, ok := byClass[f.class]; !ok {
			classes = append(classes, f.class)
		}
		byClass[f.class] = append(byClass[f.class], f.ev)
	}
	sort.Strings(classes)
	for _, c := range classes {
		ev := byClass[c]
		n := len(ev)
		if len(ev) > 3 {
			ev = append(ev[:3], fmt.Sprintf("... and %d more", n-3))
		}
		r.violate("I4", c, fmt.Sprintf("%d passing checks", n), ev...)
	}
}

const classDiverged = "check passed on both masters of diverged data"

// judgeCheck names the rule a passing check broke ("" for none) and the evidence.
func (r *run) judgeCheck(cr checkRun) (string, string) {
	if !cr.OK {
		return "", ""
	}
	me, peer := r.c.hosts[cr.Host].name, r.c.hosts[1-cr.Host].name
	mb, ok1 := r.mon.before(me, cr.Start)
	ma, ok2 := r.mon.after(me, cr.End)
	pb, ok3 := r.mon.before(peer, cr.Start)
	pa, ok4 := r.mon.after(peer, cr.End)
	if !ok1 || !ok2 || !ok3 || !ok4 || !mb.ok() || !ma.ok() || !pb.ok() || !pa.ok() || r.cutDuring(cr.Start, cr.End) {
		return "", ""
	}
	ev := fmt.Sprintf("%s check passed at %s (%q): %s %s / %s; %s %s / %s", me, r.rel(cr.Start), cr.Output, me, mb, ma, peer, pb, pa)
	bothMasters := mb.Role == "master" && pb.Role == "master" && ma.Role == "master" && pa.Role == "master"
	switch {
	case mb.Loading && ma.Loading:
		return "check passed on a loading node", ev
	case mb.empty() && ma.empty() && pb.Keys > 0 && pa.Keys > 0:
		return "check passed on an empty node while the peer holds keys", ev
	case bothMasters && contains(pb, mb) && !contains(mb, pb) && contains(pa, ma) && !contains(ma, pa):
		return "check passed on a stale master (the peer master holds newer data)", ev
	case bothMasters && diverged(mb, pb) && diverged(ma, pa):
		return classDiverged, ev
	}
	return "", ""
}

// cutDuring: a link cut overlapped [from, to] (the check could not see the peer).
func (r *run) cutDuring(from, to time.Time) bool {
	for _, e := range r.inj.eventLog() {
		if e.Kind.isLink() && e.overlaps(from, to) {
			return true
		}
	}
	return false
}
