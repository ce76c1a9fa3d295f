package wiring

import (
	"context"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/transition"
	"github.com/redis-vip/redis-vip/witness"
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
		LocalAnnounce: in.Announce, PeerAddr: in.Peer,
		State:   StateDir(in),
		Backups: backups,
		Opts: transition.Options{Force: force, FollowDiverged: in.OnDiverged == config.DivergedBackupAndFollow, Handover: in.Handover,
			SyncTimeout: in.Timeouts.Sync, PeerWait: in.Timeouts.PeerWait, Holdoff: in.Timeouts.Holdoff, Poll: poll,
			MaxLinkDown: in.MaxLinkDown, FenceAfter: in.FenceAfter, LeaseDuration: in.LeaseDuration(),
			StaleMasterAfter: in.Timeouts.Transition},
		Now:     time.Now,
		Witness: Witness(in, log),
		VIPs:    func() transition.VIPs { return VIPs(in) },
	}
}

// VIPs says whether the instance has VIPs configured (Known) and whether
// one of them is on this host's interfaces (Held). An interface list that
// cannot be read leaves it unknown.
func VIPs(in config.Instance) transition.VIPs {
	if len(in.VIPs) == 0 {
		return transition.VIPs{}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return transition.VIPs{}
	}
	return transition.VIPs{Known: true, Held: check.HoldsAny(in.VIPs, addrs)}
}

// Witness is the instance's witness client, nil without a witness. A
// client that cannot be built (config checked its arguments, so this is
// a bug) is replaced by one that fails every call: no lease, so no
// promotion on unknown evidence, never a promotion without the witness.
func Witness(in config.Instance, log *zap.Logger) transition.Witness {
	if !in.Fencing() || !in.HasWitness() {
		return nil
	}
	c, err := witness.NewClient(in.Witness.Address, in.Witness.Pair, in.Announce.String(), in.Witness.Secret, in.Witness.Timeout)
	if err != nil {
		log.Error("witness client", zap.Error(err))
		return brokenWitness{err}
	}
	return c
}

type brokenWitness struct{ err error }

func (b brokenWitness) Acquire(context.Context, time.Duration) (witness.Lease, error) {
	return witness.Lease{}, b.err
}
func (b brokenWitness) Release(context.Context) error { return b.err }
