package labnet

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Nodes are the lab's namespaces that partitions act on or between.
var Nodes = []string{"h1", "h2", "w", "client"}

// Shape is a lab's partition state: the hosts isolated, whether h1 and h2
// are split, the hosts powered off. The zero value is a healed lab.
type Shape struct {
	// Isolated lists the hosts cut from everything (sorted). A powered-off
	// host that was isolated stays listed: poweron brings it back isolated.
	Isolated []string
	// Split: h1 and h2 do not reach each other.
	Split bool
	// Off lists the hosts powered off (sorted).
	Off []string
}

// String is the form rv-lab's partition command prints:
// "isolated=h1,w split=on off=h2", "-" for an empty list.
func (s Shape) String() string {
	list := func(l []string) string {
		if len(l) == 0 {
			return "-"
		}
		return strings.Join(l, ",")
	}
	split := "off"
	if s.Split {
		split = "on"
	}
	return fmt.Sprintf("isolated=%s split=%s off=%s", list(s.Isolated), split, list(s.Off))
}

// Healed reports whether nothing is isolated, split or off.
func (s Shape) Healed() bool { return len(s.Isolated) == 0 && !s.Split && len(s.Off) == 0 }

// ParseShape reads the String form. "split=partial" (one of the two ports
// flagged, which no lab command leaves) is an error.
func ParseShape(line string) (Shape, error) {
	var s Shape
	seen := map[string]bool{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Shape{}, fmt.Errorf("partition shape %q: field %q is not key=value", line, f)
		}
		seen[k] = true
		list := func() []string {
			if v == "-" || v == "" {
				return nil
			}
			l := strings.Split(v, ",")
			sort.Strings(l)
			return l
		}
		switch k {
		case "isolated":
			s.Isolated = list()
		case "off":
			s.Off = list()
		case "split":
			switch v {
			case "on":
				s.Split = true
			case "off":
			default:
				return Shape{}, fmt.Errorf("partition shape %q: split=%s", line, v)
			}
		default:
			return Shape{}, fmt.Errorf("partition shape %q: unknown field %q", line, k)
		}
	}
	if !seen["isolated"] || !seen["split"] || !seen["off"] {
		return Shape{}, fmt.Errorf("partition shape %q: want isolated=, split= and off=", line)
	}
	return s, nil
}

// Reaches says whether packets pass between nodes a and b in this shape
// (symmetric; the labs have no one-way shape).
func (s Shape) Reaches(a, b string) bool {
	if a == b {
		return !slices.Contains(s.Off, a)
	}
	for _, n := range []string{a, b} {
		if slices.Contains(s.Off, n) || slices.Contains(s.Isolated, n) {
			return false
		}
	}
	pair := []string{a, b}
	sort.Strings(pair)
	return !(s.Split && pair[0] == "h1" && pair[1] == "h2")
}

// Endpoint is a node as a probe sees it: its namespace and its address.
type Endpoint struct {
	NS   string
	Addr string
}

// ProbePort is the TCP port probes connect to: nothing in the labs listens
// there, so a reachable host answers with an RST.
const ProbePort = 9

// ProbeTimeout is the bound on one probe that tells "cut" from "reached"
// right after a heal: a reachable host answers in well under a millisecond
// once its address is resolved, but the sender's ARP entry for it may have
// been left INCOMPLETE or FAILED by the partition and sends its next request
// up to 1 s later (the kernel's retrans_time); the SYN waits for it.
const ProbeTimeout = 2 * time.Second

// Matrix is what probes found between every ordered pair of nodes:
// Matrix[from][to].
type Matrix map[string]map[string]Reach

// ProbeAll probes every ordered pair of distinct nodes (in parallel, each
// bounded by timeout): a TCP connection from one's namespace to the other's
// address, ProbePort. A node whose namespace is gone (powered off) reaches
// nothing.
func ProbeAll(nodes map[string]Endpoint, timeout time.Duration) Matrix {
	m := Matrix{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for from, a := range nodes {
		m[from] = map[string]Reach{}
		for to, b := range nodes {
			if from == to {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, _ := Probe(a.NS, fmt.Sprintf("%s:%d", b.Addr, ProbePort), timeout)
				mu.Lock()
				m[from][to] = r
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return m
}

// Diff compares the matrix with what shape predicts and returns one line per
// pair that differs ("h1 -> h2: cut, want reached"); none when they agree.
func (m Matrix) Diff(shape Shape) []string {
	var out []string
	for _, from := range sortedKeys(m) {
		for _, to := range sortedKeys(m[from]) {
			want := Cut
			if shape.Reaches(from, to) {
				want = Reached
			}
			if got := m[from][to]; got != want {
				out = append(out, fmt.Sprintf("%s -> %s: %s, want %s", from, to, got, want))
			}
		}
	}
	return out
}

// String prints the matrix as a table (rows: from, columns: to).
func (m Matrix) String() string {
	keys := sortedKeys(m)
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s", "from\\to")
	for _, k := range keys {
		fmt.Fprintf(&b, " %-8s", k)
	}
	for _, from := range keys {
		fmt.Fprintf(&b, "\n%-8s", from)
		for _, to := range keys {
			cell := "."
			if from != to {
				cell = m[from][to].String()
			}
			fmt.Fprintf(&b, " %-8s", cell)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check compares a lab's readout of its shape and a probe matrix with want:
// nil when the readout is want and every pair reaches exactly as want
// predicts, else an error listing the differences and the matrix.
func Check(want, read Shape, m Matrix) error {
	var problems []string
	if read.String() != want.String() {
		problems = append(problems, fmt.Sprintf("the lab reads its shape as %q, want %q", read, want))
	}
	problems = append(problems, m.Diff(want)...)
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s\n%s", strings.Join(problems, "\n"), m)
}
