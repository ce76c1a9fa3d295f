package transition

import (
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/config"
)

// pollInterval is how often a transition re-reads a condition it waits for.
const pollInterval = 50 * time.Millisecond

// ForInstance builds the Runner for a configured instance.
func ForInstance(in *config.Instance, local, peer Server, log *zap.Logger, force bool) *Runner {
	backups := Snapshots{Writer: &backup.Writer{Dir: in.BackupDir, Keep: in.BackupsKeep, Instance: in.Name,
		Poll: pollInterval, Now: time.Now, Log: log.With(zap.String("component", "backup"))}}
	return &Runner{
		Log: log, Instance: in.Name, Local: local, Peer: peer,
		LocalAnnounce: in.Announce, PeerAddr: in.Peer,
		State:   StateDir{Dir: in.StateDir, Instance: in.Name},
		Backups: backups,
		Opts: Options{Force: force, FollowDiverged: in.OnDiverged == config.DivergedBackupAndFollow, Handover: in.Handover,
			SyncTimeout: in.Timeouts.Sync, PeerWait: in.Timeouts.PeerWait, Holdoff: in.Timeouts.Holdoff, Poll: pollInterval,
			MaxLinkDown: in.MaxLinkDown},
		Now: time.Now,
	}
}
