// Package check gives the eligibility verdict keepalived's vrrp_script asks
// for: may the local Redis hold the VIP? Verdict is pure (Facts in, verdict
// out); Gather reads both servers concurrently under one deadline.
package check
