package check

import (
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// withMaintenance applies maintenance mode to a verdict. While it is on,
// automation pauses, so VRRP must not move the VIP either: the current
// holder stays eligible whatever the verdict would be (a local master, or
// a local Redis that is down or loading on the node VRRP made master, as
// during a restart the operator makes), and a node that is not eligible
// does not become eligible. The verdict says so in a warning, and in the
// reason when it kept a failing holder.
func withMaintenance(in Input, res Result) Result {
	if !in.Maintenance.On {
		return res
	}
	res.Maintenance = true
	res.Warnings = append(res.Warnings, "maintenance mode is "+in.Maintenance.String()+": automation paused on this host")
	if res.OK {
		return res
	}
	holder := ""
	switch {
	case in.Local != nil && !in.Local.Loading && in.Local.Role == node.RoleMaster:
		holder = "local master"
	case (in.Local == nil || in.Local.Loading) && in.LastEvent == transition.EventMaster:
		holder = "the node VRRP made master"
	}
	if holder == "" {
		return res
	}
	res.OK = true
	res.Reason = "maintenance mode: " + holder + " stays eligible (without maintenance: " + res.Reason + ")"
	return res
}
