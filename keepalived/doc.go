// Package keepalived speaks keepalived's side of the notify interface: it
// parses what keepalived hands to notify programs (the arguments of a
// generic `notify` script, TYPE NAME STATE PRIORITY, and the lines of a
// `vrrp_notify_fifo`, the same four words with NAME in quotes), maps a VRRP
// state to its transition event ([State.Event], the only such mapping), and
// serves the notify FIFO ([ServeFIFO]: one transition at a time, the newest
// event per instance wins).
package keepalived
