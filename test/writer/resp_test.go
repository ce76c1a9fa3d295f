package writer

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    any
		replyOK bool // false: an ErrReply
	}{
		{"+OK\r\n", "OK", true},
		{":42\r\n", int64(42), true},
		{"$5\r\nhello\r\n", "hello", true},
		{"$-1\r\n", nil, true},
		{"*2\r\n$19\r\nreplica-announce-ip\r\n$10\r\n192.0.2.11\r\n", []any{"replica-announce-ip", "192.0.2.11"}, true},
		{"*0\r\n", []any{}, true},
		{"-READONLY You can't write against a read only replica.\r\n", nil, false},
	} {
		got, err := readReply(bufio.NewReader(strings.NewReader(tc.in)))
		if tc.replyOK && err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !tc.replyOK {
			if !errors.Is(err, ErrReply) || Classify(err) != "READONLY" {
				t.Errorf("%q: err %v (class %q), want READONLY reply", tc.in, err, Classify(err))
			}
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %#v, want %#v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "?x\r\n", ":x\r\n", "$3\r\nab"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
