package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// fault is a column group of the table.
type fault int

const (
	faultKill fault = iota
	faultHang
	faultPlanned
	faultFailback
	numFaults
)

var faultID = [numFaults]string{"kill", "hang", "planned", "failback"}

// notRun is a row's na for a fault -faults left out: no column.
const notRun = "not run (-faults)"

// sample is one measured fault: the longest time the client went without
// an acknowledged write, and the acknowledged writes that were lost.
type sample struct {
	gap  time.Duration
	lost int
	// unsettled: the pair had not settled when the bound ran out (the
	// figures count until the writer stopped).
	unsettled bool
}

// row is one setup's results.
type row struct {
	id, name string
	knobs    []string
	samples  [numFaults][]sample
	// na says why a fault does not apply to the setup ("" when it does).
	na [numFaults]string
	// earlier counts acknowledged writes of earlier trials that this
	// fault's recovery removed (already included in the samples' lost).
	earlier [numFaults]int
	notes   []string
}

// stats of one cell.
type cellStats struct {
	n             int
	median, worst time.Duration
	lost          int
	unsettled     int
}

func statsOf(ss []sample) cellStats {
	c := cellStats{n: len(ss)}
	if len(ss) == 0 {
		return c
	}
	gaps := make([]time.Duration, len(ss))
	for i, s := range ss {
		gaps[i] = s.gap
		c.lost += s.lost
		if s.unsettled {
			c.unsettled++
		}
	}
	slices.Sort(gaps)
	m := len(gaps) / 2
	if len(gaps)%2 == 1 {
		c.median = gaps[m]
	} else {
		c.median = (gaps[m-1] + gaps[m]) / 2
	}
	c.worst = gaps[len(gaps)-1]
	return c
}

// fmtDur prints a gap: milliseconds below 10 s, seconds with one or two
// decimals above.
func fmtDur(d time.Duration) string {
	ms := d.Milliseconds()
	switch {
	case ms < 1000:
		return fmt.Sprintf("%d ms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// fmtRatio prints a ratio to the baseline's median.
func fmtRatio(r float64) string {
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.3f", r)
}

// renderTable prints the one table (Markdown, padded so that it also reads
// in a terminal): a row per setup, for each fault the median and worst
// longest gap, the acknowledged writes lost (summed over the runs) and the
// ratio of the median to the baseline row's median. runs is how many runs
// each cell should have; cells with fewer say n=.
func renderTable(rows []row, baseline string, runs int, hang time.Duration) string {
	head := []string{"setup"}
	titles := [numFaults]string{"kill -9", fmt.Sprintf("SIGSTOP %gs", hang.Seconds()), "planned move", "failback"}
	vs := "vs S+H"
	if baseline != "sentinel" {
		vs = "vs row 1"
	}
	shown := func(f fault) bool {
		return slices.ContainsFunc(rows, func(r row) bool { return r.na[f] != notRun })
	}
	for f := fault(0); f < numFaults; f++ {
		if shown(f) {
			head = append(head, titles[f]+": median", "worst", "lost", vs)
		}
	}
	var base [numFaults]cellStats
	for _, r := range rows {
		if r.id == baseline {
			for f := fault(0); f < numFaults; f++ {
				base[f] = statsOf(r.samples[f])
			}
		}
	}
	cells := [][]string{head}
	for _, r := range rows {
		line := []string{r.name}
		for f := fault(0); f < numFaults; f++ {
			if !shown(f) {
				continue
			}
			c := statsOf(r.samples[f])
			switch {
			case r.na[f] != "":
				line = append(line, "-", "-", "-", "-")
				continue
			case c.n == 0:
				line = append(line, "no data", "", "", "")
				continue
			}
			med := fmtDur(c.median)
			if c.unsettled > 0 {
				med = "*" + med
			}
			if c.n < runs {
				med += fmt.Sprintf(" (n=%d)", c.n)
			}
			ratio := "-"
			if base[f].n > 0 && base[f].median > 0 {
				ratio = fmtRatio(float64(c.median) / float64(base[f].median))
			}
			line = append(line, med, fmtDur(c.worst), fmt.Sprint(c.lost), ratio)
		}
		cells = append(cells, line)
	}
	width := make([]int, len(head))
	for _, l := range cells {
		for i, c := range l {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	emit := func(l []string) {
		b.WriteString("|")
		for i, c := range l {
			if i == 0 {
				fmt.Fprintf(&b, " %-*s |", width[i], c)
			} else {
				fmt.Fprintf(&b, " %*s |", width[i], c)
			}
		}
		b.WriteString("\n")
	}
	emit(cells[0])
	b.WriteString("|")
	for i := range head {
		if i == 0 {
			b.WriteString(strings.Repeat("-", width[i]+2) + "|")
		} else {
			b.WriteString(strings.Repeat("-", width[i]+1) + ":|")
		}
	}
	b.WriteString("\n")
	for _, l := range cells[1:] {
		emit(l)
	}
	return b.String()
}
