package keepalived

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrBadNotify marks arguments or a FIFO line keepalived would not send.
var ErrBadNotify = errors.New("bad keepalived notify")

// State is the VRRP state keepalived reports.
type State string

// The states keepalived reports for a vrrp_instance or vrrp_sync_group.
const (
	StateMaster State = "MASTER"
	StateBackup State = "BACKUP"
	StateFault  State = "FAULT"
	StateStop   State = "STOP"
	// StateDeleted is sent when an instance is removed on reload.
	StateDeleted State = "DELETED"
	// StateMasterRxLowerPri: a master heard an advert of lower priority
	// (keepalived writes it to the notify FIFO, e.g. when a split heals).
	// Information only: it asks for no transition.
	StateMasterRxLowerPri State = "MASTER_RX_LOWER_PRI"
)

// Informational reports whether the state asks for no transition.
func (s State) Informational() bool { return s == StateMasterRxLowerPri }

// Notify is one notification: which instance (or group) entered which state.
type Notify struct {
	// Type is INSTANCE or GROUP.
	Type     string
	Name     string
	State    State
	Priority int
}

// ParseArgs reads the arguments keepalived appends to a generic notify
// script: TYPE NAME STATE [PRIORITY].
func ParseArgs(args []string) (Notify, error) {
	if len(args) < 3 || len(args) > 4 {
		return Notify{}, fmt.Errorf("%w: want TYPE NAME STATE [PRIORITY], got %d arguments", ErrBadNotify, len(args))
	}
	n := Notify{Type: strings.ToUpper(args[0]), Name: strings.Trim(args[1], `"`), State: State(strings.ToUpper(args[2]))}
	switch n.Type {
	case "INSTANCE", "GROUP":
	default:
		return Notify{}, fmt.Errorf("%w: type %q: want INSTANCE or GROUP", ErrBadNotify, args[0])
	}
	if n.Name == "" {
		return Notify{}, fmt.Errorf("%w: empty name", ErrBadNotify)
	}
	switch n.State {
	case StateMaster, StateBackup, StateFault, StateStop, StateDeleted, StateMasterRxLowerPri:
	default:
		return Notify{}, fmt.Errorf("%w: state %q: want MASTER, BACKUP, FAULT, STOP or DELETED", ErrBadNotify, args[2])
	}
	if len(args) == 4 {
		p, err := strconv.Atoi(args[3])
		if err != nil || p < 0 || p > 255 {
			return Notify{}, fmt.Errorf("%w: priority %q: want 0-255", ErrBadNotify, args[3])
		}
		n.Priority = p
	}
	return n, nil
}

// ParseLine reads one FIFO line: TYPE "NAME" STATE PRIORITY. The name may
// contain spaces inside its quotes.
func ParseLine(line string) (Notify, error) {
	line = strings.TrimSpace(line)
	typ, rest, ok := strings.Cut(line, " ")
	if !ok {
		return Notify{}, fmt.Errorf("%w: line %q: want TYPE \"NAME\" STATE PRIORITY", ErrBadNotify, line)
	}
	rest = strings.TrimLeft(rest, " ")
	var name string
	if strings.HasPrefix(rest, `"`) {
		end := strings.Index(rest[1:], `"`)
		if end < 0 {
			return Notify{}, fmt.Errorf("%w: line %q: unterminated name", ErrBadNotify, line)
		}
		name, rest = rest[1:1+end], rest[2+end:]
	} else {
		name, rest, _ = strings.Cut(rest, " ")
	}
	args := append([]string{typ, name}, strings.Fields(rest)...)
	if name == "" {
		return Notify{}, fmt.Errorf("%w: line %q: empty name", ErrBadNotify, line)
	}
	return ParseArgs(args)
}

// ReadFIFO calls handle for each well-formed line of r, in order, one at a
// time, until r ends or ctx is done. Malformed lines go to bad and are skipped.
func ReadFIFO(ctx context.Context, r io.Reader, handle func(Notify), bad func(line string, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		n, err := ParseLine(line)
		if err != nil {
			bad(line, err)
			continue
		}
		handle(n)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read notify fifo: %w", err)
	}
	return nil
}
