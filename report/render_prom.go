package report

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/redis-vip/redis-vip/internal/atomicfile"
	"github.com/redis-vip/redis-vip/node"
)

// TextfileName is the file WriteTextfile writes in node_exporter's
// textfile collector directory.
const TextfileName = "redis_vip.prom"

// The label that names the pair is "pair", not "instance": Prometheus sets
// its own instance label (the scrape target) and would rename ours.

type promSample struct {
	labels []string // name, value, name, value...
	value  float64
}

type promFamily struct {
	name, help string
	samples    []promSample
}

// promSet collects gauge families in the order they are first used.
type promSet struct {
	fams   []*promFamily
	byName map[string]*promFamily
}

func (s *promSet) add(name, help string, value float64, labels ...string) {
	f, ok := s.byName[name]
	if !ok {
		f = &promFamily{name: name, help: help}
		s.fams = append(s.fams, f)
		s.byName[name] = f
	}
	f.samples = append(f.samples, promSample{labels: labels, value: value})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// RenderPrometheus writes the report in the Prometheus text exposition
// format (version 0.0.4): gauges named redis_vip_*, in base units, with
// HELP and TYPE lines, labelled by pair (the instance name) and node.
func RenderPrometheus(w io.Writer, r Report) error {
	s := &promSet{byName: map[string]*promFamily{}}
	s.add("redis_vip_report_timestamp_seconds", "When the report was made (Unix time).", float64(r.GeneratedAt.Unix()))
	s.add("redis_vip_report_failed", "1 when the report itself failed (e.g. unreadable configuration); no pair is reported then.", b2f(r.Err != ""))
	for _, in := range r.Instances {
		promInstance(s, in)
	}
	var b strings.Builder
	for _, f := range s.fams {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", f.name, escapeHelp(f.help), f.name)
		for _, sm := range f.samples {
			b.WriteString(f.name)
			if len(sm.labels) > 0 {
				b.WriteByte('{')
				for i := 0; i+1 < len(sm.labels); i += 2 {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%s=\"%s\"", sm.labels[i], escapeLabel(sm.labels[i+1]))
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(promValue(sm.value))
			b.WriteByte('\n')
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report prometheus: %w", err)
	}
	return nil
}

func promInstance(s *promSet, in Instance) {
	pair := []string{"pair", in.Name}
	with := func(extra ...string) []string { return append(append([]string{}, pair...), extra...) }
	s.add("redis_vip_report_status", "Verdict of the pair: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios codes).", float64(in.Status), pair...)
	counts := map[Status]int{}
	for _, r := range in.Reasons {
		counts[r.Status]++
	}
	for _, st := range []Status{Warning, Critical, Unknown} {
		s.add("redis_vip_report_reasons", "Number of reasons of each status in the pair's verdict.", float64(counts[st]), with("status", strings.ToLower(st.String()))...)
	}
	s.add("redis_vip_report_duration_seconds", "Time taken to read the pair.", in.Duration.Seconds(), pair...)
	if in.Err != "" {
		return
	}
	for _, n := range []Node{in.Local, in.Peer} {
		s.add("redis_vip_node_up", "1 when the node answered INFO.", b2f(n.Facts != nil), with("node", n.Side)...)
	}
	for _, n := range []Node{in.Local, in.Peer} {
		promNode(s, n, with("node", n.Side))
	}
	rp := in.Replication
	for _, st := range ReplStates() {
		s.add("redis_vip_replication_state", "Shape of the pair's replication: 1 for the current state, 0 for the others.", b2f(rp.State == st), with("state", st)...)
	}
	if rp.HasLagBytes {
		s.add("redis_vip_replication_lag_bytes", "Master's replication offset minus its replica's.", float64(rp.LagBytes), pair...)
	}
	if rp.HasLagSeconds {
		s.add("redis_vip_replication_lag_seconds", "Seconds since the replica last heard from its master (master_last_io_seconds_ago).", float64(rp.LagSeconds), pair...)
	}
	if g := in.Local.GuardStatus; g == GuardActive || g == GuardStale || g == GuardMissing {
		s.add("redis_vip_guard_active", "1 when guard ran before the local Redis's current start (see docs/report.md).", b2f(g == GuardActive), with("node", SideLocal)...)
	}
	for _, v := range in.VIPs {
		for _, h := range VIPHolders() {
			s.add("redis_vip_vip_holder", "Who holds the VIP: 1 for the current holder, 0 for the others.", b2f(v.Holder == h), with("vip", v.Addr, "holder", h)...)
		}
	}
	if in.Check != nil {
		s.add("redis_vip_check_eligible", "1 when `redis-vip check` would let the local Redis hold the VIP.", b2f(in.Check.OK), pair...)
	}
	s.add("redis_vip_transition_running", "1 while a transition holds the instance lock.", b2f(in.State.Busy), pair...)
	s.add("redis_vip_holdoff_active", "1 while check fails after a sync-before-promote timed out.", b2f(hasReason(in, CodeHoldoff)), pair...)
	if f := in.Fence; f.On() {
		s.add("redis_vip_fence_after_seconds", "fence_after: the bound on the writes a partition can cost without the witness lease (0 absent: fencing off).", f.FenceAfter.Seconds(), pair...)
		if f.MinReplicas >= 0 && f.Level != FenceNone {
			s.add("redis_vip_fence_level", "The local master's fence as min-replicas-to-write: 0 open, 1 armed, 2 closed; absent on a replica or when unknown.", float64(min(f.MinReplicas, 2)), pair...)
		}
		if f.Witness != "" {
			s.add("redis_vip_witness_lease_held", "1 while this node holds the witness lease.", b2f(f.LeaseHeld), pair...)
		}
	}
	s.add("redis_vip_maintenance", "1 while maintenance mode is on for the pair on this host (automation paused).", b2f(in.State.Maintenance.On), pair...)
	j := in.Journal
	if j.Err == "" {
		s.add("redis_vip_journal_failed_transitions", "Transitions failed, refused or timed out within the journal window.", float64(j.FailedInWindow), pair...)
		if n := len(j.Records); n > 0 {
			last := j.Records[n-1]
			s.add("redis_vip_journal_last_transition_timestamp_seconds", "When the newest transition started (Unix time).", float64(last.Time.Unix()), pair...)
			s.add("redis_vip_journal_last_transition_duration_seconds", "How long the newest transition took.", float64(last.DurationMS)/1000, pair...)
			s.add("redis_vip_journal_last_transition_ok", "0 when the newest transition failed, was refused or timed out.", b2f(!failedOutcome(last.Outcome)), pair...)
		}
	}
	if in.Backups.Err == "" {
		s.add("redis_vip_backups", "Dataset backups kept for the pair (S6).", float64(in.Backups.Count), pair...)
		s.add("redis_vip_backups_size_bytes", "Total size of the backups kept.", float64(in.Backups.Bytes), pair...)
		if !in.Backups.Newest.IsZero() {
			s.add("redis_vip_backups_newest_timestamp_seconds", "When the newest backup was written (Unix time).", float64(in.Backups.Newest.Unix()), pair...)
		}
	}
}

func promNode(s *promSet, n Node, lbl []string) {
	f := n.Facts
	if f == nil {
		return
	}
	with := func(extra ...string) []string { return append(append([]string{}, lbl...), extra...) }
	s.add("redis_vip_node_info", "Constant 1, labelled with the node's address, server and version.", 1, with("addr", n.Addr.String(), "server", f.ServerName, "version", f.Version.String())...)
	for _, role := range []node.Role{node.RoleMaster, node.RoleReplica} {
		s.add("redis_vip_node_role", "1 for the node's current role, 0 for the other.", b2f(f.Role == role), with("role", string(role))...)
	}
	s.add("redis_vip_node_uptime_seconds", "Seconds since the Redis process started.", float64(f.Uptime), lbl...)
	s.add("redis_vip_node_loading", "1 while the node loads its dataset.", b2f(f.Loading), lbl...)
	s.add("redis_vip_node_keys", "Keys over all databases.", float64(f.Keys), lbl...)
	s.add("redis_vip_node_memory_used_bytes", "Memory used by Redis (used_memory).", float64(f.UsedMemory), lbl...)
	s.add("redis_vip_node_memory_max_bytes", "maxmemory; 0 means no limit.", float64(f.MaxMemory), lbl...)
	s.add("redis_vip_node_replication_offset_bytes", "The node's replication offset (master_repl_offset).", float64(f.ReplOffset), lbl...)
	s.add("redis_vip_node_connected_replicas", "Replicas online on this node.", float64(connectedReplicas(*f)), lbl...)
	if f.Role == node.RoleReplica {
		s.add("redis_vip_replica_link_up", "1 when the replica's link to its master is up.", b2f(f.MasterLinkUp), lbl...)
		s.add("redis_vip_replica_sync_in_progress", "1 while the replica runs a full sync.", b2f(f.MasterSyncInProgress), lbl...)
		if f.MasterLinkUp && f.MasterLastIOSecsAgo >= 0 {
			s.add("redis_vip_replica_last_io_seconds", "Seconds since the replica last heard from its master.", float64(f.MasterLastIOSecsAgo), lbl...)
		}
	}
	if n.RDB == TriOn || n.RDB == TriOff {
		s.add("redis_vip_persistence_rdb_enabled", "1 when RDB snapshots are configured (CONFIG GET save is not empty); absent when unknown.", b2f(n.RDB == TriOn), lbl...)
	}
	s.add("redis_vip_persistence_aof_enabled", "1 when the append-only file is on.", b2f(f.AOFEnabled), lbl...)
	if !f.RDBLastSave.IsZero() {
		s.add("redis_vip_persistence_last_save_timestamp_seconds", "When the last successful RDB save finished (Unix time).", float64(f.RDBLastSave.Unix()), lbl...)
	}
	s.add("redis_vip_persistence_changes_since_last_save", "Writes since the last successful RDB save.", float64(f.RDBChangesSinceSave), lbl...)
	s.add("redis_vip_persistence_last_bgsave_ok", "0 when the last BGSAVE failed.", b2f(f.RDBLastBgsaveOK), lbl...)
	s.add("redis_vip_persistence_aof_last_write_ok", "0 when the last AOF write failed.", b2f(f.AOFLastWriteOK), lbl...)
}

// hasReason reports whether the verdict has a reason with code.
func hasReason(in Instance, code string) bool {
	for _, r := range in.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

func promValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// WriteTextfile writes the report's metrics into dir/redis_vip.prom
// atomically (a temporary file in dir, then rename), so node_exporter's
// textfile collector never reads half a file.
func WriteTextfile(dir string, r Report) error {
	var b strings.Builder
	if err := RenderPrometheus(&b, r); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, TextfileName), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("metrics textfile not written: %w", err)
	}
	return nil
}
