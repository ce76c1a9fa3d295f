package torture

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// sample is what the suite's own monitor read from one server at one
// instant: the suite's oracle, parsed here independently of the product's
// node package so a parsing bug there cannot hide a violation.
type sample struct {
	At  time.Time
	Err string // "" when the server answered

	Role       string // "master" or "slave"
	MasterHost string
	MasterPort int
	LinkUp     bool
	Syncing    bool
	Loading    bool
	ReplID     string
	ReplID2    string
	Offset     int64
	SecondOff  int64
	Keys       int64
	RunID      string
	Replicas   []replicaEntry
}

type replicaEntry struct {
	Addr  string
	State string
	Lag   int64
}

func (s sample) ok() bool { return s.Err == "" }

func (s sample) masterAddr() string {
	if s.Role != "slave" {
		return ""
	}
	return net.JoinHostPort(s.MasterHost, strconv.Itoa(s.MasterPort))
}

// empty: finished loading, no keys, not in a full sync.
func (s sample) empty() bool { return s.ok() && !s.Loading && !s.Syncing && s.Keys == 0 }

func (s sample) String() string {
	if !s.ok() {
		return "unreachable(" + s.Err + ")"
	}
	r := fmt.Sprintf("%s keys=%d replid=%.8s off=%d", s.Role, s.Keys, s.ReplID, s.Offset)
	if s.Role == "slave" {
		link := "down"
		if s.LinkUp {
			link = "up"
		}
		r += fmt.Sprintf(" of=%s link=%s", s.masterAddr(), link)
	}
	if s.Syncing {
		r += " syncing"
	}
	if s.Loading {
		r += " loading"
	}
	return r
}

// parseInfo reads INFO output into a sample (key:value lines, any order).
func parseInfo(at time.Time, text string) sample {
	s := sample{At: at}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch {
		case k == "role":
			s.Role = v
		case k == "master_host":
			s.MasterHost = v
		case k == "master_port":
			s.MasterPort = int(n)
		case k == "master_link_status":
			s.LinkUp = v == "up"
		case k == "master_sync_in_progress":
			s.Syncing = v == "1"
		case k == "loading":
			s.Loading = v == "1"
		case k == "master_replid":
			s.ReplID = v
		case k == "master_replid2":
			s.ReplID2 = v
		case k == "master_repl_offset":
			s.Offset = n
		case k == "second_repl_offset":
			s.SecondOff = n
		case k == "run_id":
			s.RunID = v
		case strings.HasPrefix(k, "db") && strings.HasPrefix(v, "keys="):
			kv, _, _ := strings.Cut(strings.TrimPrefix(v, "keys="), ",")
			c, _ := strconv.ParseInt(kv, 10, 64)
			s.Keys += c
		case strings.HasPrefix(k, "slave") && strings.Contains(v, "ip="):
			s.Replicas = append(s.Replicas, parseReplica(v))
		}
	}
	return s
}

func parseReplica(v string) replicaEntry {
	f := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		f[k] = val
	}
	lag, _ := strconv.ParseInt(f["lag"], 10, 64)
	return replicaEntry{Addr: net.JoinHostPort(f["ip"], f["port"]), State: f["state"], Lag: lag}
}

// contains reports whether a's history contains b's data: same history and a
// is at least as far, or a continued from b's history at or after b's
// offset. Empty b is contained in anything.
func contains(a, b sample) bool {
	if b.Keys == 0 {
		return true
	}
	if a.Keys == 0 {
		return false
	}
	if a.ReplID == b.ReplID {
		return a.Offset >= b.Offset
	}
	if a.ReplID2 == b.ReplID && a.SecondOff >= b.Offset {
		return true
	}
	// b was promoted and has taken nothing since (its offset is still where
	// its new history began): it stands at its old position, which a may
	// hold. Redis itself resumes such a node with a partial resync.
	if b.ReplID2 != "" && b.SecondOff > 0 && b.Offset == b.SecondOff-1 {
		return (a.ReplID == b.ReplID2 && a.Offset >= b.Offset) || (a.ReplID2 == b.ReplID2 && a.SecondOff > b.Offset)
	}
	return false
}

// diverged: both hold data and neither history contains the other.
func diverged(a, b sample) bool { return !contains(a, b) && !contains(b, a) }
