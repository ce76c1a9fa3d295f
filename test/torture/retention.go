package torture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// backupWatcher watches one host's backup dir (shared by every instance on
// the host) and keeps a hard link to (or a copy of) each file it sees, so a
// file retention deletes can still be told apart by its content afterwards.
type backupWatcher struct {
	dir  string
	hold string

	mu    sync.Mutex
	files map[string]*watched
}

type watched struct {
	name  string
	seen  time.Time
	gone  time.Time
	held  string
	isDir bool
}

func newBackupWatcher(dir, hold string) *backupWatcher {
	return &backupWatcher{dir: dir, hold: hold, files: map[string]*watched{}}
}

func (w *backupWatcher) run(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		w.scan()
		select {
		case <-ctx.Done():
			w.scan()
			return
		case <-t.C:
		}
	}
}

func (w *backupWatcher) scan() {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return
	}
	now := time.Now()
	present := map[string]bool{}
	for _, e := range ents {
		present[e.Name()] = true
		w.mu.Lock()
		_, known := w.files[e.Name()]
		w.mu.Unlock()
		if known {
			continue
		}
		f := &watched{name: e.Name(), seen: now, isDir: e.IsDir(), held: filepath.Join(w.hold, e.Name())}
		if err := os.MkdirAll(w.hold, 0o755); err == nil {
			src := filepath.Join(w.dir, e.Name())
			if f.isDir {
				err = copyTree(w.dir, w.hold, func(n string) bool { return n == e.Name() })
			} else {
				err = os.Link(src, f.held)
			}
			if err != nil {
				f.held = ""
			}
		}
		w.mu.Lock()
		w.files[e.Name()] = f
		w.mu.Unlock()
	}
	w.mu.Lock()
	for name, f := range w.files {
		if !present[name] && f.gone.IsZero() {
			f.gone = now
		}
	}
	w.mu.Unlock()
}

// snapshot returns the files seen, oldest first.
func (w *backupWatcher) snapshot() []*watched {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*watched, 0, len(w.files))
	for _, f := range w.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].seen.Before(out[j].seen) || (out[i].seen.Equal(out[j].seen) && out[i].name < out[j].name)
	})
	return out
}

// retentionViolations: a backup of instance X that vanished while X did not
// have `keep` newer backups present (retention deleted another instance's
// file, or X's own newest).
func retentionViolations(files []*watched, keep int, owner func(*watched) string, inst string) []string {
	var out []string
	for _, f := range files {
		if f.gone.IsZero() || owner(f) != inst {
			continue
		}
		newer := 0
		for _, g := range files {
			if g != f && owner(g) == inst && g.seen.After(f.seen) && !g.seen.After(f.gone) && (g.gone.IsZero() || g.gone.After(f.gone)) {
				newer++
			}
		}
		if newer < keep {
			out = append(out, fmt.Sprintf("%s (instance %s) deleted at %s with only %d newer backups of %s present (backups_keep %d)",
				f.name, inst, f.gone.Format("15:04:05.000"), newer, inst, keep))
		}
	}
	return out
}

// backupsKeep is the backups_keep every schedule's config sets.
const backupsKeep = 3

// checkRetention: no backup vanishes while its instance (told by content)
// had fewer than backups_keep newer ones (I3: retention touches only its
// own instance's oldest files).
func checkRetention(pairs []*run, watchers [2]*backupWatcher, scratch string) {
	for hi, w := range watchers {
		w.scan()
		files := w.snapshot()
		owners := map[*watched]string{}
		owner := func(f *watched) string {
			if o, ok := owners[f]; ok {
				return o
			}
			o := ""
			if f.held != "" {
				for _, r := range pairs {
					_, has, err := loadBackup(f.held, f.isDir, filepath.Join(scratch, fmt.Sprint(hi)), r.seedKeys())
					if err == nil && len(has) > 0 {
						o = r.c.spec.Inst
						break
					}
				}
			}
			owners[f] = o
			return o
		}
		for _, r := range pairs {
			for _, v := range retentionViolations(files, backupsKeep, owner, r.c.spec.Inst) {
				r.violate("I3", "backup retention deleted a backup it must keep", v, r.journalTail(hi, 3)...)
			}
		}
	}
}
