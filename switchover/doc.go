// Package switchover moves the master role to the peer on purpose, with no
// lost writes, while keepalived keeps running: it checks that the peer is an
// in-sync replica, writes 1 into the keepalived track_file that the shipped
// configuration declares (weight 0: this node goes to FAULT and gives up the
// VIP), waits until the peer's notify-master has synced and promoted it
// (FAILOVER TO, S2) and this node replicates it, then writes 0 so this node
// becomes BACKUP again. With a Hold (the VIPs known and CAP_NET_ADMIN), this
// host keeps the VIPs on lo from before the file is written until it
// replicates the new master and has shed its clients (S7): the requests in
// flight when keepalived removes the VIP are answered, and the clients see
// their connections close, instead of waiting out their own timeouts. The
// decisions are pure (Check, Done); Runner does the I/O with time and
// waiting passed in.
package switchover
