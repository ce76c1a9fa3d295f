package e2e

// The partition table of issue 10: what each partition shape and crash
// costs in acknowledged writes, with fencing off (today), with fencing
// (fence_after 3s) and with fencing and a witness. Each cell is a subtest
// with its own lab (partition_table_cell_test.go); the table is printed at
// the end (t.Log, -v) and written as markdown to a file whose path is
// logged. The cells assert only the safety goals, never a time.
//
// The whole table takes 8 to 10 minutes (14 labs), so it runs only with
// RV_PARTITION_TABLE=1 (as root, with RV_E2E=1):
//
//	RV_E2E=1 RV_PARTITION_TABLE=1 go test -count=1 -timeout 30m -run TestPartitionTable -v ./test/e2e/
//
// -run 'TestPartitionTable/split/' runs one row, -run
// 'TestPartitionTable//witness' one column. RV_PARTITION_TABLE_OUT names
// the directory for the table and each cell's logs (default a new
// directory under $TMPDIR; it is kept). The default end-to-end tier runs
// one cell, TestPartitionSplitCell.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// tableEnv turns the full table on.
const tableEnv = "RV_PARTITION_TABLE"

func TestPartitionTable(t *testing.T) {
	if env.skip != "" {
		t.Skip(env.skip)
	}
	if os.Getenv(tableEnv) != "1" {
		t.Skipf("the full partition table takes 8 to 10 minutes: set %s=1 to run it (TestPartitionSplitCell runs one cell)", tableEnv)
	}
	out := tableOut(t)
	begin := time.Now()
	var results []*result
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			for _, m := range modes {
				t.Run(m.name, func(t *testing.T) {
					if sh.witnessOnly && !m.witness {
						t.Skip("no witness in this column")
					}
					res := &result{Shape: sh.name, Mode: m.name, Skipped: "did not finish"}
					results = append(results, res)
					*res = *runCell(t, sh, m, filepath.Join(out, sh.name+"-"+m.name))
					t.Logf("partition table: %s", res.summary())
				})
			}
		})
	}
	writeTable(t, out, results, time.Since(begin))
}

// TestPartitionSplitCell is the table's cell the default end-to-end tier
// runs: the link between the hosts cut while the client reaches both, with
// fencing and the witness (goal: nothing lost).
func TestPartitionSplitCell(t *testing.T) {
	if env.skip != "" {
		t.Skip(env.skip)
	}
	res := runCell(t, shapes[1], modes[2], "")
	t.Logf("partition table: %s", res.summary())
}

// tableOut is the directory for the table and the cells' logs.
func tableOut(t *testing.T) string {
	dir := os.Getenv("RV_PARTITION_TABLE_OUT")
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

// writeTable prints the table and writes it to out/table.md.
func writeTable(t *testing.T, out string, results []*result, took time.Duration) {
	byCell := map[string]*result{}
	for _, r := range results {
		byCell[r.Shape+"/"+r.Mode] = r
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| partition |")
	for _, m := range modes {
		fmt.Fprintf(&b, " %s |", m.title)
	}
	fmt.Fprintf(&b, "\n|---|")
	for range modes {
		fmt.Fprintf(&b, "---|")
	}
	b.WriteString("\n")
	for _, sh := range shapes {
		fmt.Fprintf(&b, "| %s |", sh.title)
		for _, m := range modes {
			fmt.Fprintf(&b, " %s |", cellText(sh, m, byCell[sh.name+"/"+m.name]))
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
	fmt.Fprintf(&b, "\nOne lab per cell (keepalived, notify FIFO variant, Redis %s); writers at 10 ms between writes; partitions held %s; table run %s.\n",
		redisVersion(), holdFor, took.Round(time.Second))
	b.WriteString("\n| partition | column | VIP lost/acked | host lost/acked | host rate, fence_after allows | old master fenced, last lost host write | lost in a backup | VIP gap | VIP writes by server | final master | goals |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sh := range shapes {
		for _, m := range modes {
			r := byCell[sh.name+"/"+m.name]
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
				sh.name, m.name, r.VIP.Lost, r.VIP.Acked, r.Host.Lost, r.Host.Acked, killed, r.HostRate, r.Bound,
				seconds(r.FencedAfter), seconds(r.LostAfter), r.VIPInBackup+r.HostInBackup, r.VIP.Lost+r.Host.Lost, r.VIP.MaxGapMS, byServer(r.VIP.AckedBy), r.VIP.FinalMaster, goals)
		}
	}
	path := filepath.Join(out, "table.md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("write the table: %v", err)
	}
	t.Logf("partition table (also in %s; each cell's logs in %s/<row>-<column>/):\n\n%s", path, out, b.String())
}

func cellText(sh shape, m mode, r *result) string {
	switch {
	case sh.witnessOnly && !m.witness:
		return "(no witness)"
	case r == nil:
		return "not run"
	case r.Skipped != "":
		return r.Skipped
	}
	var s strings.Builder
	if sh.crash {
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

func byServer(m map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		name := k
		for h, a := range lab.Addr {
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
