package node

import (
	"fmt"
	"time"
)

// Role is the replication role a node reports.
type Role string

// The roles a node can report.
const (
	RoleMaster  Role = "master"
	RoleReplica Role = "replica"
)

// Replica is one entry of a master's replica list (INFO replication slaveN).
type Replica struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	State  string `json:"state"`
	Offset int64  `json:"offset"`
	Lag    int64  `json:"lag"`
}

// Addr returns the replica's address (its String is "" when INFO named no ip).
func (r Replica) Addr() Addr { return Addr{Host: r.IP, Port: r.Port} }

// Facts is what INFO server, replication, persistence and keyspace say about
// a node at one instant.
type Facts struct {
	// Addr is the address the facts were read from.
	Addr string `json:"addr"`
	// ServerName is "redis" or "valkey".
	ServerName string  `json:"server_name"`
	Version    Version `json:"version"`
	RunID      string  `json:"run_id"`
	Uptime     int64   `json:"uptime_seconds"`
	// ConfigFile is the file the server was started from ("" when none).
	ConfigFile string `json:"config_file,omitempty"`
	Loading    bool   `json:"loading"`

	Role Role `json:"role"`
	// MasterHost and MasterPort are set on a replica.
	MasterHost string `json:"master_host,omitempty"`
	MasterPort int    `json:"master_port,omitempty"`
	// MasterLinkUp is true on a replica whose link to its master is up.
	MasterLinkUp         bool  `json:"master_link_up"`
	MasterSyncInProgress bool  `json:"master_sync_in_progress"`
	MasterLastIOSecsAgo  int64 `json:"master_last_io_seconds_ago"`
	// MasterLinkDownSecs is how long the link has been down (-1 unknown).
	MasterLinkDownSecs int64     `json:"master_link_down_since_seconds"`
	Replicas           []Replica `json:"replicas,omitempty"`
	// GoodReplicas is how many replicas the master counts for
	// min-replicas-to-write (min_slaves_good_slaves); INFO shows it, and
	// GoodReplicasCounted is true, only while that setting and
	// min-replicas-max-lag are on (a fence).
	GoodReplicas        int64  `json:"good_replicas,omitempty"`
	GoodReplicasCounted bool   `json:"good_replicas_counted,omitempty"`
	FailoverState       string `json:"failover_state,omitempty"`

	// ReplID and ReplOffset name the node's position in its replication
	// history; ReplID2 and SecondReplOffset the history it continued from.
	ReplID           string `json:"replid"`
	ReplID2          string `json:"replid2"`
	ReplOffset       int64  `json:"repl_offset"`
	SecondReplOffset int64  `json:"second_repl_offset"`
	// BacklogActive, BacklogFirstByte and BacklogHistLen say which part of
	// the replication stream the node still holds (repl_backlog_*).
	BacklogActive    bool  `json:"repl_backlog_active,omitempty"`
	BacklogFirstByte int64 `json:"repl_backlog_first_byte_offset,omitempty"`
	BacklogHistLen   int64 `json:"repl_backlog_histlen,omitempty"`

	// Keys is the number of keys over all databases.
	Keys int64 `json:"keys"`

	// UsedMemory and MaxMemory (bytes; 0 = no limit) are set only when
	// INFO memory was read (Client.FactsWithMemory).
	UsedMemory int64 `json:"used_memory,omitempty"`
	MaxMemory  int64 `json:"maxmemory,omitempty"`

	AOFEnabled          bool      `json:"aof_enabled"`
	RDBLastSave         time.Time `json:"rdb_last_save"`
	RDBChangesSinceSave int64     `json:"rdb_changes_since_last_save"`
	RDBBgsaveInProgress bool      `json:"rdb_bgsave_in_progress"`
	RDBLastBgsaveOK     bool      `json:"rdb_last_bgsave_ok"`
	AOFLastWriteOK      bool      `json:"aof_last_write_ok"`
}

// Master returns the address a replica follows (the zero Addr on a master).
func (f Facts) Master() Addr {
	if f.Role != RoleReplica {
		return Addr{}
	}
	return Addr{Host: f.MasterHost, Port: f.MasterPort}
}

// MasterAddr returns the host:port a replica follows ("" on a master), for
// messages: compare Master with Addr.Same.
func (f Facts) MasterAddr() string { return f.Master().String() }

// LinkedTo reports whether f is a replica of the server at addr with its
// link up: its history is that server's, so an offset above the master's is
// read skew (f was read a moment later), not data the master lacks.
func (f Facts) LinkedTo(addr Addr) bool {
	return f.Role == RoleReplica && f.MasterLinkUp && f.Master().Same(addr)
}

// Empty reports whether the node has finished loading and holds no keys.
func (f Facts) Empty() bool { return !f.Loading && f.Keys == 0 }

// NoHistory reports whether f holds data that no replication history
// records: offset 0 and no replid2. Redis 7.0 reports that for a dataset
// loaded from a file that records no history (an AOF) and for a master that
// never had a replica (without a backlog it counts no offset). Compare
// cannot place such data on anyone's history, so it calls it diverged.
func (f Facts) NoHistory() bool { return !f.Empty() && f.ReplOffset == 0 && !hasReplID2(f) }

// AwaitsFirstSync reports whether replica l, following master p at
// masterAddr, has not been linked since it started and holds data no
// history records: what guard does when a file cannot prove it is fresher
// than the live peer (after backing the file up, S6). Redis replaces that
// data at the coming sync, so p's data is the one that counts (S1, S11):
// judged on replids alone, the two would look diverged.
func AwaitsFirstSync(l, p Facts, masterAddr Addr) bool {
	return l.Role == RoleReplica && l.Master().Same(masterAddr) && !l.MasterLinkUp && l.MasterLinkDownSecs < 0 &&
		l.NoHistory() && p.Role == RoleMaster && !p.Empty() && !p.Loading
}

// InSync reports whether a replica's link is up and no full sync runs.
func (f Facts) InSync() bool {
	return f.Role == RoleReplica && f.MasterLinkUp && !f.MasterSyncInProgress
}

// Summary is a one-line description used in logs and refusals.
func (f Facts) Summary() string {
	s := fmt.Sprintf("%s %s keys=%d replid=%s offset=%d", f.Addr, f.Role, f.Keys, short(f.ReplID), f.ReplOffset)
	if f.Role == RoleReplica {
		link := "down"
		if f.MasterLinkUp {
			link = "up"
		}
		s += fmt.Sprintf(" of=%s link=%s", f.MasterAddr(), link)
	}
	if f.Loading {
		s += " loading"
	}
	return s
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
