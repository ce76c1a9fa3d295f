package rdbfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// rdbBuilder writes synthetic RDB files for the parser tests.
type rdbBuilder struct{ b []byte }

func newRDB(version int) *rdbBuilder {
	return &rdbBuilder{b: fmt.Appendf(nil, "REDIS%04d", version)}
}

func (w *rdbBuilder) raw(b ...byte) *rdbBuilder { w.b = append(w.b, b...); return w }

func (w *rdbBuilder) length(n uint64) *rdbBuilder {
	switch {
	case n < 1<<6:
		w.b = append(w.b, byte(n))
	case n < 1<<14:
		w.b = append(w.b, 0x40|byte(n>>8), byte(n))
	case n <= 0xffffffff:
		w.b = append(w.b, 0x80)
		w.b = binary.BigEndian.AppendUint32(w.b, uint32(n))
	default:
		w.b = append(w.b, 0x81)
		w.b = binary.BigEndian.AppendUint64(w.b, n)
	}
	return w
}

func (w *rdbBuilder) str(s string) *rdbBuilder {
	w.length(uint64(len(s)))
	w.b = append(w.b, s...)
	return w
}

func (w *rdbBuilder) aux(k, v string) *rdbBuilder { return w.raw(opAux).str(k).str(v) }

// end appends the EOF opcode and the checksum.
func (w *rdbBuilder) end() []byte {
	w.b = append(w.b, opEOF)
	crc, err := redisCRC64(bytes.NewReader(w.b), int64(len(w.b)))
	if err != nil {
		panic(err)
	}
	return binary.LittleEndian.AppendUint64(w.b, crc)
}

func scanBytes(data []byte) (Summary, error) {
	res, err := scanRDB(bytes.NewReader(data), int64(len(data)), false)
	return res.sum, err
}

func TestCRC64(t *testing.T) {
	// The check value of CRC-64/Jones as Redis computes it (crc64.c).
	got, err := redisCRC64(strings.NewReader("123456789"), 9)
	if err != nil {
		t.Fatal(err)
	}
	if got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %016x, want e9c6d914c4b8d9ca", got)
	}
}

// The testdata files were written by redis-server 7.0.15 (see
// testdata/README.md); these are the facts they hold.
func TestInspectTestdata(t *testing.T) {
	ctime := time.Unix(1795293677, 0).UTC()
	base := []string{"redis-ver", "redis-bits", "ctime", "used-mem", "aof-base"}
	repl := append(slices.Clone(base), "repl-stream-db", "repl-id", "repl-offset")
	tests := []struct {
		file        string
		empty       bool
		keys        int64
		stop        StopReason
		replID      string
		replOffset  int64
		hasRepl     bool
		auxKeys     []string
		replStreamD int
	}{
		{file: "empty-7.0.rdb", empty: true, stop: StopEOF, auxKeys: base, replStreamD: -1},
		{file: "keys-7.0.rdb", keys: 4, stop: StopDBSize, auxKeys: base, replStreamD: -1},
		{file: "function-lzf-7.0.rdb", empty: true, stop: StopEOF, auxKeys: base, replStreamD: -1},
		{file: "master-repl-7.0.rdb", keys: 2, stop: StopDBSize, auxKeys: repl, hasRepl: true,
			replID: "d5c8cdec1d2c04670b63fd378475c9918d71eaaa", replOffset: 106},
		{file: "replica-7.0.rdb", keys: 2, stop: StopDBSize, auxKeys: repl, hasRepl: true,
			replID: "d5c8cdec1d2c04670b63fd378475c9918d71eaaa", replOffset: 106},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			s, err := Inspect(path)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(path)
			if s.Source != SourceRDB || s.Path != path || s.Size != st.Size() {
				t.Errorf("source/path/size = %v %q %d", s.Source, s.Path, s.Size)
			}
			if s.RDBVersion != 10 || s.RedisVersion != "7.0.15" {
				t.Errorf("versions = %d %q, want 10 7.0.15", s.RDBVersion, s.RedisVersion)
			}
			if !s.CreatedAt.Equal(ctime) {
				t.Errorf("CreatedAt = %v, want %v", s.CreatedAt, ctime)
			}
			if s.UsedMem < 100_000 || s.UsedMem > 10_000_000 {
				t.Errorf("UsedMem = %d, implausible", s.UsedMem)
			}
			if s.Empty != tt.empty || s.NonEmpty != !tt.empty {
				t.Errorf("Empty/NonEmpty = %v/%v, want empty=%v", s.Empty, s.NonEmpty, tt.empty)
			}
			if s.KeysHint != tt.keys || s.Stop != tt.stop {
				t.Errorf("KeysHint/Stop = %d/%s, want %d/%s", s.KeysHint, s.Stop, tt.keys, tt.stop)
			}
			if s.HasReplInfo != tt.hasRepl || s.ReplID != tt.replID || s.ReplOffset != tt.replOffset || s.ReplStreamDB != tt.replStreamD {
				t.Errorf("repl = %v %q %d db %d, want %v %q %d db %d", s.HasReplInfo, s.ReplID, s.ReplOffset, s.ReplStreamDB,
					tt.hasRepl, tt.replID, tt.replOffset, tt.replStreamD)
			}
			if got := slices.Sorted(mapKeys(s.Aux)); !slices.Equal(got, slices.Sorted(slices.Values(tt.auxKeys))) {
				t.Errorf("aux keys = %v, want %v", got, tt.auxKeys)
			}
			if s.Aux["redis-bits"] != "64" || s.AOFPreamble {
				t.Errorf("redis-bits %q, AOFPreamble %v", s.Aux["redis-bits"], s.AOFPreamble)
			}
		})
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestInspectMissing(t *testing.T) {
	_, err := Inspect(filepath.Join(t.TempDir(), "dump.rdb"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Fatalf("missing file reported as corrupt: %v", err)
	}
}

// Every strict prefix of a valid file is corrupt: either the header is cut,
// or the end check (EOF opcode, checksum) fails.
func TestEveryTruncationIsCorrupt(t *testing.T) {
	files, err := filepath.Glob("testdata/*.rdb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(data) {
			if _, err := scanBytes(data[:n]); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s cut to %d bytes: err = %v, want ErrCorrupt", f, n, err)
			}
		}
	}
}

func TestCorruptFiles(t *testing.T) {
	valid, err := os.ReadFile("testdata/keys-7.0.rdb")
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(valid)
	flipped[len(flipped)-20] ^= 0x01 // inside a value: only the checksum sees it
	tests := map[string][]byte{
		"empty file":       {},
		"text":             []byte("hello world, this is not an rdb file\n"),
		"bad magic":        []byte("REDIX0010\xff\x00\x00\x00\x00\x00\x00\x00\x00"),
		"bad version":      []byte("REDIS00a0\xff\x00\x00\x00\x00\x00\x00\x00\x00"),
		"version zero":     []byte("REDIS0000\xff\x00\x00\x00\x00\x00\x00\x00\x00"),
		"bit flip":         flipped,
		"bad length enc":   newRDB(10).raw(opAux, 0x82).end(),
		"bad string enc":   newRDB(10).raw(opAux, 0xC4).end(),
		"bad lzf":          newRDB(10).raw(opAux).str("k").raw(0xC3, 2, 5, 0xE0, 0x00).end(),
		"bad module op":    newRDB(10).raw(opModuleAux, 1, 2, 2, 9).end(),
		"bad when opcode":  newRDB(10).raw(opModuleAux, 1, 1, 2, 0).end(),
		"huge aux length":  newRDB(10).raw(opAux, 0x81, 0x7f, 0, 0, 0, 0, 0, 0, 0).end(),
		"no eof opcode":    append(newRDB(10).raw(opSelectDB, 0, opResizeDB, 1, 0, 0, 1, 'k', 1, 'v').b, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		"missing checksum": newRDB(10).raw(opEOF).b,
		"random":           []byte("REDIS0010\xfa\x03abc\xc3\x10\x20\x01\x02\x03"),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := scanBytes(data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			// The same through a real file, with the path in the message.
			path := filepath.Join(t.TempDir(), "dump.rdb")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Inspect(path)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Inspect err = %v, want ErrCorrupt naming %s", err, path)
			}
		})
	}
}

func TestSynthetic(t *testing.T) {
	long := strings.Repeat("x", 20000)
	// "a" then a back-reference copying it 31 more times: 32 bytes of 'a'.
	lzfA32 := []byte{0xC3, 5, 32, 0x00, 'a', 0xE0, 22, 0x00}
	tests := []struct {
		name     string
		data     []byte
		check    func(t *testing.T, s Summary)
		empty    bool
		nonEmpty bool
		stop     StopReason
	}{
		{
			name: "int encodings and lzf aux",
			data: newRDB(9).
				raw(opAux).str("i8").raw(0xC0, 0xFE).
				raw(opAux).str("i16").raw(0xC1, 0x00, 0x80).
				raw(opAux).str("ctime").raw(0xC2, 0x00, 0x5E, 0xD0, 0xB2).
				raw(opAux).str("lzf").raw(lzfA32...).
				raw(opAux).str("repl-offset").str("9223372036854775807").
				raw(opAux).str("repl-id").str(strings.Repeat("ab", 20)).
				raw(opAux).str("repl-stream-db").raw(0xC0, 3).
				end(),
			empty: true, stop: StopEOF,
			check: func(t *testing.T, s Summary) {
				// 0xB2D05E00 is negative as an int32, the encoding's type:
				// Redis writes such values as plain strings instead.
				want := map[string]string{"i8": "-2", "i16": "-32768", "ctime": "-1294967296", "lzf": strings.Repeat("a", 32)}
				for k, v := range want {
					if s.Aux[k] != v {
						t.Errorf("aux %s = %q, want %q", k, s.Aux[k], v)
					}
				}
				if !s.HasReplInfo || s.ReplOffset != 9223372036854775807 || s.ReplStreamDB != 3 {
					t.Errorf("repl = %v %d %d", s.HasReplInfo, s.ReplOffset, s.ReplStreamDB)
				}
			},
		},
		{
			name: "long lengths and a long aux value skipped",
			data: newRDB(10).aux("redis-ver", "7.2.4").aux("big", long).
				raw(opAux).str("k64").raw(0x81, 0, 0, 0, 0, 0, 0, 0, 2).raw('h', 'i').
				raw(opSelectDB).length(300).raw(opResizeDB).length(70000).length(0).
				raw(0, 1, 'k', 1, 'v').end(),
			nonEmpty: true, stop: StopDBSize,
			check: func(t *testing.T, s Summary) {
				if _, ok := s.Aux["big"]; ok {
					t.Error("aux longer than auxKeep kept")
				}
				if s.Aux["k64"] != "hi" || s.RedisVersion != "7.2.4" || s.KeysHint != 70000 {
					t.Errorf("aux %q version %q keys %d", s.Aux["k64"], s.RedisVersion, s.KeysHint)
				}
			},
		},
		{
			name: "module aux and function skipped",
			data: newRDB(10).
				raw(opModuleAux).length(12345).raw(modUInt, 2).
				raw(modSInt, 5, modUInt, 0x80, 0, 0, 1, 0, modFloat, 1, 2, 3, 4, modDouble, 1, 2, 3, 4, 5, 6, 7, 8).
				raw(modString).str("module data").raw(modString).raw(lzfA32...).raw(modEOF).
				raw(opFunction2).raw(lzfA32...).
				raw(opFunction2).str("#!lua name=x\nredis.register_function('f', function() return 1 end)").
				raw(opSelectDB, 0).raw(opResizeDB, 0, 0).end(),
			empty: true, stop: StopEOF,
		},
		{
			name: "pre-GA function stops",
			data: newRDB(10).raw(opFunctionPreGA).str("lib").end(),
			stop: StopOpcode,
		},
		{
			name: "unknown opcode stops",
			data: newRDB(12).raw(0xF1, 1, 2, 3).end(),
			stop: StopOpcode,
		},
		{
			name:     "key without selectdb or resizedb (old format)",
			data:     newRDB(6).raw(0).str("k").str("v").end(),
			nonEmpty: true, stop: StopKey,
		},
		{
			name:     "expire prefix is a key",
			data:     newRDB(10).raw(opSelectDB, 0, opExpireMS, 1, 2, 3, 4, 5, 6, 7, 8, 0).str("k").str("v").end(),
			nonEmpty: true, stop: StopKey,
		},
		{
			name:     "resizedb zero then key",
			data:     newRDB(10).raw(opSelectDB, 0, opResizeDB, 0, 0, 0).str("k").str("v").end(),
			nonEmpty: true, stop: StopKey,
		},
		{
			name:  "checksum disabled",
			data:  append(newRDB(10).aux("redis-ver", "7.0.0").raw(opEOF).b, 0, 0, 0, 0, 0, 0, 0, 0),
			empty: true, stop: StopEOF,
		},
		{
			name:  "version 4 has no checksum",
			data:  newRDB(4).raw(opEOF).b,
			empty: true, stop: StopEOF,
		},
		{
			name:     "version 4 with a key",
			data:     newRDB(4).raw(opSelectDB, 0, 0).str("k").str("v").raw(opEOF).b,
			nonEmpty: true, stop: StopKey,
		},
		{
			name: "valkey 9 magic",
			data: func() []byte {
				w := &rdbBuilder{b: []byte("VALKEY080")}
				return w.aux("valkey-ver", "9.0.0").end()
			}(),
			empty: true, stop: StopEOF,
			check: func(t *testing.T, s Summary) {
				if s.RDBVersion != 80 || s.RedisVersion != "9.0.0" {
					t.Errorf("version %d %q", s.RDBVersion, s.RedisVersion)
				}
			},
		},
		{
			name: "bad numbers and short repl-id are ignored",
			data: newRDB(10).aux("ctime", "soon").aux("used-mem", "lots").
				aux("repl-id", "abc").aux("repl-offset", "12").aux("repl-stream-db", "x").end(),
			empty: true, stop: StopEOF,
			check: func(t *testing.T, s Summary) {
				if !s.CreatedAt.IsZero() || s.UsedMem != 0 || s.HasReplInfo || s.ReplStreamDB != -1 {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name:  "aof preamble flag",
			data:  newRDB(10).aux("aof-base", "1").end(),
			empty: true, stop: StopEOF,
			check: func(t *testing.T, s Summary) {
				if !s.AOFPreamble {
					t.Error("AOFPreamble not set")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := scanBytes(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if s.Empty != tt.empty || s.NonEmpty != tt.nonEmpty || s.Stop != tt.stop {
				t.Errorf("Empty/NonEmpty/Stop = %v/%v/%s, want %v/%v/%s", s.Empty, s.NonEmpty, s.Stop, tt.empty, tt.nonEmpty, tt.stop)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// A header longer than HeaderLimit leaves the contents unknown without an
// error, and nothing past the limit is read.
func TestHeaderLimit(t *testing.T) {
	w := newRDB(10).aux("redis-ver", "7.0.15")
	chunk := strings.Repeat("y", 60000)
	for range HeaderLimit/len(chunk) + 2 {
		w.aux("pad", chunk)
	}
	data := w.raw(opSelectDB, 0, opResizeDB, 1, 0).raw(0).str("k").str("v").end()
	s, err := scanBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stop != StopLimit || s.Empty || s.NonEmpty || s.RedisVersion != "7.0.15" {
		t.Fatalf("got stop %s empty %v nonempty %v version %q", s.Stop, s.Empty, s.NonEmpty, s.RedisVersion)
	}
	// The same file cut short is still corrupt (no EOF opcode at its end).
	if _, err := scanBytes(data[:len(data)-3]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("cut: err = %v, want ErrCorrupt", err)
	}
}

// A file larger than HeaderLimit whose header is short: the scan stops at
// RESIZEDB, and the end check falls back to the EOF opcode (no CRC).
func TestLargeFile(t *testing.T) {
	w := newRDB(10).aux("redis-ver", "7.0.15").raw(opSelectDB, 0, opResizeDB).length(40).length(0)
	for i := range 40 {
		w.raw(0).str(fmt.Sprintf("key:%d", i)).str(strings.Repeat("v", 60000))
	}
	data := w.end()
	if len(data) <= HeaderLimit {
		t.Fatalf("test file only %d bytes", len(data))
	}
	s, err := scanBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if !s.NonEmpty || s.KeysHint != 40 || s.Stop != StopDBSize {
		t.Fatalf("got %+v", s)
	}
	// Cut inside a value: the byte 9 from the end is a 'v', not EOF.
	if _, err := scanBytes(data[:len(data)-5000]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("cut: err = %v, want ErrCorrupt", err)
	}
}
