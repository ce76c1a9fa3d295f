package torture

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// convergence is one look at I2: one master, one in-sync replica of it
// (through the link proxy), VRRP MASTER and the VIP on the master's host,
// the other router BACKUP, writes not paused.
type convergence struct {
	OK       bool
	Master   int
	Problems []string
}

func (r *run) lookConverged() convergence {
	c := r.c
	var smp [2]sample
	for i, h := range c.hosts {
		v, err := h.redis.do(time.Second, "INFO", "server", "replication", "persistence", "keyspace")
		if err != nil {
			smp[i] = sample{Err: err.Error()}
			continue
		}
		text, _ := v.(string)
		smp[i] = parseInfo(time.Now(), text)
	}
	out := convergence{Master: -1}
	bad := func(format string, args ...any) { out.Problems = append(out.Problems, fmt.Sprintf(format, args...)) }
	for i := range smp {
		if !smp[i].ok() {
			bad("%s unreachable: %s", c.hosts[i].name, smp[i].Err)
		}
	}
	if len(out.Problems) > 0 {
		return out
	}
	masters := 0
	for i := range smp {
		if smp[i].Role == "master" {
			masters++
			out.Master = i
		}
	}
	if masters != 1 {
		bad("%d masters: A %s; B %s", masters, smp[0], smp[1])
		if masters == 0 && smp[0].masterAddr() == c.hosts[1].reach.addr() && smp[1].masterAddr() == c.hosts[0].reach.addr() {
			bad("replication loop")
		}
		out.Master = -1
		return out
	}
	m, rep := out.Master, 1-out.Master
	ms, rs := smp[m], smp[rep]
	switch {
	case rs.masterAddr() != c.hosts[m].reach.addr():
		bad("replica %s follows %s, not the master %s", c.hosts[rep].name, rs.masterAddr(), c.hosts[m].reach.addr())
	case !rs.LinkUp || rs.Syncing:
		bad("replica %s not in sync: %s", c.hosts[rep].name, rs)
	}
	online := false
	var portless []replicaEntry
	repHost, _, _ := net.SplitHostPort(c.hosts[rep].reach.addr())
	for _, e := range ms.Replicas {
		if e.State != "online" || e.Lag > 2 {
			continue
		}
		if e.Addr == c.hosts[rep].reach.addr() {
			online = true
		}
		if host, port, _ := net.SplitHostPort(e.Addr); port == "0" && host == repHost {
			portless = append(portless, e)
		}
	}
	// A replica whose REPLCONF listening-port the master refused (it
	// required a password for that moment of the handshake, then no longer
	// by the PSYNC: the password fault) is listed at port 0 for as long as
	// the link lasts; Redis logs the refusal as non-critical. The replica
	// above said it follows this master, in sync: that is the one.
	if !online && len(portless) == 1 {
		online = true
	}
	if !online {
		bad("master %s does not list %s as an online replica: %+v", c.hosts[m].name, c.hosts[rep].reach.addr(), ms.Replicas)
	}
	st := r.ka.states()
	if st[m] != stMaster || st[rep] != stBackup {
		bad("VRRP states A=%s B=%s, master Redis on %s", st[0], st[1], c.hosts[m].name)
	}
	if port, err := vipPort(r); err != nil || port != strconv.Itoa(c.hosts[m].redis.port) {
		bad("VIP does not reach the master %s (port %s, %v)", c.hosts[m].name, port, err)
	}
	if _, err := c.hosts[m].redis.do(time.Second, "SET", "torture:probe", "1"); err != nil {
		bad("probe write on master %s: %v (clients paused?)", c.hosts[m].name, err)
	}
	out.OK = len(out.Problems) == 0
	return out
}

func vipPort(r *run) (string, error) {
	conn, _, err := vipDial(r.c)()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	v, err := conn.Do("CONFIG", "GET", "port")
	if err != nil {
		return "", err
	}
	arr, _ := v.([]any)
	if len(arr) != 2 {
		return "", errShort
	}
	p, _ := arr[1].(string)
	return p, nil
}

// waitConverged polls until I2 holds on three looks in a row (about 1.5 s
// of stability) or bound passes; it returns the last look and how long it took.
func (r *run) waitConverged(ctx context.Context, bound time.Duration) (convergence, time.Duration) {
	start := time.Now()
	deadline := start.Add(bound)
	streak := 0
	var last convergence
	for {
		last = r.lookConverged()
		if last.OK {
			streak++
			if streak >= 3 {
				return last, time.Since(start)
			}
		} else {
			streak = 0
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			last.OK = false
			if len(last.Problems) == 0 {
				last.Problems = []string{"converged only briefly (flapping)"}
			}
			return last, time.Since(start)
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
}
