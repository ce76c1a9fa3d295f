// Package keepalived parses what keepalived hands to notify programs: the
// arguments of a generic `notify` script (TYPE NAME STATE PRIORITY) and the
// lines of a `vrrp_notify_fifo` (the same four words, NAME in quotes).
package keepalived
