// Package transition runs what keepalived's notify hooks (and the built-in
// VRRP mode) ask for: become master, become backup, fault, stop.
//
// Each transition is split in two. Decide is pure: it takes both nodes'
// Facts and returns a Plan (a decision, its reason, and the steps). Runner
// executes the steps against real servers, polling conditions with deadlines
// (never fixed sleeps), stopping when a newer event supersedes it (S4),
// backing up a dataset before it is discarded (S6), shedding clients and
// persisting roles on demotion (S7), and appending one journal line per
// transition (S8).
package transition
