package e2e

// The partition table of issue 10 on the keepalived lab: what each
// partition shape and crash costs in acknowledged writes, with fencing off
// (today), with fencing (fence_after 3s) and with fencing and a witness.
// The rows, columns, cells and the rendering are package
// test/lab/parttable's (the built-in VRRP mode runs the same table in
// test/vrrpe2e); this file and partition_table_lab_test.go give it the lab.
// Each cell is a subtest with its own lab; the table is printed at the end
// (t.Log, -v) and written as markdown to a file whose path is logged. The
// cells assert only the safety goals, never a time.
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
	"testing"

	"github.com/redis-vip/redis-vip/internal/testtier"
	"github.com/redis-vip/redis-vip/test/lab"
	"github.com/redis-vip/redis-vip/test/lab/parttable"
)

// table is the partition table on the keepalived lab.
var table = parttable.Table{
	NewLab: newPartitionLab,
	About:  "keepalived, notify FIFO variant",
	Addrs:  map[string]string{"h1": lab.Addr["h1"], "h2": lab.Addr["h2"]},
}

func TestPartitionTable(t *testing.T) {
	testtier.RequirePartitionTable(t)
	if env.skip != "" {
		t.Skip(env.skip)
	}
	table.Run(t)
}

// TestPartitionSplitCell is the table's cell the default end-to-end tier
// runs: the link between the hosts cut while the client reaches both, with
// fencing and the witness (goal: nothing lost).
func TestPartitionSplitCell(t *testing.T) {
	if env.skip != "" {
		t.Skip(env.skip)
	}
	res := table.Cell(t, parttable.ShapeNamed("split"), parttable.ModeNamed("witness"), "")
	t.Logf("partition table: %s", res.Summary())
}
