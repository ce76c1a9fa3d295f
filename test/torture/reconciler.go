package torture

import (
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// reconcilers run `redis-vip reconcile --loop` on each host, as the shipped
// redis-vip-reconcile.service does beside keepalived's per-event hooks: in
// hooks mode nothing else repairs a pair whose hook could not finish (S12).
// In FIFO mode notify-fifo reconciles itself and none is started.
type reconcilers struct {
	mu   sync.Mutex
	cmds []*exec.Cmd
	done []chan struct{}
}

func startReconcilers(bin string, files [2]*hostFiles) (*reconcilers, error) {
	r := &reconcilers{}
	for _, h := range files {
		cmd := exec.Command(bin, "reconcile", "--loop", "--config", h.config)
		cmd.SysProcAttr = dieWithUs()
		if err := cmd.Start(); err != nil {
			r.close()
			return nil, fmt.Errorf("%s: start reconcile --loop: %w", h.name, err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		r.mu.Lock()
		r.cmds, r.done = append(r.cmds, cmd), append(r.done, done)
		r.mu.Unlock()
	}
	return r, nil
}

// close stops every reconciler (SIGTERM, SIGKILL after 3 s) and waits.
func (r *reconcilers) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, cmd := range r.cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done[i]:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-r.done[i]
		}
	}
	r.cmds, r.done = nil, nil
}
