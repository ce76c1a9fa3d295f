package transition

import (
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/node"
)

// Each condition of StaleMaster, flipped alone, makes the event current.
func TestStaleMaster(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	peerAddr := node.MustParseAddr("192.0.2.12:6379")
	stale := Ticket{Seq: 3, Event: EventMaster, At: now.Add(-2 * time.Minute), Source: SourceFIFO}
	local := node.Facts{Role: node.RoleReplica, MasterHost: "192.0.2.12", MasterPort: 6379, MasterLinkUp: true, Keys: 5, ReplID: "a", ReplOffset: 100}
	peer := node.Facts{Role: node.RoleMaster, Keys: 5, ReplID: "a", ReplOffset: 100}
	const bound = time.Minute
	if !StaleMaster(stale, now, bound, VIPs{Known: true}, local, &peer, peerAddr) {
		t.Fatal("the stale case is not stale")
	}
	if !StaleMaster(stale, now, bound, VIPs{}, local, &peer, peerAddr) {
		t.Error("VIPs unknown: the bound alone decides, want stale")
	}
	for name, current := range map[string]func() bool{
		"a backup event": func() bool {
			t := stale
			t.Event = EventBackup
			return StaleMaster(t, now, bound, VIPs{}, local, &peer, peerAddr)
		},
		"from the router": func() bool {
			t := stale
			t.Source = SourceRouter
			return StaleMaster(t, now, bound, VIPs{}, local, &peer, peerAddr)
		},
		"within the bound": func() bool {
			return StaleMaster(stale, now.Add(-90*time.Second), bound, VIPs{}, local, &peer, peerAddr)
		},
		"bound 0 (off)": func() bool { return StaleMaster(stale, now, 0, VIPs{}, local, &peer, peerAddr) },
		"VIP held": func() bool {
			return StaleMaster(stale, now, bound, VIPs{Known: true, Held: true}, local, &peer, peerAddr)
		},
		"local link down": func() bool {
			l := local
			l.MasterLinkUp = false
			return StaleMaster(stale, now, bound, VIPs{}, l, &peer, peerAddr)
		},
		"local follows another server": func() bool {
			l := local
			l.MasterHost = "192.0.2.99"
			return StaleMaster(stale, now, bound, VIPs{}, l, &peer, peerAddr)
		},
		"local is master": func() bool {
			l := local
			l.Role = node.RoleMaster
			return StaleMaster(stale, now, bound, VIPs{}, l, &peer, peerAddr)
		},
		"peer unreadable": func() bool { return StaleMaster(stale, now, bound, VIPs{}, local, nil, peerAddr) },
		"peer a replica": func() bool {
			p := peer
			p.Role = node.RoleReplica
			return StaleMaster(stale, now, bound, VIPs{}, local, &p, peerAddr)
		},
		"peer loading": func() bool {
			p := peer
			p.Loading = true
			return StaleMaster(stale, now, bound, VIPs{}, local, &p, peerAddr)
		},
	} {
		if current() {
			t.Errorf("%s: judged stale, want current", name)
		}
	}
}
