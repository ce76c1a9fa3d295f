package writer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRedis answers CONFIG GET replica-announce-ip and RPUSH on loopback;
// it refuses (closes) the connection of the command numbered in drop.
func fakeRedis(t *testing.T, drop map[string]bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					v, err := readReply(r)
					if err != nil {
						return
					}
					args, _ := v.([]any)
					if len(args) == 0 {
						return
					}
					switch strings.ToUpper(fmt.Sprint(args[0])) {
					case "CONFIG":
						fmt.Fprintf(c, "*2\r\n$19\r\nreplica-announce-ip\r\n$10\r\n192.0.2.11\r\n")
					case "RPUSH":
						if drop[fmt.Sprint(args[2])] {
							return
						}
						fmt.Fprintf(c, ":1\r\n")
					default:
						fmt.Fprintf(c, "-ERR unknown\r\n")
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// The ack log read back is the run the writer returned: same key, start,
// acknowledgements (number, time, server), sent count and errors.
func TestAckLogRoundTrip(t *testing.T) {
	addr := fakeRedis(t, map[string]bool{"3": true})
	var buf bytes.Buffer
	cfg := Config{Addr: addr, Key: "k", Timeout: time.Second, Duration: 10 * time.Second, Count: 6, AckLog: &buf}
	l, err := Write(context.Background(), cfg, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Acks) != 5 || l.Errors["closed"]+l.Errors["reset"] != 1 {
		t.Fatalf("run: %d acks, errors %v; want 5 and one failure", len(l.Acks), l.Errors)
	}
	got, complete, err := ReadLog(bytes.NewReader(buf.Bytes()))
	if err != nil || !complete {
		t.Fatalf("ReadLog: complete=%v %v\n%s", complete, err, buf.String())
	}
	if !got.Start.Equal(l.Start) {
		t.Errorf("start %v, want %v", got.Start, l.Start)
	}
	got.Start = l.Start
	if !reflect.DeepEqual(got, l) {
		t.Errorf("read back:\n%+v\nwant\n%+v", got, l)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1+5+1 {
		t.Errorf("%d lines, want header, 5 acks, trailer:\n%s", n, buf.String())
	}
}

// failAfter accepts n writes, then fails every one.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk full")
	}
	f.n--
	return len(p), nil
}

// An acknowledgement that cannot be recorded stops the run: it returns
// what it has and an error naming the ack log, and sends nothing more.
func TestAckLogFailureStopsTheRun(t *testing.T) {
	addr := fakeRedis(t, nil)
	cfg := Config{Addr: addr, Key: "k", Timeout: time.Second, Duration: 10 * time.Second, Count: 100, AckLog: &failAfter{n: 1 + 3}}
	l, err := Write(context.Background(), cfg, 0, nil)
	if !errors.Is(err, errAckLog) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err %v, want the ack log's failure", err)
	}
	if len(l.Acks) != 4 || l.Sent != 4 {
		t.Fatalf("%d acks, sent %d: want the 4th ack (not recorded) to end the run", len(l.Acks), l.Sent)
	}
}

func TestReadLog(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	head := `{"ack_log":1,"key":"k","start":"2025-01-02T03:04:05.000000006Z"}` + "\n"
	a1 := `{"n":1,"at_ns":1000,"by":"a"}` + "\n"
	a2 := `{"n":3,"at_ns":3000,"by":"b"}` + "\n"
	trailer := `{"end":true,"sent":4,"errors":{"timeout":1},"duration_ns":5000}` + "\n"
	acks := []Ack{{N: 1, At: 1000, By: "a"}, {N: 3, At: 3000, By: "b"}}
	for _, tc := range []struct {
		name     string
		in       string
		want     Log
		complete bool
		bad      bool
	}{
		{"complete", head + a1 + a2 + trailer,
			Log{Key: "k", Start: start, Sent: 4, Acks: acks, Errors: map[string]int{"timeout": 1}, Duration: 5000}, true, false},
		{"killed: no trailer", head + a1 + a2,
			Log{Key: "k", Start: start, Sent: 3, Acks: acks, Errors: map[string]int{}, Duration: 3000}, false, false},
		{"killed inside a write: torn last line dropped", head + a1 + a2 + `{"n":4,"at`,
			Log{Key: "k", Start: start, Sent: 3, Acks: acks, Errors: map[string]int{}, Duration: 3000}, false, false},
		{"killed before the first ack", head,
			Log{Key: "k", Start: start, Errors: map[string]int{}}, false, false},
		{"a saved log (--save-log)", `{"key":"k","start":"2025-01-02T03:04:05.000000006Z","sent":4,"acks":[{"n":1,"at_ns":1000,"by":"a"},{"n":3,"at_ns":3000,"by":"b"}],"errors":{"timeout":1},"duration_ns":5000}`,
			Log{Key: "k", Start: start, Sent: 4, Acks: acks, Errors: map[string]int{"timeout": 1}, Duration: 5000}, true, false},
		{"corrupt line in the middle", head + a1 + "garbage\n" + a2, Log{}, false, true},
		{"line after the trailer", head + a1 + trailer + a2, Log{}, false, true},
		{"another version", `{"ack_log":2,"key":"k"}` + "\n", Log{}, false, true},
		{"empty", "", Log{}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, complete, err := ReadLog(strings.NewReader(tc.in))
			if tc.bad {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if complete != tc.complete || !got.Start.Equal(tc.want.Start) {
				t.Fatalf("complete=%v start %v, want %v %v", complete, got.Start, tc.complete, tc.want.Start)
			}
			got.Start = tc.want.Start
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
