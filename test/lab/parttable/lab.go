package parttable

import (
	"context"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// The hosts of both labs: the Redis hosts h1 and h2, the witness host w.
const (
	H1, H2  = "h1", "h2"
	Witness = "w"
)

// Hosts are the two Redis hosts.
var Hosts = []string{H1, H2}

// Lab is what a cell needs of a lab, in the names and semantics both labs
// share (package labnet). host is h1 or h2 unless said otherwise. Every
// method is bounded in time.
type Lab interface {
	// Peer is the other Redis host.
	Peer(host string) string
	// Addr is host's own address (no port), as rv-writer names the server
	// that acknowledged a write.
	Addr(host string) string
	// Announce is host's Redis as the pair and the witness name it
	// (address:port).
	Announce(host string) string

	// State reads both Redis servers and the VIP now.
	State(ctx context.Context) State
	// WaitSettled waits at most timeout until one Redis is master, the VIP
	// is on it, the other replicates it in sync (and whatever else the
	// lab's daemons must agree on), and ok (nil: any) accepts the master;
	// it returns the master and the last state seen.
	WaitSettled(ctx context.Context, timeout time.Duration, ok func(master string) bool) (string, State, error)

	// Isolate cuts host (h1, h2 or w) from everything; Heal undoes it.
	Isolate(ctx context.Context, host string) error
	Heal(ctx context.Context, host string) error
	// Split cuts h1 from h2 while the client and w reach both.
	Split(ctx context.Context) error
	HealSplit(ctx context.Context) error
	// PowerOff kills every process of host at once, its cable pulled
	// first; Boot powers it on and starts its processes as its boot would
	// (Redis through guard, then the pair's VRRP daemon).
	PowerOff(ctx context.Context, host string) error
	Boot(ctx context.Context, host string) error
	// KillRedis kills host's redis-server with SIGKILL; StartRedis starts
	// it again as its service would (guard first).
	KillRedis(ctx context.Context, host string) error
	StartRedis(ctx context.Context, host string) error
	// StartWitness starts `redis-vip witness` on w and waits until it
	// listens; KillWitness kills it with SIGKILL (its host stays up).
	StartWitness(ctx context.Context) error
	KillWitness(ctx context.Context) error

	// StartWriter runs rv-writer: from the client through the VIP when
	// host is "client", else inside host against its own Redis
	// (127.0.0.1:6379). args are rv-writer flags added to the lab's.
	StartWriter(ctx context.Context, name, host string, args ...string) (Writer, error)
	// VerifyLog counts the lost writes of a writer's ack log (or saved log)
	// from the client namespace: rv-writer --verify-log, waiting up to
	// settle for one master the VIP reaches.
	VerifyLog(ctx context.Context, path string, settle time.Duration) (writer.Report, error)

	// Dir is the lab's directory (the ack logs and scratch dirs go there).
	Dir() string
	// Exec runs argv inside host's namespace and returns its output.
	Exec(ctx context.Context, host string, argv ...string) (string, error)
	// RedisVIPLog is the file host's redis-vip logs to (JSON lines);
	// WitnessLog the witness's log; BackupDir where host's redis-vip keeps
	// its backups of Instance.
	RedisVIPLog(host string) string
	WitnessLog() string
	BackupDir(host string) string
	Instance() string
}

// Writer is a running rv-writer.
type Writer interface {
	// Acked is how many writes were acknowledged so far (its progress).
	Acked() int
	// Stop interrupts it (it stops writing and verifies) and returns its
	// report, bounded by timeout; an error when it left no report (e.g.
	// killed with its host).
	Stop(timeout time.Duration) (writer.Report, error)
	// SavedLog is where it saves its acknowledged writes when it stops.
	SavedLog() string
}

// State is both Redis servers and the VIP at one moment.
type State struct {
	// Masters are the hosts whose Redis is up and master.
	Masters []string
	// VIP is h1, h2, none or h1+h2.
	VIP string
	// Desc is one line for the test log.
	Desc string
}

func (s State) String() string { return s.Desc }
