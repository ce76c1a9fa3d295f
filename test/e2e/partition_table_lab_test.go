package e2e

// The lab of the partition table: the keepalived lab of test/lab in
// its notify-FIFO variant (the one the packaging recommends: its
// long-running `redis-vip notify-fifo` keeps the fence), with the instance
// settings of one column of the table, and the witness host's witness;
// tableLab is what parttable.Lab asks of it.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/parttable"
	"github.com/redis-vip/redis-vip/test/writer"
)

// instanceYAML is what a column adds to the lab's instance (under
// instances.redis6379 of each host's redis-vip.yml), "" for none.
func instanceYAML(l *lab.Lab, m parttable.Mode) string {
	if !m.Fence {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "    # Added by test/e2e/partition_table_lab_test.go (the lab has no option for instance settings).\n")
	fmt.Fprintf(&b, "    fence_after: %s\n    fence_interval: %s\n", parttable.FenceAfter, parttable.FenceInterval)
	if m.Witness {
		fmt.Fprintf(&b, "    witness:\n      address: %s\n      secret_file: %s\n      pair: %s\n      timeout: %s\n",
			l.WitnessAddr(), l.WitnessSecret(), lab.Instance, parttable.WitnessTimeout)
	}
	return b.String()
}

// newPartitionLab builds a lab for one cell of the table and always tears
// it down; before that it copies the hosts' logs into keep (when not ""),
// and into the test log when the cell failed.
//
// Up writes each host's redis-vip.yml and starts the processes in one go,
// so the column's settings could only be added after its daemons had read
// the file. Instead: UpNet (namespaces, dirs, configs, no process), append
// the settings, start the witness, then StartPair (h1's Redis and
// keepalived, the VIP on h1 and its notify-master done, then h2's); the
// cell waits until it settles.
func newPartitionLab(t *testing.T, m parttable.Mode, keep string) (parttable.Lab, context.Context) {
	t.Helper()
	ctx, name, dir := labPlace(t, 5*time.Minute)
	l := lab.New(lab.Options{Repo: env.repo, Dir: dir, Prefix: name, Bin: env.bin, Writer: env.writer,
		Notify: "fifo", Logf: t.Logf})
	t.Cleanup(func() {
		for _, h := range lab.Hosts {
			t.Logf("%s transitions and guard decisions:\n%s", h, lab.Indent(l.Transitions(h)))
		}
		if keep != "" {
			keepLogs(t, l, keep)
		}
		if t.Failed() {
			for _, h := range lab.Hosts {
				t.Logf("%s keepalived.log (tail):\n%s", h, lab.Indent(l.Tail(h+"/log/keepalived.log", 30)))
				t.Logf("%s redis.log (tail):\n%s", h, lab.Indent(l.Tail(h+"/log/redis.log", 20)))
				t.Logf("%s redis-vip.log (tail):\n%s", h, lab.Indent(l.Tail(h+"/log/redis-vip.log", 30)))
			}
			if m.Witness {
				t.Logf("witness.log (tail):\n%s", lab.Indent(lab.TailFile(l.WitnessLog(), 20)))
			}
		}
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		if err := l.Down(dctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	if err := l.UpNet(ctx); err != nil {
		t.Fatalf("lab UpNet: %v", err)
	}
	if add := instanceYAML(l, m); add != "" {
		must(t, l.AddInstanceYAML(add))
		t.Logf("added to each host's redis-vip.yml:\n%s", add)
	}
	if m.Witness {
		if err := l.StartWitness(ctx); err != nil {
			t.Fatalf("start the witness: %v", err)
		}
	}
	must(t, l.StartPair(ctx))
	return tableLab{l}, ctx
}

// keepLogs copies what explains a cell (each host's logs and journal, the
// witness's log, the writers' records) into dir, which outlives the lab.
func keepLogs(t *testing.T, l *lab.Lab, dir string) {
	rels := []string{"w/witness.log"}
	for _, h := range lab.Hosts {
		rels = append(rels, h+"/log/redis-vip.log", h+"/log/keepalived.log", h+"/log/redis.log",
			h+"/state/"+lab.Instance+".journal", h+"/etc/redis-vip.yml")
	}
	writers, _ := filepath.Glob(filepath.Join(l.Dir(), "writer-*"))
	for _, w := range writers {
		rels = append(rels, filepath.Base(w))
	}
	parttable.Keep(t, l.Dir(), dir, rels)
}

// tableLab is the keepalived lab as the partition table drives it.
type tableLab struct{ *lab.Lab }

func (tableLab) Peer(host string) string     { return lab.Peer(host) }
func (tableLab) Addr(host string) string     { return lab.Addr[host] }
func (tableLab) Announce(host string) string { return lab.Addr[host] + ":6379" }
func (tableLab) Instance() string            { return lab.Instance }

func tableState(s lab.State) parttable.State {
	return parttable.State{Masters: s.Masters(), VIP: s.VIP, Desc: s.String()}
}

func (l tableLab) State(ctx context.Context) parttable.State { return tableState(l.Lab.State(ctx)) }

// WaitSettled waits for lab.State.Settled: keepalived agrees too.
func (l tableLab) WaitSettled(ctx context.Context, timeout time.Duration, ok func(string) bool) (string, parttable.State, error) {
	s, err := l.Lab.WaitSettled(ctx, timeout, func(m string, _ lab.State) bool { return ok == nil || ok(m) })
	m, _ := s.Settled()
	return m, tableState(s), err
}

// Boot powers host on and starts Redis (through guard) and keepalived.
func (l tableLab) Boot(ctx context.Context, host string) error {
	if err := l.PowerOn(ctx, host); err != nil {
		return err
	}
	if err := l.StartRedis(ctx, host); err != nil {
		return err
	}
	return l.StartKeepalived(ctx, host)
}

// StartRedis is lab.Lab.StartRedis: guard, then redis-server.
func (l tableLab) StartRedis(ctx context.Context, host string) error {
	_, err := l.Lab.StartRedis(ctx, host)
	return err
}

func (l tableLab) StartWitness(ctx context.Context) error { return l.Lab.StartWitness(ctx) }

// StartWriter: through the VIP from the client (key and settle as the
// other scenarios' writers), or lab.StartLocalWriter.
func (l tableLab) StartWriter(ctx context.Context, name, host string, args ...string) (parttable.Writer, error) {
	var w *lab.WriterRun
	var err error
	if host == "client" {
		w, err = l.Lab.StartWriter(ctx, name, "client", args...)
	} else {
		w, err = l.StartLocalWriter(ctx, name, host, args...)
	}
	if err != nil {
		return nil, err
	}
	return tableWriter{w, filepath.Join(l.Dir(), "writer-"+name+".json")}, nil
}

func (l tableLab) VerifyLog(ctx context.Context, path string, settle time.Duration) (writer.Report, error) {
	return parttable.VerifyIn(ctx, l.NS("client"), env.writer, path, settle)
}

func (l tableLab) RedisVIPLog(host string) string {
	return filepath.Join(l.HostDir(host), "log", "redis-vip.log")
}
func (l tableLab) WitnessLog() string           { return l.Lab.WitnessLog() }
func (l tableLab) BackupDir(host string) string { return filepath.Join(l.HostDir(host), "backups") }

// tableWriter is a lab writer with the file StartLocalWriter saves to.
type tableWriter struct {
	*lab.WriterRun
	saved string
}

func (w tableWriter) SavedLog() string { return w.saved }
