package transition

import (
	"context"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/node"
)

// Snapshots is the Backupper of a live server (S6): package backup's
// writer takes a BGSAVE, copies the RDB into the instance's backup
// directory under a name with the time, replid and offset, verifies that
// the copy reads back, and keeps the newest backups of the instance.
type Snapshots struct {
	Writer *backup.Writer
}

// Backup saves s's dataset and returns the backup's path; an error (the
// copy did not verify, among others) means the dataset must not be
// discarded.
func (b Snapshots) Backup(ctx context.Context, s Server, f node.Facts) (string, error) {
	res, err := b.Writer.Snapshot(ctx, s, f)
	if err != nil {
		return "", err
	}
	return res.Path, nil
}
