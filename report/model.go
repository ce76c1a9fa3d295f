package report

import (
	"time"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// SchemaVersion is the version of the JSON document RenderJSON writes; it
// changes only when a field is removed or changes meaning.
const SchemaVersion = 1

// Status is a verdict; its value is the Nagios plugin exit code.
type Status int

// The verdicts, valued as Nagios exit codes.
const (
	OK       Status = 0
	Warning  Status = 1
	Critical Status = 2
	Unknown  Status = 3
)

// String names the status as Nagios does.
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "WARNING"
	case Critical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// ExitCode is the process exit code for the status.
func (s Status) ExitCode() int { return int(s) }

// rank orders statuses by gravity: OK < WARNING < UNKNOWN < CRITICAL.
func (s Status) rank() int {
	switch s {
	case OK:
		return 0
	case Warning:
		return 1
	case Unknown:
		return 2
	}
	return 3
}

// Worse returns the graver of a and b (CRITICAL over UNKNOWN over WARNING
// over OK).
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// The node sides of a pair, as they appear in reasons, JSON and labels.
const (
	SideLocal = "local"
	SidePeer  = "peer"
)

// Reason is one finding that makes a verdict worse than OK.
type Reason struct {
	Status Status
	// Code is a stable identifier (e.g. "peer_unreachable") for filters and
	// alert rules; Message is for a person.
	Code string
	// Node is SideLocal, SidePeer, or "" for the pair as a whole.
	Node    string
	Message string
}

// Tristate is on, off or unknown (e.g. RDB when CONFIG GET is refused).
type Tristate string

// The values a Tristate takes.
const (
	TriUnknown Tristate = "unknown"
	TriOn      Tristate = "on"
	TriOff     Tristate = "off"
)

// GuardFile is what Gather found of the guard's include file (local only).
type GuardFile struct {
	// Path is the configured guard.include ("" when not known: the peer).
	Path string
	// Exists and ByGuard: the file exists and its first line is guard's.
	Exists, ByGuard bool
	// Written is when guard last wrote it (the file's modification time).
	Written time.Time
	// Window is how long before the Redis process started guard may have run
	// (guard waits up to timeouts.peer_wait for the peer, then Redis starts).
	Window time.Duration
	Err    string
}

// The guard statuses Evaluate gives a node.
const (
	// GuardActive: guard wrote its include file just before the running
	// Redis started, so it runs before every start.
	GuardActive = "active"
	// GuardStale: guard wrote the file, but long before the running Redis
	// started: that start did not go through guard.
	GuardStale = "stale"
	// GuardMissing: there is no file written by guard.
	GuardMissing = "missing"
	// GuardUnknown: cannot tell (the peer's files are on the other host).
	GuardUnknown = "unknown"
)

// Node is one side of the pair as the report saw it.
type Node struct {
	Side string
	// Addr is where the report reached the node; Announce is where the
	// other node reaches it (what its replica's master_host:port shows).
	Addr, Announce node.Addr
	// Facts is nil when the node could not be read; Err says why, and
	// Answered whether the node answered with that error (alive, S9).
	Facts    *node.Facts
	Err      string
	Answered bool
	// Evidence is fence.Classify of the read error ("" when read).
	Evidence string
	// RDB is whether RDB snapshots are configured (CONFIG GET save);
	// SavePolicy is that value; RDBErr says why RDB is unknown.
	RDB        Tristate
	SavePolicy string
	RDBErr     string
	Guard      GuardFile
	// GuardStatus is one of the Guard* constants (set by Evaluate).
	GuardStatus string
}

// reached and announced are Addr and Announce parsed (the zero Addr, the
// same as no server, when one is not host:port): Node keeps the text the
// report shows, and the health endpoints read.
func (n Node) reached() node.Addr   { return n.Addr }
func (n Node) announced() node.Addr { return n.Announce }

// Reachable reports whether the node's facts were read.
func (n Node) Reachable() bool { return n.Facts != nil }

// PersistenceOff reports whether the node certainly persists nothing
// (no RDB snapshots and no AOF).
func (n Node) PersistenceOff() bool {
	return n.Facts != nil && n.RDB == TriOff && !n.Facts.AOFEnabled
}

// The replication states of a pair.
const (
	// ReplMasterReplica: one master, the other its replica (the healthy shape).
	ReplMasterReplica = "master-replica"
	// ReplBothMasters: two masters; writes on one never reach the other.
	ReplBothMasters = "both-masters"
	// ReplLoop: each node replicates the other.
	ReplLoop = "loop"
	// ReplBothReplicas: two replicas, not of each other: no master in the pair.
	ReplBothReplicas = "both-replicas"
	// ReplElsewhere: one master; the other replicates a third server.
	ReplElsewhere = "replica-elsewhere"
	// ReplUnknown: a node could not be read.
	ReplUnknown = "unknown"
)

// ReplStates lists every replication state, in the order metrics show them.
func ReplStates() []string {
	return []string{ReplMasterReplica, ReplBothMasters, ReplLoop, ReplBothReplicas, ReplElsewhere, ReplUnknown}
}

// Replication is who follows whom and how far behind (set by Evaluate).
type Replication struct {
	State string
	// Master and Replica are sides ("local", "peer") when known.
	Master, Replica string
	// LinkUp and SyncInProgress are the replica's view of its link.
	LinkUp, SyncInProgress bool
	// LagBytes is the master's offset minus the replica's (same history
	// only); LagSeconds is the replica's master_last_io_seconds_ago (link
	// up only). HasLagBytes and HasLagSeconds say whether each is known.
	LagBytes, LagSeconds       int64
	HasLagBytes, HasLagSeconds bool
	// Relation is how local's data stands against the peer's: node.Compare,
	// with node.Unskew when one follows the other ("" when a node is
	// unreadable).
	Relation string
}

// The holders a VIP can have.
const (
	HolderLocal   = "local"
	HolderPeer    = "peer"
	HolderNone    = "none"
	HolderOther   = "other"
	HolderUnknown = "unknown"
)

// VIPHolders lists every holder value, in the order metrics show them.
func VIPHolders() []string {
	return []string{HolderLocal, HolderPeer, HolderNone, HolderOther, HolderUnknown}
}

// VIP is what the report found of one virtual IP.
type VIP struct {
	// Addr is ip:port, the port being the Redis port clients use.
	Addr string
	// OnLocalInterface: this host has the IP on one of its interfaces.
	OnLocalInterface bool
	// RunID is the run_id of the Redis that answered on Addr ("" none).
	RunID string
	// Err says why nothing answered on Addr.
	Err string
	// Holder is one of the Holder* constants (set by Evaluate).
	Holder string
}

// State is the instance's state dir as the report read it.
type State struct {
	// LastEvent is the newest event keepalived sent ("" none).
	LastEvent transition.Event
	// Busy: a transition holds the instance lock right now.
	Busy    bool
	Holdoff transition.Holdoff
	// Maintenance is the instance's maintenance mode on this host.
	Maintenance maintenance.State
	Err         string
}

// Journal is the tail of the instance's journal.
type Journal struct {
	Path string
	// Records are the newest transitions read, oldest first.
	Records []transition.Record
	// Unreadable counts lines that were not journal records.
	Unreadable int
	Err        string
	// FailedInWindow counts records in the window with outcome failed,
	// refused or sync-timeout (set by Evaluate).
	FailedInWindow int
}

// Backups are the dataset copies kept for the instance (S6).
type Backups struct {
	Dir    string
	Count  int
	Bytes  int64
	Newest time.Time
	Err    string
}

// Instance is the report for one configured pair.
type Instance struct {
	Name string
	// Err, when set, is why the instance could not be reported at all
	// (e.g. invalid configuration): its status is UNKNOWN.
	Err      string
	Duration time.Duration
	Local    Node
	Peer     Node
	VIPs     []VIP
	State    State
	Journal  Journal
	Backups  Backups
	// MaxLinkDown is max_link_down (S10): the check verdict uses it.
	MaxLinkDown time.Duration
	// Fence is partition safety (issue 10).
	Fence Fence

	// Set by Evaluate.
	Replication Replication
	Check       *check.Result
	Reasons     []Reason
	Status      Status
}

// Report is the whole report: one entry per instance.
type Report struct {
	GeneratedAt time.Time
	Host        string
	Thresholds  Thresholds
	// Err, when set, is why no instance could be reported (e.g. the
	// configuration file is unreadable): the status is UNKNOWN.
	Err       string
	Instances []Instance
	// TextfileErr, when set, is why the metrics could not be written for
	// node_exporter (WriteTextfile): the verdict is then at least UNKNOWN,
	// since monitoring that reads the metrics sees stale values.
	TextfileErr string
}

// Status is the gravest status over every instance, and at least UNKNOWN
// when the metrics could not be written.
func (r Report) Status() Status {
	if r.Err != "" {
		return Unknown
	}
	s := OK
	if r.TextfileErr != "" {
		s = Unknown
	}
	for _, in := range r.Instances {
		s = Worse(s, in.Status)
	}
	return s
}

// Thresholds are the limits the verdict compares against; a zero value
// disables that check.
type Thresholds struct {
	LagBytesWarn, LagBytesCrit     int64
	LagSecondsWarn, LagSecondsCrit time.Duration
	// SaveAgeWarn/Crit apply to a node whose only persistence is RDB and
	// that has unsaved changes.
	SaveAgeWarn, SaveAgeCrit time.Duration
	// MemoryWarn/Crit are percentages of maxmemory.
	MemoryWarn, MemoryCrit float64
	// JournalWindow is how far back failed transitions count.
	JournalWindow time.Duration
	// JournalEntries is how many transitions the report shows.
	JournalEntries int
}

// DefaultThresholds are the limits used unless flags say otherwise (the
// defaults of ThresholdFlags).
func DefaultThresholds() Thresholds { return defaultThresholds() }
