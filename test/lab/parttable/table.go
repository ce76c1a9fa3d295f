package parttable

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/internal/testtier"
)

// Table is the partition table on one lab.
type Table struct {
	// NewLab builds the lab of one cell, with column m's settings on every
	// node, and starts the pair (h1 first, so that it is the master); it
	// tears the lab down when the test ends, and before that copies the
	// hosts' logs into keep (when not "").
	NewLab func(t *testing.T, m Mode, keep string) (Lab, context.Context)
	// About names the lab in the table's footnote, e.g. "keepalived,
	// notify FIFO variant".
	About string
	// Addrs are the lab's Redis hosts' addresses (for the table's "VIP
	// writes by server").
	Addrs map[string]string
}

// OutEnv names the directory for the table and each cell's logs.
const OutEnv = "RV_PARTITION_TABLE_OUT"

// Run runs the whole table, one subtest per row and column (-run
// 'TestPartitionTable/split/' runs one row, -run 'TestPartitionTable//witness'
// one column), then prints it (t.Log, -v) and writes it as markdown to
// out/table.md. Gated by testtier.RequirePartitionTable.
func (tb Table) Run(t *testing.T) {
	testtier.RequirePartitionTable(t)
	out := tableOut(t)
	begin := time.Now()
	var results []*Result
	for _, sh := range Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			for _, m := range Modes {
				t.Run(m.Name, func(t *testing.T) {
					if sh.WitnessOnly && !m.Witness {
						t.Skip("no witness in this column")
					}
					res := &Result{Shape: sh.Name, Mode: m.Name, Skipped: "did not finish"}
					results = append(results, res)
					*res = *tb.Cell(t, sh, m, filepath.Join(out, sh.Name+"-"+m.Name))
					t.Logf("partition table: %s", res.Summary())
				})
			}
		})
	}
	tb.write(t, out, results, time.Since(begin))
}

// tableOut is the directory for the table and the cells' logs: OutEnv, or
// a new directory under $TMPDIR (kept).
func tableOut(t *testing.T) string {
	dir := os.Getenv(OutEnv)
	if dir == "" {
		var err error
		dir, err = os.MkdirTemp("", "rvtest-partition-table-")
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// write prints the table and writes it to out/table.md.
func (tb Table) write(t *testing.T, out string, results []*Result, took time.Duration) {
	byCell := map[string]*Result{}
	for _, r := range results {
		byCell[r.Shape+"/"+r.Mode] = r
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| partition |")
	for _, m := range Modes {
		fmt.Fprintf(&b, " %s |", m.Title)
	}
	fmt.Fprintf(&b, "\n|---|")
	for range Modes {
		fmt.Fprintf(&b, "---|")
	}
	b.WriteString("\n")
	for _, sh := range Shapes {
		fmt.Fprintf(&b, "| %s |", sh.Title)
		for _, m := range Modes {
			fmt.Fprintf(&b, " %s |", cellText(sh, m, byCell[sh.Name+"/"+m.Name]))
		}
		b.WriteString("\n")
	}
	b.WriteString(`
Each cell: acknowledged writes lost through the VIP (a writer in the client
namespace) and on the master's own host (a writer there against its local
Redis: where split-brain writes come from); whether the lost ones are in a
backup the pair left (each read back in a scratch Redis); the longest time
between two acknowledged writes through the VIP; for the crashes, whether the
peer took over. MISSED: the cell missed a goal its test asserts.
`)
	fmt.Fprintf(&b, "\nOne lab per cell (%s, Redis %s); writers at 10 ms between writes; partitions held %s; table run %s.\n",
		tb.About, redisVersion(), HoldFor, took.Round(time.Second))
	b.WriteString("\n| partition | column | VIP lost/acked | host lost/acked | host rate, fence_after allows | old master fenced, last lost host write | lost in a backup | VIP gap | VIP writes by server | final master | goals |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sh := range Shapes {
		for _, m := range Modes {
			r := byCell[sh.Name+"/"+m.Name]
			if r == nil || r.Skipped != "" {
				continue
			}
			goals := "met"
			if len(r.Missed) > 0 {
				goals = "MISSED: " + strings.Join(r.Missed, "; ")
			}
			killed := ""
			if r.HostKilled {
				killed = " (ack log)"
			}
			fmt.Fprintf(&b, "| %s | %s | %d/%d | %d/%d%s | %.0f/s, %d | %s, %s | %d/%d | %d ms | %s | %s | %s |\n",
				sh.Name, m.Name, r.VIP.Lost, r.VIP.Acked, r.Host.Lost, r.Host.Acked, killed, r.HostRate, r.Bound,
				seconds(r.FencedAfter), seconds(r.LostAfter), r.VIPInBackup+r.HostInBackup, r.VIP.Lost+r.Host.Lost, r.VIP.MaxGapMS, tb.byServer(r.VIP.AckedBy), r.VIP.FinalMaster, goals)
		}
	}
	path := filepath.Join(out, "table.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("write the table: %v", err)
	}
	t.Logf("partition table (also in %s; each cell's logs in %s/<row>-<column>/):\n\n%s", path, out, b.String())
}

func cellText(sh Shape, m Mode, r *Result) string {
	switch {
	case sh.WitnessOnly && !m.Witness:
		return "(no witness)"
	case r == nil:
		return "not run"
	case r.Skipped != "":
		return r.Skipped
	}
	var s strings.Builder
	if sh.Crash {
		if r.FailedOver {
			s.WriteString("fails over · ")
		} else {
			s.WriteString("**no failover** · ")
		}
	}
	fmt.Fprintf(&s, "VIP %d · host %d", r.VIP.Lost, r.Host.Lost)
	switch lost, kept := r.VIP.Lost+r.Host.Lost, r.VIPInBackup+r.HostInBackup; {
	case lost == 0:
	case kept == lost:
		s.WriteString(", all in a backup")
	default:
		fmt.Fprintf(&s, ", %d of them in a backup", kept)
	}
	fmt.Fprintf(&s, " · gap %.1f s", float64(r.VIP.MaxGapMS)/1000)
	if len(r.Missed) > 0 {
		s.WriteString(" · **MISSED**")
	}
	return s.String()
}

// seconds is d in seconds for the table, "-" for a negative d.
func seconds(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func (tb Table) byServer(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		name := k
		for h, a := range tb.Addrs {
			if a == k {
				name = h
			}
		}
		if name == "" {
			name = "?"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, m[k]))
	}
	return strings.Join(parts, ", ")
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "?"
}
