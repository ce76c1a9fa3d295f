package netlab

import (
	"os"
	"regexp"
	"strconv"
)

// What the partition table (test/lab/parttable) asks of a writer beyond
// Stop: its progress while it runs, and where it saves its log.

var progressRE = regexp.MustCompile(`sent=(\d+) acked=(\d+)`)

// Acked is the number of acknowledged writes the writer's last progress
// line showed (0 before the first, or when it runs without --progress).
func (w *Writer) Acked() int {
	b, err := os.ReadFile(w.p.Log)
	if err != nil {
		return 0
	}
	all := progressRE.FindAllSubmatch(b, -1)
	if len(all) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(string(all[len(all)-1][2]))
	return n
}

// SavedLog is the file the writer saves its acknowledged writes to when it
// stops (--save-log).
func (w *Writer) SavedLog() string { return w.save }

// Dir is the lab's directory (Options.Dir).
func (l *Lab) Dir() string { return l.o.Dir }
