package netlab

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Keepalived says how to run keepalived on a host, against the same VRID
// as `redis-vip run` on the other: keepalived mode with the redis-vip
// check and notify hooks, so the mixed pair keeps Redis consistent too.
type Keepalived struct {
	Version        int     // 2 or 3
	VRID           int     // virtual_router_id
	Priority       int     // priority
	AdvertInterval float64 // advert_int, seconds
	NoPreempt      bool
	// FIFO: the events go through keepalived's notify FIFO to
	// `redis-vip notify-fifo` (which also serves health_listen) instead of
	// the notify hook.
	FIFO bool
}

// KeepalivedConf is the host's keepalived.conf.
func (h *Host) KeepalivedConf() string { return filepath.Join(h.Dir, "keepalived.conf") }

// WriteKeepalived writes keepalived.conf for the host.
func (h *Host) WriteKeepalived(k Keepalived) error {
	nopreempt := ""
	if k.NoPreempt {
		nopreempt = "    nopreempt\n"
	}
	fifo, notify := "", fmt.Sprintf("    notify \"%s notify --config %s --instance %s\"\n", h.lab.o.Bin, h.Config(), Instance)
	if k.FIFO {
		fifo = fmt.Sprintf("    vrrp_notify_fifo %s\n    vrrp_notify_fifo_script \"%s notify-fifo --config %s\"\n",
			filepath.Join(h.Dir, "notify.fifo"), h.lab.o.Bin, h.Config())
		notify = ""
	}
	conf := fmt.Sprintf(`global_defs {
    router_id %[1]s
    script_user root
%[11]s}

vrrp_script chk_redis {
    script "%[2]s check --config %[3]s --instance %[4]s"
    interval 1
    timeout 2
    fall 2
    rise 2
}

vrrp_instance VI_REDIS {
    state BACKUP
    interface eth0
    version %[5]d
    virtual_router_id %[6]d
    priority %[7]d
    advert_int %[8]g
%[9]s    virtual_ipaddress {
        %[10]s dev eth0
    }
    track_script {
        chk_redis
    }
%[12]s}
`, h.lab.o.Prefix+"-"+h.Name, h.lab.o.Bin, h.Config(), Instance, k.Version, k.VRID, k.Priority, k.AdvertInterval, nopreempt, h.lab.a.VIP, fifo, notify)
	return os.WriteFile(h.KeepalivedConf(), []byte(conf), 0o644)
}

// StartKeepalived runs keepalived in the foreground on the host (VRRP
// only, its own pid files in the host's dir, never the system's).
func (h *Host) StartKeepalived() error {
	p, err := h.lab.Start("keepalived", h.NS, h.Dir, "keepalived", "-n", "-l", "-D", "-P",
		"-f", h.KeepalivedConf(),
		"-p", filepath.Join(h.Dir, "keepalived.pid"),
		"-r", filepath.Join(h.Dir, "keepalived-vrrp.pid"),
		"-c", filepath.Join(h.Dir, "keepalived-checkers.pid"))
	if err != nil {
		return err
	}
	h.keepalived = p
	return nil
}

// StopKeepalived sends SIGTERM (keepalived sends priority 0 and removes the
// VIP) and waits for the exit; it returns when the signal was sent.
func (h *Host) StopKeepalived() (time.Time, error) {
	if h.keepalived == nil {
		return time.Now(), nil
	}
	p := h.keepalived
	h.keepalived = nil
	at := p.Signal(syscall.SIGTERM)
	if _, ok := p.Wait(20 * time.Second); !ok {
		p.Kill()
		return at, fmt.Errorf("%s: keepalived did not exit within 20s", h.Name)
	}
	return at, nil
}

// KeepalivedLog returns the tail of keepalived's output.
func (h *Host) KeepalivedLog(n int) string {
	if h.keepalived != nil {
		return h.keepalived.Tail(n)
	}
	p := &Proc{Log: filepath.Join(h.Dir, "keepalived.log")}
	return p.Tail(n)
}
