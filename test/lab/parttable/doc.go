// Package parttable is the partition table of issue 10, independent of the
// lab it runs on: the rows (partition shapes and crashes), the columns
// (fencing off, fence_after 3s, fence_after 3s with a witness), one cell's
// run (the fault and its hold, the failover wait, two writers and their
// accounting, the backups read back, the goals) and the rendering of the
// table. Both end-to-end modes run it: test/e2e on the keepalived lab
// (test/lab), test/vrrpe2e on the built-in VRRP lab (test/lab/netlab),
// each through a small adapter that satisfies Lab.
//
// A cell builds its own lab (Table.NewLab, with the column's settings),
// waits for the pair to settle, starts a writer through the VIP (from the
// client) and one on the master's own host against its local Redis (with an
// ack log, so a power-off cannot hide its acknowledgements), makes the
// fault, holds it HoldFor, heals it, waits for the pair to settle again and
// counts each writer's acknowledged writes missing from the final master,
// then looks the lost ones up in every backup the pair left (each read back
// in a scratch Redis). The cells assert only the safety goals, never a time.
//
// Every wait is bounded; the labs clean up their namespaces and processes
// in t.Cleanup, also after a failure.
package parttable
