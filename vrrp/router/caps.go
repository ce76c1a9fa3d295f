package router

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// capNetAdmin is the bit of CAP_NET_ADMIN in the capability sets.
const capNetAdmin = 12

// capNetAdminNote says whether the process has CAP_NET_ADMIN in its
// effective set, for the log line that explains a refused address change.
func capNetAdminNote() string {
	has, ok := effectiveCap("/proc/self/status", capNetAdmin)
	switch {
	case !ok:
		return "redis-vip needs CAP_NET_ADMIN to change addresses"
	case has:
		return "the process has CAP_NET_ADMIN, so a security module or the network namespace refuses it"
	}
	return "the process lacks CAP_NET_ADMIN"
}

// effectiveCap reads CapEff from a /proc/<pid>/status file and reports
// whether capability bit is set; ok is false when the file cannot tell.
func effectiveCap(path string, bit uint) (has, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return false, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, found := strings.CutPrefix(sc.Text(), "CapEff:")
		if !found {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return false, false
		}
		return n&(1<<bit) != 0, true
	}
	return false, false
}
