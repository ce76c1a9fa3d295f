package torture

import (
	"fmt"
	"time"
)

// checkI3: every backup loads, and a node that discarded data its new
// master lacked (a full sync's "Flushing old data") had a verified backup of
// its own instance (by content: it holds the instance's seed keys) taken
// before.
func (r *run) checkI3() {
	for i, h := range r.c.hosts {
		files := r.backups(h, r.seedKeys())
		for _, b := range files {
			if b.Err != "" && !b.Pruned && r.reportsShared {
				r.violate("I3", "backup does not read back", fmt.Sprintf("%s: %s", h.name, b), r.journalTail(i, 3)...)
			}
		}
		for _, f := range flushTimes(h.redis) {
			if f.Before(r.start) {
				continue
			}
			mine, ok := r.lastSettled(h.name, f)
			if !ok || mine.Keys == 0 || r.killedLosingFiles(i, mine.At, f) {
				continue
			}
			other := r.c.hosts[1-i].name
			theirs, ok := r.mon.before(other, f)
			if !ok || !theirs.ok() || theirs.At.Before(f.Add(-time.Second)) || contains(theirs, mine) {
				continue
			}
			if !hasBackupBefore(files, f, r.start) {
				r.violate("I3", "dataset discarded without a verified backup",
					fmt.Sprintf("%s flushed its data at %s in a full sync: it held %s, its master %s held %s, not containing it; no loadable backup of %s taken before",
						h.name, r.rel(f), mine, other, theirs, r.c.spec.Inst), r.journalTail(i, 4)...)
			}
		}
	}
}

// killedLosingFiles: a kill -9 that lost host i's files came between t0
// and t1. What i held at t0 died with its process and its disk; a full
// sync after the restart discarded none of it (I1 judges the acknowledged
// writes that died, diedWithItsDisk).
func (r *run) killedLosingFiles(i int, t0, t1 time.Time) bool {
	for _, e := range r.inj.eventLog() {
		if e.Kind == fKill && e.Host == i && e.Files == "lost" && !e.Start.Before(t0) && e.Start.Before(t1) {
			return true
		}
	}
	return false
}

// seedKeys are a few keys every dataset of this instance holds.
func (r *run) seedKeys() []string {
	var ks []string
	for i := 0; i < 5; i++ {
		ks = append(ks, fmt.Sprintf("%sseed:%d", r.c.spec.Prefix, i))
	}
	return ks
}

// lastSettled is name's last sample before t that was readable, not loading
// and not in a full sync.
func (r *run) lastSettled(name string, t time.Time) (sample, bool) {
	ss := r.mon.between(name, r.start, t)
	for i := len(ss) - 1; i >= 0; i-- {
		if s := ss[i]; s.ok() && !s.Loading && !s.Syncing {
			return s, true
		}
	}
	return sample{}, false
}

func hasBackupBefore(files []backupFile, t, since time.Time) bool {
	for _, b := range files {
		if b.Err == "" && len(b.has) > 0 && !b.ModTime.After(t) && b.ModTime.After(since) {
			return true
		}
	}
	return false
}
