package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis-vip/redis-vip/node"
)

// Headline is the first line of the text report (the line Nagios shows,
// without its perfdata): the verdict, then why the metrics could not be
// written if so, then each instance that is not OK with its gravest reason
// (and how many more), then the OK ones; a single OK instance gets a
// summary of its state.
func Headline(r Report) string {
	if r.Err != "" {
		return "UNKNOWN: " + r.Err
	}
	var bad []string
	good := "" // the OK part
	if r.TextfileErr != "" {
		bad = append(bad, r.TextfileErr)
	}
	switch {
	case len(r.Instances) == 0:
		good = "no instances configured"
	case len(r.Instances) == 1 && r.Instances[0].Status == OK:
		good = r.Instances[0].Name + ": " + summary(r.Instances[0])
	default:
		var names []string
		for _, in := range r.Instances {
			if in.Status == OK || len(in.Reasons) == 0 {
				names = append(names, in.Name)
				continue
			}
			s := in.Name + ": " + in.Reasons[0].Message
			if len(in.Reasons) > 1 {
				s += fmt.Sprintf(" (+%d more)", len(in.Reasons)-1)
			}
			bad = append(bad, s)
		}
		good = strings.Join(names, ", ")
	}
	if len(bad) == 0 {
		return "OK: " + good
	}
	if good != "" {
		bad = append(bad, "OK: "+good)
	}
	return r.Status().String() + ": " + strings.Join(bad, "; ")
}

// summary describes a healthy instance in a few words.
func summary(in Instance) string {
	rp := in.Replication
	s := replicationLine(rp, in)
	if len(in.VIPs) > 0 {
		var held []string
		for _, v := range in.VIPs {
			held = append(held, v.Addr+" on "+v.Holder)
		}
		s += "; vip " + strings.Join(held, ", ")
	}
	return s
}

// RenderText writes the report for a person and for Nagios: the headline
// and the perfdata (Perfdata) on the first line, then one block per
// instance with its reasons and what was read. A "|" in the text becomes
// "/": Nagios would take what follows it for perfdata.
func RenderText(w io.Writer, r Report) error {
	var b strings.Builder
	b.WriteString(Headline(r))
	b.WriteString("\n")
	for _, in := range r.Instances {
		b.WriteString("\n")
		writeInstance(&b, in, r.GeneratedAt, r.Thresholds)
	}
	lines := strings.Split(strings.ReplaceAll(b.String(), "|", "/"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	if perf := Perfdata(r); perf != "" {
		lines[0] += " | " + perf
	}
	if _, err := io.WriteString(w, strings.Join(lines, "\n")); err != nil {
		return fmt.Errorf("report text: %w", err)
	}
	return nil
}

func writeInstance(b *strings.Builder, in Instance, now time.Time, th Thresholds) {
	if in.Err != "" {
		fmt.Fprintf(b, "%s %s\n", in.Name, in.Status)
	} else {
		fmt.Fprintf(b, "%s %s (read in %s)\n", in.Name, in.Status, humanDuration(in.Duration))
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, r := range in.Reasons {
		side := r.Node
		if side == "" {
			side = "pair"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Status, side, r.Message)
	}
	tw.Flush()
	if in.Err != "" {
		return
	}
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  node\taddr\trole\tserver\tup\tkeys\tmemory\tpersistence\n")
	for _, n := range []Node{in.Local, in.Peer} {
		if n.Facts == nil {
			fmt.Fprintf(tw, "  %s\t%s\tunreachable\t\t\t\t\t\n", n.Side, n.Addr)
			continue
		}
		f := n.Facts
		role := string(f.Role)
		if f.Loading {
			role += " (loading)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s %s\t%s\t%d\t%s\t%s\n", n.Side, n.Addr, role, f.ServerName, f.Version,
			humanDuration(time.Duration(f.Uptime)*time.Second), f.Keys, memoryText(*f), persistenceText(n, now))
	}
	tw.Flush()
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  replication\t%s\n", replicationLine(in.Replication, in))
	for _, v := range in.VIPs {
		fmt.Fprintf(tw, "  vip\t%s\n", vipText(v))
	}
	if in.Check != nil {
		word := "eligible"
		if !in.Check.OK {
			word = "not eligible"
		}
		line := word + ": " + in.Check.Reason
		if in.State.Busy {
			line += " (transition running)"
		}
		fmt.Fprintf(tw, "  check\t%s\n", line)
	}
	fmt.Fprintf(tw, "  fence\t%s\n", fenceText(in.Fence))
	fmt.Fprintf(tw, "  journal\t%s\n", journalText(in.Journal, th))
	for _, rec := range lastRecords(in.Journal, th.JournalEntries) {
		line := fmt.Sprintf("%s %s %s in %s", stamp(rec.Time), rec.Event, rec.Outcome, humanDuration(time.Duration(rec.DurationMS)*time.Millisecond))
		if rec.Plan != nil {
			line += ": " + rec.Plan.Decision
		}
		if rec.Error != "" {
			line += ": " + rec.Error
		}
		fmt.Fprintf(tw, "  \t  %s\n", line)
	}
	fmt.Fprintf(tw, "  backups\t%s\n", backupsText(in.Backups))
	tw.Flush()
}

// fenceText is the fence in one line: level and why, the settings, the
// lease, and the loss bound in words.
func fenceText(f Fence) string {
	if !f.On() {
		return "off (fence_after 0); loss bound: " + f.LossBound
	}
	s := f.Level
	if f.MinReplicas >= 0 && f.Level != FenceNone {
		s += fmt.Sprintf(" (min-replicas-to-write %d)", f.MinReplicas)
	}
	if f.Reason != "" {
		s += ": " + f.Reason
	}
	s += fmt.Sprintf("; fence_after %s", f.FenceAfter)
	if f.Witness != "" {
		lease := "lease not held"
		if f.LeaseHeld {
			lease = "lease held"
		} else if f.State.LeaseError != "" {
			lease += " (" + f.State.LeaseError + ")"
		}
		s += fmt.Sprintf("; witness %s, %s", f.Witness, lease)
	}
	return s + "; loss bound: " + f.LossBound
}

func memoryText(f node.Facts) string {
	if f.MaxMemory <= 0 {
		return humanBytes(f.UsedMemory)
	}
	return fmt.Sprintf("%s/%s (%.0f%%)", humanBytes(f.UsedMemory), humanBytes(f.MaxMemory), float64(f.UsedMemory)*100/float64(f.MaxMemory))
}

func persistenceText(n Node, now time.Time) string {
	f := n.Facts
	parts := []string{"rdb " + string(n.RDB)}
	if n.RDB == "" {
		parts[0] = "rdb " + string(TriUnknown)
	}
	aof := "aof off"
	if f.AOFEnabled {
		aof = "aof on"
	}
	parts = append(parts, aof)
	if !f.RDBLastSave.IsZero() && n.RDB != TriOff {
		parts = append(parts, "saved "+humanDuration(now.Sub(f.RDBLastSave))+" ago")
	}
	if !f.RDBLastBgsaveOK {
		parts = append(parts, "bgsave FAILED")
	}
	if f.AOFEnabled && !f.AOFLastWriteOK {
		parts = append(parts, "aof write FAILED")
	}
	if n.Side == SideLocal {
		parts = append(parts, "guard "+n.GuardStatus)
	}
	return strings.Join(parts, ", ")
}

func replicationLine(r Replication, in Instance) string {
	var s string
	switch r.State {
	case ReplMasterReplica:
		s = fmt.Sprintf("%s master -> %s replica, link %s", r.Master, r.Replica, upDown(r.LinkUp))
	case ReplBothMasters:
		s = "both masters"
	case ReplLoop:
		s = "loop: each replicates the other"
	case ReplBothReplicas:
		s = fmt.Sprintf("both replicas (local of %s, peer of %s)", in.Local.Facts.MasterAddr(), in.Peer.Facts.MasterAddr())
	case ReplElsewhere:
		rep := in.Peer
		if r.Master == SidePeer {
			rep = in.Local
		}
		s = fmt.Sprintf("%s master, %s replicates %s", r.Master, rep.Side, rep.Facts.MasterAddr())
	default:
		switch {
		case r.Replica != "":
			s = fmt.Sprintf("%s replica of %s (unreachable), link %s", r.Replica, r.Master, upDown(r.LinkUp))
		case r.Master != "":
			s = fmt.Sprintf("%s master, other side unknown", r.Master)
		default:
			s = "unknown"
			for _, n := range []Node{in.Local, in.Peer} {
				if n.Facts != nil && n.Facts.Role == node.RoleReplica {
					s = fmt.Sprintf("%s replicates %s, other side unknown", n.Side, n.Facts.MasterAddr())
				}
			}
		}
	}
	if r.SyncInProgress {
		s += ", full sync in progress"
	}
	if r.HasLagBytes || r.HasLagSeconds {
		lb, ls := "?", "?"
		if r.HasLagBytes {
			lb = humanBytes(r.LagBytes)
		}
		if r.HasLagSeconds {
			ls = humanDuration(time.Duration(r.LagSeconds) * time.Second)
		}
		s += fmt.Sprintf(", lag %s / %s", lb, ls)
	}
	if r.Relation != "" {
		s += ", local data " + r.Relation + " vs peer"
	}
	return s
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func vipText(v VIP) string {
	s := v.Addr + " held by " + v.Holder
	switch {
	case v.OnLocalInterface:
		s += " (on this host's interfaces)"
	case v.RunID != "":
		s += " (by run_id)"
	}
	if v.Err != "" {
		s += ": " + v.Err
	}
	return s
}

func journalText(j Journal, th Thresholds) string {
	if j.Err != "" {
		return "unreadable: " + j.Err
	}
	if len(j.Records) == 0 {
		return "no transitions recorded"
	}
	s := plural(len(j.Records), "transition") + " read"
	if th.JournalWindow > 0 {
		s += fmt.Sprintf(", %d failed in the last %s", j.FailedInWindow, shortDuration(th.JournalWindow))
	} else {
		s += fmt.Sprintf(", %d failed", j.FailedInWindow)
	}
	if j.Unreadable > 0 {
		s += ", " + plural(j.Unreadable, "unreadable line")
	}
	return s
}

func backupsText(b Backups) string {
	if b.Err != "" {
		return "unreadable: " + b.Err
	}
	if b.Count == 0 {
		return "none kept"
	}
	return fmt.Sprintf("%d kept, %s, newest %s", b.Count, humanBytes(b.Bytes), stamp(b.Newest))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
