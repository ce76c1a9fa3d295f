package lab

import "testing"

func TestSettled(t *testing.T) {
	master := Node{Up: true, Role: "master", KA: "MASTER", KARunning: true}
	replica := Node{Up: true, Role: "slave", Master: "h1", LinkUp: true, KA: "BACKUP", KARunning: true}
	for _, tc := range []struct {
		name   string
		s      State
		master string
		ok     bool
	}{
		{"steady", State{VIP: "h1", Nodes: map[string]Node{"h1": master, "h2": replica}}, "h1", true},
		{"replica's redis down", State{VIP: "h1", Nodes: map[string]Node{"h1": master, "h2": {KA: "FAULT", KARunning: true}}}, "h1", true},
		{"replica's keepalived stopped", State{VIP: "h1", Nodes: map[string]Node{"h1": master, "h2": func() Node { n := replica; n.KARunning = false; return n }()}}, "h1", true},
		{"replica still FAULT", State{VIP: "h1", Nodes: map[string]Node{"h1": master, "h2": func() Node { n := replica; n.KA = "FAULT"; return n }()}}, "", false},
		{"replica link down", State{VIP: "h1", Nodes: map[string]Node{"h1": master, "h2": func() Node { n := replica; n.LinkUp = false; return n }()}}, "", false},
		{"VIP elsewhere", State{VIP: "h2", Nodes: map[string]Node{"h1": master, "h2": replica}}, "", false},
		{"VIP on both", State{VIP: "h1+h2", Nodes: map[string]Node{"h1": master, "h2": replica}}, "", false},
		{"two masters", State{VIP: "h1", Nodes: map[string]Node{"h1": master, "h2": {Up: true, Role: "master", KA: "BACKUP", KARunning: true}}}, "", false},
		{"replication loop", State{VIP: "none", Nodes: map[string]Node{"h1": {Up: true, Role: "slave", Master: "h2", LinkUp: true}, "h2": {Up: true, Role: "slave", Master: "h1", LinkUp: true}}}, "", false},
		{"keepalived disagrees", State{VIP: "h1", Nodes: map[string]Node{"h1": func() Node { n := master; n.KA = "BACKUP"; return n }(), "h2": replica}}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := tc.s.Settled()
			if m != tc.master || ok != tc.ok {
				t.Fatalf("Settled() = %q, %v; want %q, %v (%s)", m, ok, tc.master, tc.ok, tc.s)
			}
		})
	}
}
