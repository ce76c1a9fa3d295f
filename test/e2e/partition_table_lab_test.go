package e2e

// The lab of the partition table: the keepalived lab of scripts/lab.sh in
// its notify-FIFO variant (the one the packaging recommends: its
// long-running `redis-vip notify-fifo` keeps the fence), with the instance
// settings of one column of the table, and the witness host's witness.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// fenceAfter is the fence_after of the table's fencing columns (the least
// fence.Validate allows), fenceInterval its fence_interval (the default).
const (
	fenceAfter    = 3 * time.Second
	fenceInterval = 250 * time.Millisecond
)

// mode is a column of the table: the settings every node of the lab runs.
type mode struct {
	name, title string
	// fence: fence_after and fence_interval set; witness: a witness:
	// section too, and the witness started on host w before the pair.
	fence, witness bool
}

var modes = []mode{
	{name: "off", title: "fencing off (today)"},
	{name: "fence", title: "fence_after 3s, no witness", fence: true},
	{name: "witness", title: "fence_after 3s + witness", fence: true, witness: true},
}

// instanceYAML is what a column adds to the lab's instance (under
// instances.redis6379 of each host's redis-vip.yml), "" for none.
func instanceYAML(l *lab.Lab, m mode) string {
	if !m.fence {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "    # Added by test/e2e/partition_table_lab_test.go (lab.sh has no hook for instance settings).\n")
	fmt.Fprintf(&b, "    fence_after: %s\n    fence_interval: %s\n", fenceAfter, fenceInterval)
	if m.witness {
		fmt.Fprintf(&b, "    witness:\n      address: %s\n      secret_file: %s\n      pair: %s\n      timeout: 300ms\n",
			l.WitnessAddr(), l.WitnessSecret(), lab.Instance)
	}
	return b.String()
}

// newPartitionLab builds a lab for one cell of the table and always tears
// it down; before that it copies the hosts' logs into keep (when not ""),
// and into the test log when the cell failed.
//
// lab.sh up writes each host's redis-vip.yml and starts the processes in
// one go, so the column's settings could only be added after its daemons
// had read the file. Instead: up --net-only (namespaces, dirs, configs, no
// process), append the settings, start the witness, then start the pair
// as lab.sh up does (h1's Redis and keepalived, the VIP on h1 and its
// notify-master done, then h2's), and wait until it settles.
func newPartitionLab(t *testing.T, m mode, keep string) (*lab.Lab, context.Context) {
	t.Helper()
	ctx, name, dir := labPlace(t, 5*time.Minute)
	l := lab.New(lab.Options{Repo: env.repo, Dir: dir, Prefix: name, Bin: env.bin, Writer: env.writer,
		Notify: "fifo", Logf: t.Logf})
	t.Cleanup(func() {
		for _, h := range lab.Hosts {
			t.Logf("%s transitions and guard decisions:\n%s", h, indent(l.Transitions(h)))
		}
		if keep != "" {
			keepLogs(t, l, keep)
		}
		if t.Failed() {
			for _, h := range lab.Hosts {
				t.Logf("%s keepalived.log (tail):\n%s", h, indent(l.Tail(h+"/log/keepalived.log", 30)))
				t.Logf("%s redis.log (tail):\n%s", h, indent(l.Tail(h+"/log/redis.log", 20)))
				t.Logf("%s redis-vip.log (tail):\n%s", h, indent(l.Tail(h+"/log/redis-vip.log", 30)))
			}
			if m.witness {
				t.Logf("witness.log (tail):\n%s", indent(l.Tail("w/log/witness.log", 20)))
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
		t.Fatalf("lab up --net-only: %v", err)
	}
	if add := instanceYAML(l, m); add != "" {
		for _, h := range lab.Hosts {
			appendFile(t, filepath.Join(l.HostDir(h), "etc", "redis-vip.yml"), add)
		}
		t.Logf("added to each host's redis-vip.yml:\n%s", add)
	}
	if m.witness {
		if err := l.StartWitness(ctx); err != nil {
			t.Fatalf("start the witness: %v", err)
		}
	}
	// As lab.sh up: h1 first, so that it is the master; h2 joins as its replica.
	script(t, ctx, l, "start-redis", "h1")
	script(t, ctx, l, "start-keepalived", "h1")
	if err := lab.WaitFor(ctx, 20*time.Second, "the VIP on h1", func() bool { return l.VIPHolder(ctx) == "h1" }); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(l.HostDir("h1"), "state", lab.Instance+".journal")
	if err := lab.WaitFor(ctx, 20*time.Second, "h1's notify-master to finish", func() bool {
		b, _ := os.ReadFile(journal)
		return strings.Contains(string(b), `"event":"master"`)
	}); err != nil {
		t.Fatal(err)
	}
	script(t, ctx, l, "start-redis", "h2")
	script(t, ctx, l, "start-keepalived", "h2")
	return l, ctx
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// keepLogs copies what explains a cell (each host's logs and journal, the
// witness's log, the writers' records) into dir, which outlives the lab.
func keepLogs(t *testing.T, l *lab.Lab, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("keep logs: %v", err)
		return
	}
	rels := []string{"w/log/witness.log"}
	for _, h := range lab.Hosts {
		rels = append(rels, h+"/log/redis-vip.log", h+"/log/keepalived.log", h+"/log/redis.log",
			h+"/state/"+lab.Instance+".journal", h+"/etc/redis-vip.yml")
	}
	writers, _ := filepath.Glob(filepath.Join(l.Dir(), "writer-*"))
	for _, w := range writers {
		rels = append(rels, filepath.Base(w))
	}
	for _, rel := range rels {
		copyFile(filepath.Join(l.Dir(), rel), filepath.Join(dir, strings.ReplaceAll(rel, "/", "_")))
	}
	t.Logf("logs of this cell kept in %s", dir)
}

func copyFile(src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		return
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return
	}
	defer out.Close()
	_, _ = io.Copy(out, in)
}
