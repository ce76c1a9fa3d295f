package guard

import (
	"fmt"

	"github.com/redis-vip/redis-vip/node"
)

// Action is what the include file will tell redis-server.
type Action string

// The actions guard can take.
const (
	// LeaveAlone writes no directive: redis.conf decides.
	LeaveAlone Action = "leave-alone"
	// StartAsReplica writes `replicaof <peer>`.
	StartAsReplica Action = "start-as-replica"
	// StartAsMaster writes `replicaof no one`, so a replicaof left in
	// redis.conf by CONFIG REWRITE cannot make local copy an empty or older peer.
	StartAsMaster Action = "start-as-master"
	// RefuseStart writes nothing and fails, so redis-server does not start:
	// the peer is alive but cannot be read, and local holds data, so neither
	// role is safe (S9); systemd starts it again later.
	RefuseStart Action = "refuse-start"
)

// LocalData is what the local persistence files say.
type LocalData struct {
	// Path is the file inspected ("" when none was found).
	Path string
	// Missing: no data file at all. Empty: a file with no keys.
	Missing, Empty bool
	// Corrupt: the file could not be read; redis-server would refuse it too.
	Corrupt bool
	// HasReplInfo: the file records the replication history it was saved at.
	HasReplInfo bool
	ReplID      string
	ReplOffset  int64
}

// HasData reports whether the local files hold keys (or may: unreadable
// files count as data so that they are backed up, never silently dropped).
func (d LocalData) HasData() bool { return !d.Missing && !d.Empty }

// Input is what Decide looks at.
type Input struct {
	Local LocalData
	// Peer is nil when it could not be read.
	Peer *node.Facts
	// PeerAnswered: Peer is nil because the peer answered with an error
	// (-BUSY, maxclients, ...): it is alive (S9).
	PeerAnswered bool
	// RefuseDiverged is on_diverged = refuse: a diverged local dataset is
	// kept (local starts as master) rather than backed up and resynced, as
	// the notify hooks do.
	RefuseDiverged bool
	// LocalAnnounce is how the peer knows the local Redis.
	LocalAnnounce node.Addr
}

// Decision is guard's answer.
type Decision struct {
	Action Action `json:"action"`
	// PromotePeer: the peer is a replica of this (stopped) node and holds the
	// data; it must become master before local starts as its replica, or the
	// two would replicate each other.
	PromotePeer bool `json:"promote_peer,omitempty"`
	// BackupLocal: copy the local data file before it is discarded (S6).
	BackupLocal bool   `json:"backup_local,omitempty"`
	Reason      string `json:"reason"`
}

// Decide is pure: local files and peer facts in, decision out.
func Decide(in Input) Decision {
	l := in.Local
	if in.Peer == nil && in.PeerAnswered {
		if l.HasData() {
			return Decision{Action: RefuseStart, Reason: "the peer answers with an error, so it is alive, but its data cannot be read: local holds data, so it starts neither as master nor as replica (S9); systemd retries"}
		}
		return Decision{Action: LeaveAlone, Reason: "the peer answers with an error (alive) and there is no local data: start as configured"}
	}
	if in.Peer == nil {
		if l.HasData() {
			// redis.conf may say replicaof the peer (CONFIG REWRITE, S7); a
			// node with data never follows a peer nobody could look at: it
			// might come up empty and wipe this one (S1).
			return Decision{Action: StartAsMaster, Reason: "peer unreachable and local files hold data: start as master; the notify hooks decide who follows once both are up"}
		}
		return Decision{Action: LeaveAlone, Reason: "peer unreachable and no local data: start as configured"}
	}
	p := *in.Peer
	if p.Loading || p.MasterSyncInProgress {
		return Decision{Action: LeaveAlone, Reason: "peer is still loading or in a full sync: its dataset is not finished (S11): start as configured"}
	}
	peerIsOurReplica := p.Role == node.RoleReplica && p.Master().Same(in.LocalAnnounce)
	if p.Empty() {
		if l.HasReplInfo && node.Compare(node.Facts{ReplID: l.ReplID, ReplOffset: l.ReplOffset, Keys: 1}, p) == node.Behind {
			// The peer holds local's position and went further, then lost
			// every key: drained on purpose (FLUSHALL), the newest write.
			return Decision{Action: StartAsReplica, PromotePeer: peerIsOurReplica, BackupLocal: true,
				Reason: fmt.Sprintf("peer was emptied on purpose after local's position (its history holds offset %d and goes to %d): back up local, then follow", l.ReplOffset, p.ReplOffset)}
		}
		if l.HasData() {
			return Decision{Action: StartAsMaster, Reason: "peer is empty and local files hold data: never copy the empty peer (S1)"}
		}
		return Decision{Action: LeaveAlone, Reason: "both empty"}
	}
	replica := func(reason string, backup bool) Decision {
		return Decision{Action: StartAsReplica, PromotePeer: peerIsOurReplica, BackupLocal: backup && l.HasData(), Reason: reason}
	}
	switch {
	case l.Missing:
		return replica(fmt.Sprintf("no local data file while the peer holds %d keys (S5)", p.Keys), false)
	case l.Corrupt:
		return replica(fmt.Sprintf("local data file %s is unreadable while the peer holds %d keys", l.Path, p.Keys), true)
	case l.Empty:
		return replica(fmt.Sprintf("local data file is empty while the peer holds %d keys (S5)", p.Keys), false)
	case !l.HasReplInfo:
		return replica("local file records no replication history, so it cannot prove it is fresher than the live peer", true)
	}
	local := node.Facts{ReplID: l.ReplID, ReplOffset: l.ReplOffset, Keys: 1}
	switch rel := node.Compare(local, p); rel {
	case node.Ahead:
		return Decision{Action: StartAsMaster, Reason: fmt.Sprintf("local file (offset %d) is ahead of the peer: keep it", l.ReplOffset)}
	case node.Same:
		if peerIsOurReplica {
			return Decision{Action: LeaveAlone, Reason: "local file matches the peer, which replicates us"}
		}
		return replica("local file matches the peer, a live master: follow it", false)
	case node.Behind:
		return replica(fmt.Sprintf("local file (offset %d) is older than the peer (%s) (S5)", l.ReplOffset, p.Summary()), false)
	default:
		if in.RefuseDiverged {
			return Decision{Action: StartAsMaster, Reason: "local file's history diverged from the peer's and on_diverged is refuse: keep it and start as master; the operator chooses (S1)"}
		}
		return replica("local file's history diverged from the peer's, which holds the live data: back it up, then follow", true)
	}
}
