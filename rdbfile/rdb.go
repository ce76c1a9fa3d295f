package rdbfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"strconv"
	"time"
)

// HeaderLimit is the most bytes read from the start of a file while scanning
// it. A header (AUX fields, module AUX data, function libraries) longer than
// this leaves the contents unknown (Stop is StopLimit) rather than failing.
const HeaderLimit = 1 << 20

// ErrCorrupt is wrapped by every error about a file that is truncated or not
// in the format it claims to be.
var ErrCorrupt = errors.New("corrupt or truncated persistence file")

// errLimit stops a scan that would read past HeaderLimit.
var errLimit = errors.New("header longer than the read limit")

// Source says which kind of file a Summary was read from.
type Source string

// The kinds of file a Summary can describe.
const (
	// SourceRDB is an RDB snapshot (dbfilename, usually dump.rdb).
	SourceRDB Source = "rdb"
	// SourceAOFDir is a Redis 7 multi-part AOF: a manifest, one base file
	// and incremental files in appenddirname.
	SourceAOFDir Source = "aof-dir"
	// SourceAOFFile is a single AOF file, such as the appendonly.aof of
	// Redis 6 and older, with or without the RDB preamble.
	SourceAOFFile Source = "aof-file"
)

// StopReason says where the scan of an RDB header ended.
type StopReason string

// The places a scan can end.
const (
	// StopEOF: the EOF opcode was reached before any key; the dataset is empty.
	StopEOF StopReason = "eof"
	// StopDBSize: a RESIZEDB opcode announced a non-empty database (one
	// announcing zero keys does not stop the scan).
	StopDBSize StopReason = "resizedb"
	// StopKey: the first key (or its expire/LRU/LFU prefix) was reached.
	StopKey StopReason = "key"
	// StopLimit: HeaderLimit bytes were read before the header ended.
	StopLimit StopReason = "limit"
	// StopOpcode: an opcode this package cannot skip (a pre-GA Redis 7
	// function, or one from a newer format) ended the scan.
	StopOpcode StopReason = "opcode"
)

// Summary is what a persistence file says about itself. Fields that the
// file does not carry keep their zero value (ReplStreamDB is -1 then).
type Summary struct {
	// Source is the kind of file that was read.
	Source Source
	// Path is the file read: the RDB file, the AOF manifest, or the AOF file.
	Path string
	// Size is the total size in bytes of the dataset's files (for an AOF
	// directory: the base file plus the incremental files).
	Size int64

	// RDBVersion is the RDB format version (10 for Redis 7.0, 11 for 7.2,
	// 80 for Valkey 9); 0 when no RDB header was read (an AOF without the
	// RDB preamble).
	RDBVersion int
	// RedisVersion is the AUX field redis-ver (valkey-ver for Valkey 9).
	RedisVersion string
	// CreatedAt is the AUX field ctime, in UTC; zero when absent.
	CreatedAt time.Time
	// UsedMem is the AUX field used-mem: bytes used by the server at save time.
	UsedMem int64
	// ReplID is the AUX field repl-id: the replication ID at save time.
	ReplID string
	// ReplOffset is the AUX field repl-offset: the replication offset at
	// save time.
	ReplOffset int64
	// ReplStreamDB is the AUX field repl-stream-db, or -1 when absent.
	ReplStreamDB int
	// HasReplInfo is true when the file carries a 40-character repl-id and
	// a repl-offset. Redis 7.0 writes them only when the server had a
	// replication backlog (a master that has or had replicas, or that was
	// restarted from an RDB with repl info) or was a replica with a master;
	// never in an AOF base.
	HasReplInfo bool
	// AOFPreamble is true when the RDB says it is the base of an AOF (AUX
	// aof-base or aof-preamble non-zero).
	AOFPreamble bool
	// Aux holds the AUX fields read (the first 64; keys or values longer
	// than 4 KiB left out).
	Aux map[string]string

	// KeysHint is the number of keys announced by RESIZEDB before the scan
	// stopped: the size of the first non-empty database, so a lower bound
	// of the total. It is 0 when unknown (no RESIZEDB, or an AOF).
	KeysHint int64
	// Empty is true when the files prove that no key would be loaded
	// (Redis functions may still be there).
	Empty bool
	// NonEmpty is true when the files hold at least one key (RDB) or
	// at least one command (AOF). When neither Empty nor NonEmpty is set
	// the files could not tell (see Stop).
	NonEmpty bool
	// Stop says where the scan of the RDB header ended; empty for an AOF
	// without the RDB preamble.
	Stop StopReason

	// BasePath is the AOF base file, for SourceAOFDir; empty when the
	// manifest names no base file.
	BasePath string
	// IncrFiles is the number of incremental AOF files in the manifest.
	IncrFiles int
	// IncrSize is the total size of the incremental AOF files. A non-zero
	// size means the dataset is not empty, whatever the base file holds.
	IncrSize int64
}

// Inspect reads the header of the RDB file at path, without loading the
// dataset. A missing file gives an error matching fs.ErrNotExist; a
// truncated or malformed file gives one wrapping ErrCorrupt.
func Inspect(path string) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect rdb: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Summary{}, fmt.Errorf("inspect rdb: %w", err)
	}
	res, err := scanRDB(f, st.Size(), false)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect rdb %s: %w", path, err)
	}
	s := res.sum
	s.Source = SourceRDB
	s.Path = path
	s.Size = st.Size()
	return s, nil
}

// RDB opcodes (rdb.h).
const (
	opFunctionPreGA = 0xF6
	opFunction2     = 0xF5
	opModuleAux     = 0xF7
	opIdle          = 0xF8
	opFreq          = 0xF9
	opAux           = 0xFA
	opResizeDB      = 0xFB
	opExpireMS      = 0xFC
	opExpire        = 0xFD
	opSelectDB      = 0xFE
	opEOF           = 0xFF
)

// Module value opcodes, used inside MODULE_AUX records.
const (
	modEOF    = 0
	modSInt   = 1
	modUInt   = 2
	modFloat  = 3
	modDouble = 4
	modString = 5
)

const (
	auxKeep    = 4096 // longest AUX key or value kept in Summary.Aux
	auxMaxKeys = 64   // most AUX fields kept in Summary.Aux
)

// scanResult is a scanned RDB header.
type scanResult struct {
	sum Summary
	// end is the offset just past the EOF opcode and its checksum; set
	// only when sum.Stop is StopEOF.
	end int64
}

// scanRDB reads the RDB header at the start of ra (size bytes long). In
// preamble mode (the RDB starts an AOF file) data may follow the RDB and the
// end of the file is not checked.
func scanRDB(ra io.ReaderAt, size int64, preamble bool) (scanResult, error) {
	limit := min(size, int64(HeaderLimit))
	s := &scanner{
		br:    bufio.NewReaderSize(io.NewSectionReader(ra, 0, limit), 64*1024),
		size:  size,
		limit: limit,
	}
	res := scanResult{sum: Summary{ReplStreamDB: -1}}
	sum := &res.sum
	version, err := s.magic() // size >= 9 implies limit >= 9
	if err != nil {
		return res, err
	}
	sum.RDBVersion = version
	stop, err := s.scanOpcodes(sum)
	switch {
	case errors.Is(err, errLimit):
		sum.Stop = StopLimit
	case err != nil:
		return res, err
	default:
		sum.Stop = stop
	}
	if sum.Stop == StopEOF {
		sum.Empty = true
		res.end = s.off
		if version >= 5 {
			res.end += 8
		}
		if err := verifyEOF(ra, size, s.off, version); err != nil {
			return res, err
		}
		return res, nil
	}
	if !preamble {
		if err := verifyTail(ra, size, version); err != nil {
			return res, err
		}
	}
	return res, nil
}

// scanOpcodes reads opcodes after the magic until it can tell whether the
// dataset is empty. It returns where it stopped.
func (s *scanner) scanOpcodes(sum *Summary) (StopReason, error) {
	var haveOffset bool
	defer func() {
		sum.HasReplInfo = len(sum.ReplID) == 40 && haveOffset
	}()
	// Every pass consumes at least one byte and the scanner never reads
	// past its limit, so the loop ends.
	for {
		op, err := s.byte()
		if err != nil {
			return "", err
		}
		switch op {
		case opAux:
			k, kok, err := s.str(auxKeep)
			if err != nil {
				return "", err
			}
			v, vok, err := s.str(auxKeep)
			if err != nil {
				return "", err
			}
			if kok && vok {
				if applyAux(sum, k, v) {
					haveOffset = true
				}
			}
		case opSelectDB:
			if _, _, err := s.length(); err != nil {
				return "", err
			}
		case opResizeDB:
			dbSize, _, err := s.length()
			if err != nil {
				return "", err
			}
			if _, _, err := s.length(); err != nil { // expires size
				return "", err
			}
			if dbSize > 0 {
				sum.KeysHint += int64(min(dbSize, 1<<62))
				sum.NonEmpty = true
				return StopDBSize, nil
			}
		case opModuleAux:
			if err := s.skipModuleAux(); err != nil {
				return "", err
			}
		case opFunction2:
			if _, _, err := s.str(0); err != nil {
				return "", err
			}
		case opEOF:
			return StopEOF, nil
		case opExpireMS, opExpire, opIdle, opFreq:
			sum.NonEmpty = true
			return StopKey, nil
		case opFunctionPreGA:
			return StopOpcode, nil
		default:
			if op >= 0xF0 { // an opcode newer than this package
				return StopOpcode, nil
			}
			// A value type byte: the first key.
			sum.NonEmpty = true
			return StopKey, nil
		}
	}
}

// applyAux records one AUX field. It reports whether it was a valid
// repl-offset.
func applyAux(sum *Summary, k, v string) bool {
	if sum.Aux == nil {
		sum.Aux = make(map[string]string)
	}
	if len(sum.Aux) < auxMaxKeys {
		sum.Aux[k] = v
	}
	switch k {
	case "redis-ver", "valkey-ver":
		sum.RedisVersion = v
	case "ctime":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			sum.CreatedAt = time.Unix(n, 0).UTC()
		}
	case "used-mem":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			sum.UsedMem = n
		}
	case "repl-id":
		sum.ReplID = v
	case "repl-offset":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			sum.ReplOffset = n
			return true
		}
	case "repl-stream-db":
		if n, err := strconv.Atoi(v); err == nil {
			sum.ReplStreamDB = n
		}
	case "aof-base", "aof-preamble":
		sum.AOFPreamble = v != "0" && v != ""
	}
	return false
}

// scanner reads an RDB header from the first limit bytes of a file of size
// bytes, tracking the offset for error messages.
type scanner struct {
	br    *bufio.Reader
	off   int64
	size  int64
	limit int64
}

// corruptf returns an error wrapping ErrCorrupt that names the offset.
func corruptf(off int64, format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrCorrupt, off, fmt.Sprintf(format, args...))
}

// need checks that n more bytes exist in the file and within the limit.
func (s *scanner) need(n uint64) error {
	if n > uint64(s.size-s.off) {
		return corruptf(s.off, "truncated: need %d bytes, %d left", n, s.size-s.off)
	}
	if n > uint64(s.limit-s.off) {
		return errLimit
	}
	return nil
}

// readErr maps an error from the underlying reader. need has checked the
// size, so an early end means the file shrank while being read.
func (s *scanner) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf(s.off, "file shrank while being read")
	}
	return fmt.Errorf("read at offset %d: %w", s.off, err)
}

func (s *scanner) byte() (byte, error) {
	if err := s.need(1); err != nil {
		return 0, err
	}
	b, err := s.br.ReadByte()
	if err != nil {
		return 0, s.readErr(err)
	}
	s.off++
	return b, nil
}

// bytes reads n bytes; callers bound n.
func (s *scanner) bytes(n int) ([]byte, error) {
	if err := s.need(uint64(n)); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(s.br, buf); err != nil {
		return nil, s.readErr(err)
	}
	s.off += int64(n)
	return buf, nil
}

func (s *scanner) skip(n uint64) error {
	if err := s.need(n); err != nil {
		return err
	}
	// need bounds n by the limit, so it fits an int.
	d, err := s.br.Discard(int(n))
	s.off += int64(d)
	if err != nil {
		return s.readErr(err)
	}
	return nil
}

// magic reads "REDIS" and four digits, or "VALKEY" and three digits, and
// returns the RDB version.
func (s *scanner) magic() (int, error) {
	b, err := s.bytes(9)
	if err != nil {
		return 0, err
	}
	var digits []byte
	switch {
	case string(b[:5]) == "REDIS":
		digits = b[5:]
	case string(b[:6]) == "VALKEY":
		digits = b[6:]
	default:
		return 0, corruptf(0, "no RDB magic (found %q)", b)
	}
	v := 0
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, corruptf(0, "bad RDB version %q", b)
		}
		v = v*10 + int(d-'0')
	}
	if v == 0 {
		return 0, corruptf(0, "bad RDB version %q", b)
	}
	return v, nil
}

// length reads a length-encoded number. encoded is true for the special
// string encodings (0b11 prefix), whose type is then returned as the value.
func (s *scanner) length() (uint64, bool, error) {
	b, err := s.byte()
	if err != nil {
		return 0, false, err
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		b2, err := s.byte()
		if err != nil {
			return 0, false, err
		}
		return uint64(b&0x3f)<<8 | uint64(b2), false, nil
	case 2:
		switch b {
		case 0x80:
			buf, err := s.bytes(4)
			if err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(buf)), false, nil
		case 0x81:
			buf, err := s.bytes(8)
			if err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(buf), false, nil
		default:
			return 0, false, corruptf(s.off-1, "unknown length encoding 0x%02x", b)
		}
	default:
		return uint64(b & 0x3f), true, nil
	}
}

// str reads an RDB string. Strings (after LZF decompression) longer than
// keep bytes are skipped and returned with ok false.
func (s *scanner) str(keep int) (string, bool, error) {
	at := s.off
	n, enc, err := s.length()
	if err != nil {
		return "", false, err
	}
	if !enc {
		if n > uint64(keep) {
			return "", false, s.skip(n)
		}
		b, err := s.bytes(int(n))
		if err != nil {
			return "", false, err
		}
		return string(b), true, nil
	}
	switch n {
	case 0:
		b, err := s.bytes(1)
		if err != nil {
			return "", false, err
		}
		return strconv.FormatInt(int64(int8(b[0])), 10), true, nil
	case 1:
		b, err := s.bytes(2)
		if err != nil {
			return "", false, err
		}
		return strconv.FormatInt(int64(int16(binary.LittleEndian.Uint16(b))), 10), true, nil
	case 2:
		b, err := s.bytes(4)
		if err != nil {
			return "", false, err
		}
		return strconv.FormatInt(int64(int32(binary.LittleEndian.Uint32(b))), 10), true, nil
	case 3:
		clen, _, err := s.length()
		if err != nil {
			return "", false, err
		}
		ulen, _, err := s.length()
		if err != nil {
			return "", false, err
		}
		if clen > uint64(keep) || ulen > uint64(keep) {
			return "", false, s.skip(clen)
		}
		in, err := s.bytes(int(clen))
		if err != nil {
			return "", false, err
		}
		out, err := lzfDecompress(in, int(ulen))
		if err != nil {
			return "", false, corruptf(at, "LZF string: %v", err)
		}
		return string(out), true, nil
	default:
		return "", false, corruptf(at, "unknown string encoding %d", n)
	}
}

// skipModuleAux skips a MODULE_AUX record: module id, when-opcode, when,
// then typed values up to the module EOF opcode.
func (s *scanner) skipModuleAux() error {
	at := s.off
	if _, _, err := s.length(); err != nil { // module id
		return err
	}
	whenOp, _, err := s.length()
	if err != nil {
		return err
	}
	if whenOp != modUInt {
		return corruptf(at, "module aux: bad when opcode %d", whenOp)
	}
	if _, _, err := s.length(); err != nil { // when
		return err
	}
	// Every value consumes at least one byte: the loop ends at the limit.
	for {
		op, _, err := s.length()
		if err != nil {
			return err
		}
		switch op {
		case modEOF:
			return nil
		case modSInt, modUInt:
			if _, _, err := s.length(); err != nil {
				return err
			}
		case modFloat:
			if err := s.skip(4); err != nil {
				return err
			}
		case modDouble:
			if err := s.skip(8); err != nil {
				return err
			}
		case modString:
			if _, _, err := s.str(0); err != nil {
				return err
			}
		default:
			return corruptf(s.off, "module aux: unknown value opcode %d", op)
		}
	}
}

// redisCRC64 returns the CRC-64/Jones checksum Redis stores after the EOF
// opcode, computed over the first n bytes of ra.
func redisCRC64(ra io.ReaderAt, n int64) (uint64, error) {
	tab := crc64.MakeTable(0x95ac9329ac4bc9b5)
	// crc64.Update complements the value on entry and exit; Redis uses
	// neither, so carry the complemented state and undo it at the end.
	crc := ^uint64(0)
	buf := make([]byte, 32*1024)
	sr := io.NewSectionReader(ra, 0, n)
	for {
		k, err := sr.Read(buf)
		crc = crc64.Update(crc, tab, buf[:k])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return ^crc, nil
}

// verifyEOF checks the checksum that follows the EOF opcode ending at off.
func verifyEOF(ra io.ReaderAt, size, off int64, version int) error {
	if version < 5 {
		return nil
	}
	if off+8 > size {
		return corruptf(off, "truncated: checksum missing after EOF opcode")
	}
	return verifyChecksum(ra, off)
}

// verifyChecksum compares the checksum stored at off with the CRC of the
// bytes before it. A stored zero means checksums were disabled.
func verifyChecksum(ra io.ReaderAt, off int64) error {
	var b [8]byte
	if _, err := ra.ReadAt(b[:], off); err != nil {
		return fmt.Errorf("read checksum at offset %d: %w", off, err)
	}
	want := binary.LittleEndian.Uint64(b[:])
	if want == 0 {
		return nil
	}
	got, err := redisCRC64(ra, off)
	if err != nil {
		return fmt.Errorf("checksum: %w", err)
	}
	if got != want {
		return corruptf(off, "checksum mismatch: stored %016x, computed %016x", want, got)
	}
	return nil
}

// verifyTail checks the end of an RDB whose scan stopped before its EOF
// opcode: the file must end with the EOF opcode (and checksum). Files no
// larger than HeaderLimit have their checksum verified; for larger files
// the check is the EOF byte only, which catches most truncations.
func verifyTail(ra io.ReaderAt, size int64, version int) error {
	tail := int64(1)
	if version >= 5 {
		tail = 9
	}
	if size < 9+tail {
		return corruptf(size, "truncated: too short for an RDB with data")
	}
	var b [1]byte
	if _, err := ra.ReadAt(b[:], size-tail); err != nil {
		return fmt.Errorf("read end of file: %w", err)
	}
	if b[0] != opEOF {
		return corruptf(size-tail, "truncated: file does not end with the EOF opcode")
	}
	if version >= 5 && size <= HeaderLimit {
		return verifyChecksum(ra, size-8)
	}
	return nil
}
