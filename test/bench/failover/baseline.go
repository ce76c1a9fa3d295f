package main

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"text/template"
	"time"

	"github.com/redis-vip/redis-vip/test/lab/netlab"
)

// The two baselines (Sentinel + HAProxy, and keepalived with the seed's
// shell scripts) run in a netlab lab (namespaces, bridge, processes that
// die with the driver) with their own configuration files, from conf/.

//go:embed conf/*.tmpl
var confFS embed.FS

// render writes template conf/name.tmpl with data to path.
func render(name, path string, mode os.FileMode, data any) error {
	t, err := template.ParseFS(confFS, "conf/"+name+".tmpl")
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return os.WriteFile(path, b.Bytes(), mode)
}

// baseLab is a netlab lab whose Redis servers the driver starts itself
// (plain redis-server, no guard: the baselines have none).
type baseLab struct {
	env   *env
	dir   string
	l     *netlab.Lab
	procs map[string]*netlab.Proc
}

func (b *baseLab) build(id string) error {
	dir, err := b.env.labDir(id)
	if err != nil {
		return err
	}
	b.dir = dir
	l, err := netlab.New(netlab.Options{Prefix: b.env.prefix + id, Dir: dir, Bin: b.env.bin, Writer: b.env.writer, Logf: b.env.debugf})
	if err != nil {
		return err
	}
	b.l = l
	b.procs = map[string]*netlab.Proc{}
	for i, h := range l.Hosts {
		replicaOf := ""
		if i == 1 {
			replicaOf = l.Hosts[0].IP.String()
		}
		if err := render("redis.conf", b.redisConf(h.Name), 0o644, map[string]string{
			"Host": h.Name, "Dir": h.Dir, "IP": h.IP.String(), "ReplicaOf": replicaOf}); err != nil {
			return err
		}
	}
	for _, h := range []string{"h1", "h2"} {
		if err := b.startRedis(h); err != nil {
			return err
		}
	}
	return netlab.WaitFor(20*time.Second, "h2 replicating h1", func() bool {
		m, ok, _ := pairSettled(readNodes(b.hosts()))
		return ok && m == "h1"
	})
}

func (b *baseLab) redisConf(h string) string { return filepath.Join(b.l.Host(h).Dir, "redis.conf") }

func (b *baseLab) startRedis(h string) error {
	host := b.l.Host(h)
	p, err := b.l.Start("redis-server", host.NS, host.Dir, "redis-server", b.redisConf(h))
	if err != nil {
		return err
	}
	b.procs[h] = p
	return netlab.WaitFor(15*time.Second, h+" redis answering", func() bool {
		_, err := redisString(host.NS, "127.0.0.1:6379", 300*time.Millisecond, "PING")
		return err == nil
	})
}

func (b *baseLab) close() {
	if b.l != nil {
		// Processes first (netlab only kills the ones it started), then
		// the namespaces.
		for _, ns := range []string{b.l.Hosts[0].NS, b.l.Hosts[1].NS, b.l.ClientNS, b.l.BridgeNS} {
			_ = netlab.RemoveNamespace(ns)
		}
		b.l.Close()
		b.l = nil
	}
}

func (b *baseLab) hosts() []hostRef {
	return []hostRef{{"h1", b.l.Hosts[0].NS, b.l.Hosts[0].IP.String()}, {"h2", b.l.Hosts[1].NS, b.l.Hosts[1].IP.String()}}
}

func (b *baseLab) redis(h string) (string, string) { return b.l.Host(h).NS, "127.0.0.1:6379" }

func (b *baseLab) kill(h string) error {
	p := b.procs[h]
	if p == nil {
		return fmt.Errorf("%s: redis-server not started here", h)
	}
	p.Signal(syscall.SIGKILL)
	if _, ok := p.Wait(5 * time.Second); !ok {
		return fmt.Errorf("%s: redis-server still running 5 s after SIGKILL", h)
	}
	b.procs[h] = nil
	return nil
}

func (b *baseLab) hang(h string) error {
	if p := b.procs[h]; p != nil {
		p.Signal(syscall.SIGSTOP)
		return nil
	}
	return fmt.Errorf("%s: redis-server not running", h)
}

func (b *baseLab) resume(h string) error {
	if p := b.procs[h]; p != nil {
		p.Signal(syscall.SIGCONT)
		return nil
	}
	return fmt.Errorf("%s: redis-server not running", h)
}

// restart starts a killed Redis again from its own redis.conf and data
// files, as systemd would: nothing decides its role first.
func (b *baseLab) restart(_ context.Context, h string) error {
	if p := b.procs[h]; p != nil && p.Running() {
		return nil
	}
	return b.startRedis(h)
}

func (b *baseLab) target() writerTarget {
	return writerTarget{ns: b.l.ClientNS, addr: fmt.Sprintf("%s:%d", netlab.VIP.Addr(), netlab.RedisPort),
		hosts: []string{b.l.Hosts[0].Announce(), b.l.Hosts[1].Announce()}}
}
