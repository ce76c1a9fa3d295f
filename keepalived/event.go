package keepalived

import "github.com/redis-vip/redis-vip/transition"

// Event is the transition a VRRP state asks for, the one mapping of state
// names to events for the hooks, the notify FIFO and the built-in router
// (whose states print as keepalived's): MASTER master, BACKUP backup,
// FAULT fault, and stop for every other state (STOP; DELETED, an instance
// removed on reload; INIT, a router not started or shut down).
func (s State) Event() transition.Event {
	switch s {
	case StateMaster:
		return transition.EventMaster
	case StateBackup:
		return transition.EventBackup
	case StateFault:
		return transition.EventFault
	}
	return transition.EventStop
}
