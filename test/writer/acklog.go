package writer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// An ack log records a run's acknowledged writes as they arrive, one JSON
// line each, so that they survive the writer being killed (a power-off of
// the host it runs on; the lab keeps the page cache, so no fsync is needed):
//
//	{"ack_log":1,"key":"k","start":"2006-01-02T15:04:05.999999999Z"}   header, before the first write
//	{"n":1,"at_ns":1200000,"by":"192.0.2.11"}                         one per acknowledgement, before the next write is sent
//	{"end":true,"sent":9,"errors":{"timeout":2},"duration_ns":9000000} trailer, when the write phase ended normally
//
// ReadLog reads it back (and the JSON of --save-log) into a Log. Without the
// trailer (the writer was killed), Sent is the highest number acknowledged
// and Errors is empty; a torn last line (killed inside a write) is dropped.

// AckLogVersion is the header's ack_log field.
const AckLogVersion = 1

type ackLogHeader struct {
	AckLog int       `json:"ack_log"`
	Key    string    `json:"key"`
	Start  time.Time `json:"start"`
}

type ackLogTrailer struct {
	End      bool           `json:"end"`
	Sent     int64          `json:"sent"`
	Errors   map[string]int `json:"errors,omitempty"`
	Duration time.Duration  `json:"duration_ns"`
}

// ackLog writes an ack log to w, one write(2) per line when w is a file.
type ackLog struct {
	w   io.Writer
	buf bytes.Buffer
}

func (a *ackLog) line(v any) error {
	a.buf.Reset()
	if err := json.NewEncoder(&a.buf).Encode(v); err != nil {
		return err
	}
	_, err := a.w.Write(a.buf.Bytes())
	return err
}

func (a *ackLog) header(key string, start time.Time) error {
	return a.line(ackLogHeader{AckLog: AckLogVersion, Key: key, Start: start})
}

func (a *ackLog) ack(x Ack) error { return a.line(x) }

func (a *ackLog) trailer(l Log) error {
	return a.line(ackLogTrailer{End: true, Sent: l.Sent, Errors: l.Errors, Duration: l.Duration})
}

// ReadLog reads a run's acknowledged writes from either form the writer
// leaves: the JSON document of --save-log, or an ack log (--ack-log). It
// also says whether the record is complete (the writer ended normally).
func ReadLog(r io.Reader) (Log, bool, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Log{}, false, err
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	var h ackLogHeader
	if json.Unmarshal(first, &h) != nil || h.AckLog == 0 {
		var l Log
		if err := json.Unmarshal(b, &l); err != nil {
			return Log{}, false, fmt.Errorf("neither a saved log nor an ack log: %w", err)
		}
		return l, true, nil
	}
	if h.AckLog != AckLogVersion {
		return Log{}, false, fmt.Errorf("ack log version %d, want %d", h.AckLog, AckLogVersion)
	}
	l := Log{Key: h.Key, Start: h.Start, Errors: map[string]int{}}
	complete := false
	sc := bufio.NewScanner(bytes.NewReader(rest))
	sc.Buffer(make([]byte, 4096), 1<<20)
	lineNo := 1
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if complete {
			return Log{}, false, fmt.Errorf("ack log line %d: after the trailer", lineNo)
		}
		var t ackLogTrailer
		if bytes.Contains(line, []byte(`"end"`)) && json.Unmarshal(line, &t) == nil && t.End {
			l.Sent, l.Duration, complete = t.Sent, t.Duration, true
			if t.Errors != nil {
				l.Errors = t.Errors
			}
			continue
		}
		var a Ack
		if err := json.Unmarshal(line, &a); err != nil || a.N <= 0 {
			// Only the last line can be torn: the writer was killed inside
			// its write. Anything else is a corrupt log.
			if !bytes.HasSuffix(b, line) {
				return Log{}, false, fmt.Errorf("ack log line %d: %q", lineNo, line)
			}
			break
		}
		l.Acks = append(l.Acks, a)
		l.Sent = max(l.Sent, a.N)
	}
	if err := sc.Err(); err != nil {
		return Log{}, false, fmt.Errorf("ack log: %w", err)
	}
	if !complete && len(l.Acks) > 0 {
		l.Duration = l.Acks[len(l.Acks)-1].At
	}
	return l, complete, nil
}

// errAckLog marks a failure to record an acknowledgement: the run stops,
// since a write acknowledged but not recorded could not be counted.
var errAckLog = errors.New("ack log")
