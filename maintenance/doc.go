// Package maintenance keeps an instance's maintenance mode: a file named
// <instance>.maintenance in the instance's state dir. While the file
// exists, automation on this host pauses for the instance: no transition
// runs (the hooks, notify-fifo and `run` record each event in the journal
// with the outcome "maintenance" and change nothing), the reconciler does
// nothing, `check` keeps the current holder eligible and `run` keeps its
// VRRP state and VIP. `report` and the /health endpoint say so.
//
// The file's presence is what counts: its JSON content (since, by, reason)
// is for people, and a file that cannot be read or parsed still means
// "on". Maintenance is per host: pausing the pair means turning it on on
// both hosts.
package maintenance
