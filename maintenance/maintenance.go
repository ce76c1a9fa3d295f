package maintenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/internal/atomicfile"
)

// Suffix ends the name of the file that turns maintenance mode on.
const Suffix = ".maintenance"

// State is an instance's maintenance mode.
type State struct {
	// On is true while the file exists.
	On bool `json:"on"`
	// Since is when it was turned on (zero when unknown).
	Since time.Time `json:"since,omitzero"`
	// By names who turned it on (user, host), for people.
	By string `json:"by,omitempty"`
	// Reason is the operator's note ("" when none).
	Reason string `json:"reason,omitempty"`
}

// String describes the state in a few words, e.g. "on since
// 2025-01-02T03:04:05Z by root@a (kernel upgrade)".
func (s State) String() string {
	if !s.On {
		return "off"
	}
	var b strings.Builder
	b.WriteString("on")
	if !s.Since.IsZero() {
		b.WriteString(" since " + s.Since.UTC().Format(time.RFC3339))
	}
	if s.By != "" {
		b.WriteString(" by " + s.By)
	}
	if s.Reason != "" {
		b.WriteString(" (" + s.Reason + ")")
	}
	return b.String()
}

// Path is the file that turns maintenance mode on for instance in dir.
func Path(dir, instance string) string { return filepath.Join(dir, instance+Suffix) }

// Read returns the instance's maintenance state. A missing file is "off".
// A file that exists is "on" even when its content cannot be read or
// parsed; the error then says why the details are missing.
func Read(dir, instance string) (State, error) {
	p := Path(dir, instance)
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return State{}, nil
	case err != nil:
		if _, serr := os.Stat(p); serr == nil {
			return State{On: true}, fmt.Errorf("maintenance file %s: %w", p, err)
		}
		return State{}, fmt.Errorf("maintenance file %s: %w", p, err)
	}
	s := State{On: true}
	if strings.TrimSpace(string(b)) == "" {
		return s, nil // e.g. made with touch
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{On: true}, fmt.Errorf("maintenance file %s: %w", p, err)
	}
	s.On = true
	return s, nil
}

// Active reports whether maintenance mode is on for the instance; an
// unreadable file counts as on.
func Active(dir, instance string) bool {
	s, _ := Read(dir, instance)
	return s.On
}

// Enable turns maintenance mode on (or updates its details), writing the
// file atomically, readable by everyone (it holds no secret, and the
// daemon may run as another user than the operator).
func Enable(dir, instance string, s State) error {
	s.On = true
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("maintenance: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("maintenance: state dir: %w", err)
	}
	if err := atomicfile.Write(Path(dir, instance), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("maintenance on: %w", err)
	}
	return nil
}

// Disable turns maintenance mode off and returns the state it ended (off
// when it was not on).
func Disable(dir, instance string) (State, error) {
	was, _ := Read(dir, instance)
	err := os.Remove(Path(dir, instance))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return was, fmt.Errorf("maintenance off: %w", err)
	}
	return was, nil
}
