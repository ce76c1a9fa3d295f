package main

import (
	"fmt"
	"io"
	"sync"
)

// warnOnce returns a function that prints each distinct warning once, as
// one line on w ("redis-vip: warning: ..."): a command that selects an
// instance more than once says it once.
func warnOnce(w io.Writer) func(string) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		if seen[msg] {
			return
		}
		seen[msg] = true
		fmt.Fprintf(w, "redis-vip: warning: %s\n", msg)
	}
}
