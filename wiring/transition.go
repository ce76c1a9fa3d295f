package wiring

import (
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/transition"
)

// poll is how often a transition re-reads a condition it waits for.
const poll = 50 * time.Millisecond

// StateDir is the instance's lock, journal and state files.
func StateDir(in config.Instance) transition.StateDir {
	return transition.StateDir{Dir: in.StateDir, Instance: in.Name}
}

// Runner builds the transition runner of an instance on the given
// clients; force is --force (follow an empty, older or diverged peer).
func Runner(in config.Instance, local, peer transition.Server, log *zap.Logger, force bool) *transition.Runner {
	backups := transition.Snapshots{Writer: &backup.Writer{Dir: in.BackupDir, Keep: in.BackupsKeep, Instance: in.Name,
		Poll: poll, Now: time.Now, Log: log.With(zap.String("component", "backup"))}}
	return &transition.Runner{
		Log: log, Instance: in.Name, Local: local, Peer: peer,
		LocalAnnounce: in.Announce.String(), PeerAddr: in.Peer.String(),
		State:   StateDir(in),
		Backups: backups,
		Opts: transition.Options{Force: force, FollowDiverged: in.OnDiverged == config.DivergedBackupAndFollow, Handover: in.Handover,
			SyncTimeout: in.Timeouts.Sync, PeerWait: in.Timeouts.PeerWait, Holdoff: in.Timeouts.Holdoff, Poll: poll,
			MaxLinkDown: in.MaxLinkDown},
		Now: time.Now,
	}
}
