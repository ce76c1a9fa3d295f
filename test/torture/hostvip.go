package torture

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
)

// hostVIP stands for "the VIP is on this host's interface", which redis-vip
// check reads (the vips setting) to catch a replica left holding the VIP by
// a notify_master that never ran. Both model hosts share this machine's
// interfaces, so each host gets an address of its own on lo, present only
// while the model's VRRP has that host MASTER: host i's check sees its own
// address and never the other's. Needs root and iproute2; without them the
// vips setting is left out and the rule is not exercised.
type hostVIP struct {
	addrs [2]string
	mu    sync.Mutex
	up    [2]bool
}

var vipSerial atomic.Int32

// newHostVIP picks two loopback addresses unique to this process and pair.
func newHostVIP() *hostVIP {
	if os.Geteuid() != 0 {
		return nil
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil
	}
	n := vipSerial.Add(1)
	b := 100 + os.Getpid()%100
	return &hostVIP{addrs: [2]string{fmt.Sprintf("127.%d.%d.1", b, n%250), fmt.Sprintf("127.%d.%d.2", b, n%250)}}
}

// addr is host i's address ("" when the emulation is off).
func (v *hostVIP) addr(i int) string {
	if v == nil {
		return ""
	}
	return v.addrs[i]
}

// set puts host i's address on lo or takes it off.
func (v *hostVIP) set(i int, on bool) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.up[i] == on {
		return
	}
	verb := "del"
	if on {
		verb = "add"
	}
	if err := exec.Command("ip", "addr", verb, v.addrs[i]+"/32", "dev", "lo").Run(); err == nil || !on {
		v.up[i] = on
	}
}

// close takes both addresses off.
func (v *hostVIP) close() {
	for i := range 2 {
		v.set(i, false)
	}
}
