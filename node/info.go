package node

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrNotInfo is returned when a text is not an INFO reply (no role, no version).
var ErrNotInfo = errors.New("not an INFO reply")

// ParseInfo reads the text of INFO (any sections, any order) into Facts.
// Fields are matched by name; unknown ones are ignored. A known numeric field
// with a malformed value is an error, because decisions rest on it.
func ParseInfo(text string) (Facts, error) {
	f := Facts{MasterLinkDownSecs: -1, SecondReplOffset: -1, RDBLastBgsaveOK: true, AOFLastWriteOK: true}
	var p infoParser
	var version, valkeyVersion, role string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "redis_version":
			version = val
		case "valkey_version":
			valkeyVersion = val
		case "server_name":
			f.ServerName = val
		case "run_id":
			f.RunID = val
		case "uptime_in_seconds":
			f.Uptime = p.int(key, val)
		case "config_file":
			f.ConfigFile = val
		case "loading":
			f.Loading = p.bool(key, val)
		case "role":
			role = val
		case "master_host":
			f.MasterHost = val
		case "master_port":
			f.MasterPort = int(p.int(key, val))
		case "master_link_status":
			f.MasterLinkUp = val == "up"
		case "master_sync_in_progress":
			f.MasterSyncInProgress = p.bool(key, val)
		case "master_last_io_seconds_ago":
			f.MasterLastIOSecsAgo = p.int(key, val)
		case "master_link_down_since_seconds":
			f.MasterLinkDownSecs = p.int(key, val)
		case "min_slaves_good_slaves":
			f.GoodReplicas, f.GoodReplicasCounted = p.int(key, val), true
		case "master_failover_state":
			f.FailoverState = val
		case "master_replid":
			f.ReplID = val
		case "master_replid2":
			f.ReplID2 = val
		case "master_repl_offset":
			f.ReplOffset = p.int(key, val)
		case "second_repl_offset":
			f.SecondReplOffset = p.int(key, val)
		case "repl_backlog_active":
			f.BacklogActive = p.bool(key, val)
		case "repl_backlog_first_byte_offset":
			f.BacklogFirstByte = p.int(key, val)
		case "repl_backlog_histlen":
			f.BacklogHistLen = p.int(key, val)
		case "used_memory":
			f.UsedMemory = p.int(key, val)
		case "maxmemory":
			f.MaxMemory = p.int(key, val)
		case "aof_enabled":
			f.AOFEnabled = p.bool(key, val)
		case "rdb_last_save_time":
			if n := p.int(key, val); n > 0 {
				f.RDBLastSave = time.Unix(n, 0).UTC()
			}
		case "rdb_changes_since_last_save":
			f.RDBChangesSinceSave = p.int(key, val)
		case "rdb_bgsave_in_progress":
			f.RDBBgsaveInProgress = p.bool(key, val)
		case "rdb_last_bgsave_status":
			f.RDBLastBgsaveOK = val == "ok"
		case "aof_last_write_status":
			f.AOFLastWriteOK = val == "ok"
		default:
			switch {
			case isIndexed(key, "slave"):
				f.Replicas = append(f.Replicas, p.replica(key, val))
			case isIndexed(key, "db"):
				n := p.dbKeys(key, val)
				if f.Keys > math.MaxInt64-n {
					p.fail(key, val, "key count overflows")
				}
				f.Keys += n
			}
		}
	}
	if p.err != nil {
		return Facts{}, p.err
	}
	if role == "" || (version == "" && valkeyVersion == "") {
		return Facts{}, ErrNotInfo
	}
	switch role {
	case "master":
		f.Role = RoleMaster
	case "slave", "replica":
		f.Role = RoleReplica
	default:
		return Facts{}, fmt.Errorf("INFO role %q: unknown role", role)
	}
	if valkeyVersion != "" {
		f.ServerName, version = "valkey", valkeyVersion
	}
	if f.ServerName == "" {
		f.ServerName = "redis"
	}
	v, err := ParseVersion(version)
	if err != nil {
		return Facts{}, fmt.Errorf("INFO server version: %w", err)
	}
	f.Version = v
	return f, nil
}

// isIndexed reports whether key is prefix followed by digits only (slave0, db12).
func isIndexed(key, prefix string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// infoParser keeps the first error met so the field switch stays flat.
type infoParser struct{ err error }

func (p *infoParser) fail(key, val, why string) {
	if p.err == nil {
		p.err = fmt.Errorf("INFO field %s=%q: %s", key, val, why)
	}
}

func (p *infoParser) int(key, val string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
	if err != nil {
		p.fail(key, val, "not an integer")
	}
	return n
}

func (p *infoParser) bool(key, val string) bool {
	switch strings.TrimSpace(val) {
	case "0":
		return false
	case "1":
		return true
	}
	p.fail(key, val, "not 0 or 1")
	return false
}

// fields splits "a=1,b=2" into a map.
func fields(val string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(val, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (p *infoParser) replica(key, val string) Replica {
	m := fields(val)
	r := Replica{IP: m["ip"], State: m["state"]}
	if s, ok := m["port"]; ok {
		r.Port = int(p.int(key+".port", s))
	}
	if s, ok := m["offset"]; ok {
		r.Offset = p.int(key+".offset", s)
	}
	if s, ok := m["lag"]; ok {
		r.Lag = p.int(key+".lag", s)
	}
	return r
}

func (p *infoParser) dbKeys(key, val string) int64 {
	s, ok := fields(val)["keys"]
	if !ok {
		p.fail(key, val, "no keys= field")
		return 0
	}
	n := p.int(key+".keys", s)
	if n < 0 {
		p.fail(key, val, "negative key count")
	}
	return n
}
