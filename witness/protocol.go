package witness

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The wire format: one TCP connection per call, three lines of printable
// ASCII, each ending in "\n" and at most MaxLine bytes:
//
//	witness -> client  RVW1 hello SNONCE
//	client -> witness  RVW1 OP PAIR NODE MS SEQ CNONCE SNONCE MAC
//	witness -> client  RVW1 STATUS HOLDER MS SEQ CNONCE SNONCE MAC
//
// SNONCE (from the witness, fresh per connection) and CNONCE (from the
// client, fresh per call) are 16 random bytes in lowercase hex. The request
// MAC is HMAC-SHA256(secret, requestDomain + the line before " MAC"), the
// response MAC HMAC-SHA256(secret, responseDomain + the line before " MAC");
// both lines carry both nonces, so a request cannot be replayed (the witness
// checks SNONCE is the one it just sent) and an answer cannot be replayed or
// reflected (the client checks CNONCE and SNONCE, and the domains differ).
const (
	protoTag       = "RVW1"
	requestDomain  = "redis-vip-witness/1 request\n"
	responseDomain = "redis-vip-witness/1 response\n"

	// MaxLine bounds every line either side reads, "\n" included.
	MaxLine = 512
	// MaxName bounds a pair or node name.
	MaxName = 128

	nonceLen = 16 // bytes; 32 hex digits on the wire
	macLen   = sha256.Size
	maxMS    = 1<<31 - 1 // the largest MS field: about 24 days
	noName   = "-"       // HOLDER when nobody holds the lease; MAC when absent
)

// Op is what a request asks.
type Op string

// The operations.
const (
	OpAcquire Op = "acquire" // grant the lease to NODE for MS, or renew it
	OpRelease Op = "release" // NODE gives back grant SEQ
	OpStatus  Op = "status"  // who holds the lease, for how long
)

// Status is the witness's answer.
type Status string

// The answers. Only StatusWrongSecret and StatusBad go without a MAC.
const (
	StatusGranted     Status = "granted"     // HOLDER (the caller) holds grant SEQ for MS from receipt
	StatusHeld        Status = "held"        // HOLDER holds grant SEQ for at most MS more
	StatusFree        Status = "free"        // nobody holds the lease
	StatusReleased    Status = "released"    // the caller no longer holds the lease
	StatusStarting    Status = "starting"    // restart grace: nothing granted for MS more
	StatusBusy        Status = "busy"        // the witness is full: retry later
	StatusWrongSecret Status = "wrongsecret" // the request's MAC did not verify
	StatusBad         Status = "bad"         // the request was not understood
)

// Request is one decoded request line.
type Request struct {
	Op     Op
	Pair   string
	Node   string
	MS     uint32 // acquire: the duration asked for, in milliseconds
	Seq    uint64 // release: the grant given back
	CNonce [nonceLen]byte
	SNonce [nonceLen]byte
	MAC    [macLen]byte
}

// Response is one decoded response line.
type Response struct {
	Status Status
	Holder string // "" when nobody holds the lease
	MS     uint32
	Seq    uint64
	CNonce [nonceLen]byte
	SNonce [nonceLen]byte
	MAC    [macLen]byte // zero on the unauthenticated statuses
}

// errMalformed is what the decoders return for any line they refuse.
var errMalformed = errors.New("malformed line")

// validName reports whether s may be a pair or node name: 1 to MaxName
// printable ASCII bytes other than space, and not "-".
func validName(s string) bool {
	if s == "" || len(s) > MaxName || s == noName {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// checkName says what is wrong with a pair or node name.
func checkName(what, s string) error {
	if !validName(s) {
		return fmt.Errorf("%w: %s name %q: want 1 to %d printable ASCII characters without spaces, not %q", ErrConfig, what, s, MaxName, noName)
	}
	return nil
}

// helloLine is the witness's greeting.
func helloLine(snonce [nonceLen]byte) []byte { return append(joinFields("hello", snonce), '\n') }

// decodeHello reads the greeting's nonce.
func decodeHello(line []byte) ([nonceLen]byte, error) {
	var n [nonceLen]byte
	f, ok := fields(line, 3)
	if !ok || string(f[0]) != protoTag || string(f[1]) != "hello" || !decodeHex(n[:], f[2]) {
		return n, errMalformed
	}
	return n, nil
}

// body is the part of the request line the MAC covers.
func (r *Request) body() []byte {
	return joinFields(string(r.Op), r.Pair, r.Node, uint64(r.MS), r.Seq, r.CNonce, r.SNonce)
}

// Sign sets r.MAC for secret.
func (r *Request) Sign(secret []byte) { r.MAC = mac(secret, requestDomain, r.body()) }

// Verify reports whether r.MAC is right for secret (in constant time).
func (r *Request) Verify(secret []byte) bool {
	want := mac(secret, requestDomain, r.body())
	return hmac.Equal(want[:], r.MAC[:])
}

// Encode returns the request line, "\n" included.
func (r *Request) Encode() []byte { return withMAC(r.body(), &r.MAC) }

// DecodeRequest parses one request line (with or without its "\n"). It
// checks the form only: the caller verifies the MAC and the nonce.
func DecodeRequest(line []byte) (Request, error) {
	var r Request
	f, ok := fields(line, 9)
	if !ok || string(f[0]) != protoTag {
		return r, errMalformed
	}
	switch op := Op(f[1]); op {
	case OpAcquire, OpRelease, OpStatus:
		r.Op = op
	default:
		return r, errMalformed
	}
	r.Pair, r.Node = string(f[2]), string(f[3])
	if !validName(r.Pair) || !validName(r.Node) || !decodeTail(f[4:8], &r.MS, &r.Seq, &r.CNonce, &r.SNonce) ||
		!decodeHex(r.MAC[:], f[8]) {
		return Request{}, errMalformed
	}
	return r, nil
}

// body is the part of the response line the MAC covers.
func (r *Response) body() []byte {
	holder := r.Holder
	if holder == "" {
		holder = noName
	}
	return joinFields(string(r.Status), holder, uint64(r.MS), r.Seq, r.CNonce, r.SNonce)
}

// authenticated reports whether a status must carry a MAC.
func (s Status) authenticated() bool { return s != StatusWrongSecret && s != StatusBad }

// Sign sets r.MAC for secret.
func (r *Response) Sign(secret []byte) { r.MAC = mac(secret, responseDomain, r.body()) }

// Verify reports whether r.MAC is right for secret (in constant time).
func (r *Response) Verify(secret []byte) bool {
	want := mac(secret, responseDomain, r.body())
	return hmac.Equal(want[:], r.MAC[:])
}

// Encode returns the response line, "\n" included; the unauthenticated
// statuses carry "-" for the MAC.
func (r *Response) Encode() []byte {
	if !r.Status.authenticated() {
		return append(append(r.body(), " "+noName...), '\n')
	}
	return withMAC(r.body(), &r.MAC)
}

// DecodeResponse parses one response line (with or without its "\n"). It
// checks the form only: the caller checks the nonces and the MAC.
func DecodeResponse(line []byte) (Response, error) {
	var r Response
	f, ok := fields(line, 8)
	if !ok || string(f[0]) != protoTag {
		return r, errMalformed
	}
	switch st := Status(f[1]); st {
	case StatusGranted, StatusHeld, StatusFree, StatusReleased, StatusStarting, StatusBusy, StatusWrongSecret, StatusBad:
		r.Status = st
	default:
		return r, errMalformed
	}
	if h := string(f[2]); h != noName {
		if !validName(h) {
			return Response{}, errMalformed
		}
		r.Holder = h
	}
	if !decodeTail(f[3:7], &r.MS, &r.Seq, &r.CNonce, &r.SNonce) {
		return Response{}, errMalformed
	}
	if r.Status.authenticated() {
		if !decodeHex(r.MAC[:], f[7]) {
			return Response{}, errMalformed
		}
	} else if string(f[7]) != noName {
		return Response{}, errMalformed
	}
	return r, nil
}

// joinFields renders a line without its MAC: the tag, then each field
// (string, number, nonce) after one space.
func joinFields(fields ...any) []byte {
	b := make([]byte, 0, MaxLine)
	b = append(b, protoTag...)
	for _, f := range fields {
		b = append(b, ' ')
		switch v := f.(type) {
		case string:
			b = append(b, v...)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		case [nonceLen]byte:
			b = hex.AppendEncode(b, v[:])
		default:
			panic(fmt.Sprintf("witness: field of type %T", f))
		}
	}
	return b
}

// withMAC ends a line with its MAC and "\n".
func withMAC(body []byte, m *[macLen]byte) []byte {
	b := append(body, ' ')
	b = hex.AppendEncode(b, m[:])
	return append(b, '\n')
}

// decodeTail parses the fields MS SEQ CNONCE SNONCE both lines carry.
func decodeTail(f [][]byte, ms *uint32, seq *uint64, cn, sn *[nonceLen]byte) bool {
	m, ok1 := parseNum(f[0], maxMS)
	q, ok2 := parseNum(f[1], 1<<64-1)
	if !ok1 || !ok2 || !decodeHex(cn[:], f[2]) || !decodeHex(sn[:], f[3]) {
		return false
	}
	*ms, *seq = uint32(m), q
	return true
}

func mac(secret []byte, domain string, body []byte) [macLen]byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(domain))
	h.Write(body)
	var out [macLen]byte
	h.Sum(out[:0])
	return out
}

// fields splits a line (one trailing "\n" allowed) at single spaces into
// exactly n non-empty fields; any other byte outside 0x21-0x7e refuses it.
func fields(line []byte, n int) ([][]byte, bool) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if len(line) == 0 || len(line) >= MaxLine {
		return nil, false
	}
	for _, c := range line {
		if c != ' ' && (c < 0x21 || c > 0x7e) {
			return nil, false
		}
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != n {
		return nil, false
	}
	for _, x := range f {
		if len(x) == 0 {
			return nil, false
		}
	}
	return f, true
}

// parseNum parses a canonical decimal (no sign, no leading zero) up to max.
func parseNum(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || v > max {
		return 0, false
	}
	return v, true
}

// decodeHex fills dst from exactly 2*len(dst) lowercase hex digits.
func decodeHex(dst, src []byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for _, c := range src {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	_, err := hex.Decode(dst, src)
	return err == nil
}

// millis converts a duration to the wire's milliseconds, rounding down and
// clamping to the field's range.
func millis(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if ms > maxMS {
		return maxMS
	}
	return uint32(ms)
}
