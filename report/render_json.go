package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// The JSON document (docs/report.schema.json). Every field is always
// present; what is not known is null. Fields are only added within a
// schema version.
type jsonReport struct {
	SchemaVersion int            `json:"schema_version"`
	GeneratedAt   string         `json:"generated_at"`
	Host          string         `json:"host"`
	Status        string         `json:"status"`
	ExitCode      int            `json:"exit_code"`
	Error         *string        `json:"error"`
	TextfileError *string        `json:"textfile_error"`
	Thresholds    jsonThresholds `json:"thresholds"`
	Instances     []jsonInstance `json:"instances"`
}

type jsonThresholds struct {
	LagBytesWarn         int64   `json:"lag_bytes_warn"`
	LagBytesCrit         int64   `json:"lag_bytes_crit"`
	LagSecondsWarn       float64 `json:"lag_seconds_warn"`
	LagSecondsCrit       float64 `json:"lag_seconds_crit"`
	SaveAgeSecondsWarn   float64 `json:"save_age_seconds_warn"`
	SaveAgeSecondsCrit   float64 `json:"save_age_seconds_crit"`
	MemoryPercentWarn    float64 `json:"memory_percent_warn"`
	MemoryPercentCrit    float64 `json:"memory_percent_crit"`
	JournalWindowSeconds float64 `json:"journal_window_seconds"`
	JournalEntries       int     `json:"journal_entries"`
}

type jsonInstance struct {
	Name            string           `json:"name"`
	Status          string           `json:"status"`
	ExitCode        int              `json:"exit_code"`
	Error           *string          `json:"error"`
	DurationSeconds float64          `json:"duration_seconds"`
	Reasons         []jsonReason     `json:"reasons"`
	Local           *jsonNode        `json:"local"`
	Peer            *jsonNode        `json:"peer"`
	Replication     *jsonReplication `json:"replication"`
	VIPs            []jsonVIP        `json:"vips"`
	Check           *jsonCheck       `json:"check"`
	Journal         *jsonJournal     `json:"journal"`
	Backups         *jsonBackups     `json:"backups"`
	Fence           *jsonFence       `json:"fence"`
}

type jsonFence struct {
	Enabled              bool     `json:"enabled"`
	FenceAfterSeconds    float64  `json:"fence_after_seconds"`
	Level                string   `json:"level"`
	MinReplicasToWrite   *int     `json:"min_replicas_to_write"`
	Reason               *string  `json:"reason"`
	Witness              *string  `json:"witness"`
	LeaseHeld            *bool    `json:"lease_held"`
	LeaseError           *string  `json:"lease_error"`
	PromotionWaitSeconds *float64 `json:"promotion_wait_seconds"`
	KeeperAgeSeconds     *float64 `json:"keeper_age_seconds"`
	LossBound            string   `json:"loss_bound"`
}

type jsonReason struct {
	Status  string  `json:"status"`
	Code    string  `json:"code"`
	Node    *string `json:"node"`
	Message string  `json:"message"`
}

type jsonNode struct {
	Addr            string           `json:"addr"`
	Announce        string           `json:"announce"`
	Reachable       bool             `json:"reachable"`
	Error           *string          `json:"error"`
	Server          *string          `json:"server"`
	Version         *string          `json:"version"`
	RunID           *string          `json:"run_id"`
	Role            *string          `json:"role"`
	UptimeSeconds   *int64           `json:"uptime_seconds"`
	Loading         *bool            `json:"loading"`
	Keys            *int64           `json:"keys"`
	MemoryUsedBytes *int64           `json:"memory_used_bytes"`
	MemoryMaxBytes  *int64           `json:"memory_max_bytes"`
	Replication     *jsonNodeRepl    `json:"replication"`
	Persistence     *jsonPersistence `json:"persistence"`
	Guard           jsonGuard        `json:"guard"`
}

type jsonNodeRepl struct {
	ReplID            string  `json:"replid"`
	ReplOffset        int64   `json:"repl_offset"`
	MasterAddr        *string `json:"master_addr"`
	LinkUp            *bool   `json:"link_up"`
	LinkDownSeconds   *int64  `json:"link_down_seconds"`
	SyncInProgress    *bool   `json:"sync_in_progress"`
	LastIOSeconds     *int64  `json:"last_io_seconds"`
	ConnectedReplicas int     `json:"connected_replicas"`
}

type jsonPersistence struct {
	RDB                  string  `json:"rdb"`
	RDBSave              *string `json:"rdb_save"`
	RDBError             *string `json:"rdb_error"`
	AOF                  bool    `json:"aof"`
	LastSaveTime         *string `json:"last_save_time"`
	LastSaveAgeSeconds   *int64  `json:"last_save_age_seconds"`
	ChangesSinceLastSave int64   `json:"changes_since_last_save"`
	BgsaveInProgress     bool    `json:"bgsave_in_progress"`
	LastBgsaveOK         bool    `json:"last_bgsave_ok"`
	AOFLastWriteOK       bool    `json:"aof_last_write_ok"`
}

type jsonGuard struct {
	Status    string  `json:"status"`
	Include   *string `json:"include"`
	WrittenAt *string `json:"written_at"`
	Error     *string `json:"error"`
}

type jsonReplication struct {
	State          string  `json:"state"`
	Master         *string `json:"master"`
	Replica        *string `json:"replica"`
	LinkUp         *bool   `json:"link_up"`
	SyncInProgress *bool   `json:"sync_in_progress"`
	LagBytes       *int64  `json:"lag_bytes"`
	LagSeconds     *int64  `json:"lag_seconds"`
	Relation       *string `json:"relation"`
}

type jsonVIP struct {
	Addr             string  `json:"addr"`
	Holder           string  `json:"holder"`
	OnLocalInterface bool    `json:"on_local_interface"`
	RunID            *string `json:"run_id"`
	Error            *string `json:"error"`
}

type jsonCheck struct {
	Eligible          bool     `json:"eligible"`
	Reason            string   `json:"reason"`
	Warnings          []string `json:"warnings"`
	TransitionRunning bool     `json:"transition_running"`
	LastEvent         *string  `json:"last_event"`
	HoldoffUntil      *string  `json:"holdoff_until"`
	HoldoffReason     *string  `json:"holdoff_reason"`
}

type jsonJournal struct {
	Path            string           `json:"path"`
	Error           *string          `json:"error"`
	UnreadableLines int              `json:"unreadable_lines"`
	FailedInWindow  int              `json:"failed_in_window"`
	Transitions     []jsonTransition `json:"transitions"`
}

type jsonTransition struct {
	Time            string  `json:"time"`
	Event           string  `json:"event"`
	Source          *string `json:"source"`
	Seq             int64   `json:"seq"`
	Outcome         string  `json:"outcome"`
	Decision        *string `json:"decision"`
	Reason          *string `json:"reason"`
	Error           *string `json:"error"`
	DurationSeconds float64 `json:"duration_seconds"`
}

type jsonBackups struct {
	Dir       string  `json:"dir"`
	Count     int     `json:"count"`
	SizeBytes int64   `json:"size_bytes"`
	Newest    *string `json:"newest"`
	Error     *string `json:"error"`
}

// RenderJSON writes the report as one indented JSON document.
func RenderJSON(w io.Writer, r Report) error {
	b, err := json.MarshalIndent(toJSON(r), "", "  ")
	if err != nil {
		return fmt.Errorf("report json: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("report json: %w", err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// str is nil for "" and a pointer otherwise.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stampPtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return ptr(stamp(t))
}

func toJSON(r Report) jsonReport {
	th := r.Thresholds
	out := jsonReport{
		SchemaVersion: SchemaVersion, GeneratedAt: stamp(r.GeneratedAt), Host: r.Host,
		Status: r.Status().String(), ExitCode: r.Status().ExitCode(), Error: str(r.Err),
		TextfileError: str(r.TextfileErr),
		Thresholds: jsonThresholds{
			LagBytesWarn: th.LagBytesWarn, LagBytesCrit: th.LagBytesCrit,
			LagSecondsWarn: th.LagSecondsWarn.Seconds(), LagSecondsCrit: th.LagSecondsCrit.Seconds(),
			SaveAgeSecondsWarn: th.SaveAgeWarn.Seconds(), SaveAgeSecondsCrit: th.SaveAgeCrit.Seconds(),
			MemoryPercentWarn: th.MemoryWarn, MemoryPercentCrit: th.MemoryCrit,
			JournalWindowSeconds: th.JournalWindow.Seconds(), JournalEntries: th.JournalEntries,
		},
		Instances: []jsonInstance{},
	}
	for _, in := range r.Instances {
		out.Instances = append(out.Instances, instanceJSON(in, r.GeneratedAt, th))
	}
	return out
}

func instanceJSON(in Instance, now time.Time, th Thresholds) jsonInstance {
	j := jsonInstance{Name: in.Name, Status: in.Status.String(), ExitCode: in.Status.ExitCode(), Error: str(in.Err),
		DurationSeconds: in.Duration.Seconds(), Reasons: []jsonReason{}, VIPs: []jsonVIP{}}
	for _, r := range in.Reasons {
		j.Reasons = append(j.Reasons, jsonReason{Status: r.Status.String(), Code: r.Code, Node: str(r.Node), Message: r.Message})
	}
	if in.Err != "" {
		return j
	}
	j.Local, j.Peer = nodeJSON(in.Local, now), nodeJSON(in.Peer, now)
	j.Replication = replicationJSON(in.Replication)
	for _, v := range in.VIPs {
		j.VIPs = append(j.VIPs, jsonVIP{Addr: v.Addr, Holder: v.Holder, OnLocalInterface: v.OnLocalInterface, RunID: str(v.RunID), Error: str(v.Err)})
	}
	if in.Check != nil {
		c := &jsonCheck{Eligible: in.Check.OK, Reason: in.Check.Reason, Warnings: append([]string{}, in.Check.Warnings...),
			TransitionRunning: in.State.Busy, LastEvent: str(string(in.State.LastEvent))}
		if !in.State.Holdoff.Until.IsZero() {
			c.HoldoffUntil, c.HoldoffReason = stampPtr(in.State.Holdoff.Until), str(in.State.Holdoff.Reason)
		}
		j.Check = c
	}
	jr := &jsonJournal{Path: in.Journal.Path, Error: str(in.Journal.Err), UnreadableLines: in.Journal.Unreadable,
		FailedInWindow: in.Journal.FailedInWindow, Transitions: []jsonTransition{}}
	for _, rec := range lastRecords(in.Journal, th.JournalEntries) {
		t := jsonTransition{Time: stamp(rec.Time), Event: string(rec.Event), Source: str(rec.Source), Seq: rec.Seq,
			Outcome: rec.Outcome, Error: str(rec.Error), DurationSeconds: float64(rec.DurationMS) / 1000}
		if rec.Plan != nil {
			t.Decision, t.Reason = str(rec.Plan.Decision), str(rec.Plan.Reason)
		}
		jr.Transitions = append(jr.Transitions, t)
	}
	j.Journal = jr
	j.Fence = fenceJSON(in.Fence)
	j.Backups = &jsonBackups{Dir: in.Backups.Dir, Count: in.Backups.Count, SizeBytes: in.Backups.Bytes, Newest: stampPtr(in.Backups.Newest), Error: str(in.Backups.Err)}
	return j
}

func fenceJSON(f Fence) *jsonFence {
	j := &jsonFence{Enabled: f.On(), FenceAfterSeconds: f.FenceAfter.Seconds(), Level: f.Level, Reason: str(f.Reason),
		Witness: str(f.Witness), LossBound: f.LossBound}
	if j.Level == "" {
		j.Level = FenceNone
	}
	if f.On() && f.MinReplicas >= 0 {
		j.MinReplicasToWrite = ptr(f.MinReplicas)
	}
	if f.Witness != "" {
		j.LeaseHeld, j.LeaseError = ptr(f.LeaseHeld), str(f.State.LeaseError)
	}
	if f.PromotionWait > 0 {
		j.PromotionWaitSeconds = ptr(f.PromotionWait.Seconds())
	}
	if f.On() && f.KeeperAge >= 0 {
		j.KeeperAgeSeconds = ptr(f.KeeperAge.Seconds())
	}
	return j
}

func nodeJSON(n Node, now time.Time) *jsonNode {
	j := &jsonNode{Addr: n.Addr.String(), Announce: n.Announce.String(), Reachable: n.Reachable(), Error: str(n.Err),
		Guard: jsonGuard{Status: n.GuardStatus, Include: str(n.Guard.Path), WrittenAt: stampPtr(n.Guard.Written), Error: str(n.Guard.Err)}}
	if j.Guard.Status == "" {
		j.Guard.Status = GuardUnknown
	}
	f := n.Facts
	if f == nil {
		return j
	}
	j.Server, j.Version, j.RunID, j.Role = ptr(f.ServerName), ptr(f.Version.String()), ptr(f.RunID), ptr(string(f.Role))
	j.UptimeSeconds, j.Loading, j.Keys = ptr(f.Uptime), ptr(f.Loading), ptr(f.Keys)
	j.MemoryUsedBytes, j.MemoryMaxBytes = ptr(f.UsedMemory), ptr(f.MaxMemory)
	r := &jsonNodeRepl{ReplID: f.ReplID, ReplOffset: f.ReplOffset, ConnectedReplicas: connectedReplicas(*f)}
	if f.Role == node.RoleReplica {
		r.MasterAddr, r.LinkUp, r.SyncInProgress = ptr(f.MasterAddr()), ptr(f.MasterLinkUp), ptr(f.MasterSyncInProgress)
		if !f.MasterLinkUp && f.MasterLinkDownSecs >= 0 {
			r.LinkDownSeconds = ptr(f.MasterLinkDownSecs)
		}
		if f.MasterLinkUp && f.MasterLastIOSecsAgo >= 0 {
			r.LastIOSeconds = ptr(f.MasterLastIOSecsAgo)
		}
	}
	j.Replication = r
	p := &jsonPersistence{RDB: string(n.RDB), RDBError: str(n.RDBErr), AOF: f.AOFEnabled,
		ChangesSinceLastSave: f.RDBChangesSinceSave, BgsaveInProgress: f.RDBBgsaveInProgress,
		LastBgsaveOK: f.RDBLastBgsaveOK, AOFLastWriteOK: f.AOFLastWriteOK}
	if n.RDB == TriOn {
		p.RDBSave = ptr(n.SavePolicy)
	}
	if p.RDB == "" {
		p.RDB = string(TriUnknown)
	}
	if !f.RDBLastSave.IsZero() {
		p.LastSaveTime = stampPtr(f.RDBLastSave)
		p.LastSaveAgeSeconds = ptr(int64(max(0, now.Sub(f.RDBLastSave)) / time.Second))
	}
	j.Persistence = p
	return j
}

func replicationJSON(r Replication) *jsonReplication {
	j := &jsonReplication{State: r.State, Master: str(r.Master), Replica: str(r.Replica), Relation: str(r.Relation)}
	if r.Replica != "" {
		j.LinkUp, j.SyncInProgress = ptr(r.LinkUp), ptr(r.SyncInProgress)
	}
	if r.HasLagBytes {
		j.LagBytes = ptr(r.LagBytes)
	}
	if r.HasLagSeconds {
		j.LagSeconds = ptr(r.LagSeconds)
	}
	return j
}

// connectedReplicas counts a master's replicas that are online.
func connectedReplicas(f node.Facts) int {
	n := 0
	for _, r := range f.Replicas {
		if r.State == "online" {
			n++
		}
	}
	return n
}

// lastRecords returns the newest n records of the journal, oldest first
// (all of them when n <= 0).
func lastRecords(j Journal, n int) []transition.Record {
	recs := j.Records
	if n > 0 && len(recs) > n {
		recs = recs[len(recs)-n:]
	}
	return recs
}
