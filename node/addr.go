package node

import (
	"net"
	"strconv"
)

// SameAddr compares two host:port strings, treating equal IPs as equal.
func SameAddr(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	if ha == hb {
		return true
	}
	ia, ib := net.ParseIP(ha), net.ParseIP(hb)
	return ia != nil && ib != nil && ia.Equal(ib)
}

func joinHostPort(host string, port int) string {
	if host == "" {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}
