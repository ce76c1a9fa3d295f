package report

import (
	"strconv"
	"strings"
	"time"
)

// Perfdata is the performance data of the Nagios status line, in the
// format of the Nagios plugin development guidelines:
//
//	'label'=value[UOM];[warn];[crit];[min];[max]
//
// separated by spaces. For each instance: the replication lag in bytes
// (lag_bytes) and in seconds (lag_seconds) with the report's thresholds,
// how long the replica's link has been down (link_down_seconds, 0 while
// up), the keys on the local and the peer node (keys, peer_keys), the
// failed transitions in the journal window (failed_transitions, warning
// above 0) and the time taken to read the pair (time). A value that could
// not be read is "U". With more than one instance every label starts with
// the instance's name and an underscore ('redis6379_lag_bytes'). A failed
// report (Err set) has none: nothing was read.
func Perfdata(r Report) string {
	if r.Err != "" {
		return ""
	}
	var items []string
	for _, in := range r.Instances {
		prefix := ""
		if len(r.Instances) > 1 {
			prefix = in.Name + "_"
		}
		items = append(items, instancePerfdata(prefix, in, r.Thresholds)...)
	}
	return strings.Join(items, " ")
}

// perfValue is one value: its text and unit ("U" and none when unknown).
type perfValue struct {
	text string
	uom  string
}

func perfInt(n int64, known bool, uom string) perfValue {
	if !known {
		return perfValue{text: "U"}
	}
	return perfValue{text: strconv.FormatInt(n, 10), uom: uom}
}

// perfThreshold is a threshold as a Nagios range ("N": alert above N), ""
// when the check is off (0).
func perfThreshold(n int64) string {
	if n <= 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

func perfSeconds(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// perfItem formats one item; warn, crit, min and max may be "".
func perfItem(label string, v perfValue, warn, crit, min, max string) string {
	label = "'" + strings.ReplaceAll(strings.ReplaceAll(label, "=", "_"), "'", "''") + "'"
	return label + "=" + v.text + v.uom + ";" + warn + ";" + crit + ";" + min + ";" + max
}

func instancePerfdata(prefix string, in Instance, th Thresholds) []string {
	rp := in.Replication
	lagBytes := perfInt(rp.LagBytes, rp.HasLagBytes, "B")
	lagSeconds := perfInt(rp.LagSeconds, rp.HasLagSeconds, "s")
	linkDown := perfValue{text: "U"}
	if rep := replicaNode(in); rep != nil && rep.Facts != nil {
		switch {
		case rp.LinkUp:
			linkDown = perfInt(0, true, "s")
		case rep.Facts.MasterLinkDownSecs >= 0:
			linkDown = perfInt(rep.Facts.MasterLinkDownSecs, true, "s")
		}
	}
	keys := func(n Node) perfValue {
		if n.Facts == nil {
			return perfValue{text: "U"}
		}
		return perfInt(n.Facts.Keys, true, "")
	}
	failed := perfInt(int64(in.Journal.FailedInWindow), in.Err == "" && in.Journal.Err == "", "")
	read := perfValue{text: "U"}
	if in.Err == "" {
		read = perfValue{text: strconv.FormatFloat(in.Duration.Seconds(), 'f', -1, 64), uom: "s"}
	}
	return []string{
		perfItem(prefix+"lag_bytes", lagBytes, perfThreshold(th.LagBytesWarn), perfThreshold(th.LagBytesCrit), "0", ""),
		perfItem(prefix+"lag_seconds", lagSeconds, perfSeconds(th.LagSecondsWarn), perfSeconds(th.LagSecondsCrit), "0", ""),
		perfItem(prefix+"link_down_seconds", linkDown, "", "", "0", ""),
		perfItem(prefix+"keys", keys(in.Local), "", "", "0", ""),
		perfItem(prefix+"peer_keys", keys(in.Peer), "", "", "0", ""),
		perfItem(prefix+"failed_transitions", failed, "0", "", "0", ""),
		perfItem(prefix+"time", read, "", "", "0", ""),
	}
}

// replicaNode is the pair's replica when the replication state names one.
func replicaNode(in Instance) *Node {
	switch in.Replication.Replica {
	case SideLocal:
		return &in.Local
	case SidePeer:
		return &in.Peer
	}
	return nil
}
