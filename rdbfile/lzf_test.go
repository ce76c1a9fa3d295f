package rdbfile

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestLZFDecompress(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		outLen int
		want   string
		err    bool
	}{
		{name: "literal", in: []byte{2, 'a', 'b', 'c'}, outLen: 3, want: "abc"},
		{name: "overlapping copy", in: []byte{1, 'a', 'b', 0x40, 1}, outLen: 6, want: "ababab"},
		{name: "long copy", in: []byte{0, 'z', 0xE0, 3, 0}, outLen: 13, want: strings.Repeat("z", 13)},
		{name: "empty", in: nil, outLen: 0, want: ""},
		{name: "literal past input", in: []byte{5, 'a'}, outLen: 6, err: true},
		{name: "literal past output", in: []byte{2, 'a', 'b', 'c'}, outLen: 2, err: true},
		{name: "reference before start", in: []byte{0, 'a', 0x20, 5}, outLen: 4, err: true},
		{name: "reference missing offset", in: []byte{0, 'a', 0x20}, outLen: 4, err: true},
		{name: "long reference missing length", in: []byte{0, 'a', 0xE0}, outLen: 40, err: true},
		{name: "short output", in: []byte{1, 'a', 'b'}, outLen: 5, err: true},
		{name: "copy past output", in: []byte{0, 'a', 0x20, 0}, outLen: 3, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lzfDecompress(tt.in, tt.outLen)
			if tt.err {
				if !errors.Is(err, errLZF) {
					t.Fatalf("err = %v, want errLZF", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The function library in testdata/function-lzf-7.0.rdb was compressed by
// redis-server itself; decoding it checks the decoder against real data.
func TestLZFRealPayload(t *testing.T) {
	data, err := os.ReadFile("testdata/function-lzf-7.0.rdb")
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.IndexByte(data, opFunction2)
	if at < 0 || data[at+1] != 0xC3 {
		t.Fatalf("no LZF-compressed FUNCTION2 record in the file")
	}
	s := &scanner{
		br:    bufio.NewReader(bytes.NewReader(data[at+1:])),
		size:  int64(len(data) - at - 1),
		limit: int64(len(data) - at - 1),
	}
	lib, ok, err := s.str(1 << 16)
	if err != nil || !ok {
		t.Fatalf("str: ok=%v err=%v", ok, err)
	}
	if !strings.HasPrefix(lib, "#!lua name=padlib\n") || !strings.HasSuffix(lib, "redis.register_function('pad', pad)") ||
		!strings.Contains(lib, strings.Repeat("a", 100)) {
		t.Fatalf("decoded library = %q", lib)
	}
}
