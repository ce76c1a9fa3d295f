package transition

import (
	"time"

	"github.com/redis-vip/redis-vip/node"
)

// The sources a transition records (Record.Source, Ticket.Source).
// keepalived's hooks and notify FIFO deliver events that can be lost or
// run out of order; the built-in VRRP router's come in order.
const (
	SourceHook   = "keepalived"        // notify-master, notify-backup, notify-fault, notify-stop
	SourceNotify = "keepalived-notify" // the generic notify hook
	SourceFIFO   = "keepalived-fifo"   // notify-fifo
	SourceRouter = "vrrp"              // redis-vip run
)

// VIPs says whether this host holds one of the instance's VIPs, as far as
// it is known: Known is false without vips: in the configuration.
type VIPs struct{ Known, Held bool }

// StaleMaster reports whether t, the newest event, is a master event that
// no longer says what keepalived's state is, so that nothing may act on it
// against a live master peer:
//
//   - keepalived delivered it: a hook, the generic notify or the FIFO,
//     which lose events and run them out of order (a late notify_master
//     after the notify_fault that followed it, or a lost notify_backup);
//   - it is older than bound (the transition timeout): its own transition
//     has had its time, and a keepalived MASTER whose check kept failing
//     since (check fails a node whose newest event is master while its
//     Redis is a replica) has long been moved out of MASTER;
//   - this host holds none of the VIPs, as far as known: a keepalived
//     MASTER adds them before it runs notify_master, so a held VIP says
//     the event is current;
//   - the local Redis is a replica in sync with the peer, which answers as
//     a master: the pair is whole, only the belief is old.
//
// Reconcile passes then take nothing from the peer (two nodes each taking
// the role back from the other by handover never settle: torture seed
// 7020), and check judges the local Redis as the replica it is, so
// keepalived brings the node out of FAULT and its notify_backup records
// the truth (S12).
func StaleMaster(t Ticket, now time.Time, bound time.Duration, vips VIPs, local node.Facts, peer *node.Facts, peerAddr node.Addr) bool {
	return t.Event == EventMaster && t.Source != SourceRouter && bound > 0 && now.Sub(t.At) > bound &&
		!(vips.Known && vips.Held) &&
		local.InSync() && local.Master().Same(peerAddr) &&
		peer != nil && peer.Role == node.RoleMaster && !peer.Loading
}
