package witness

import (
	"bytes"
	"strings"
	"testing"
)

func sampleRequest() Request {
	r := Request{Op: OpAcquire, Pair: "redis/10.0.0.1:6379", Node: "[::1]:6379", MS: 3000, Seq: 42}
	for i := range r.CNonce {
		r.CNonce[i], r.SNonce[i] = byte(i), byte(0xf0+i)
	}
	r.Sign(testSecret)
	return r
}

func TestRequestRoundTrip(t *testing.T) {
	r := sampleRequest()
	line := r.Encode()
	if len(line) >= MaxLine || !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("line %q", line)
	}
	got, err := DecodeRequest(line)
	if err != nil || got != r || !got.Verify(testSecret) || got.Verify([]byte("other-secret-0123456")) {
		t.Fatalf("decoded %+v %v", got, err)
	}
	// The longest request fits a line.
	long := Request{Op: OpAcquire, Pair: strings.Repeat("p", MaxName), Node: strings.Repeat("n", MaxName), MS: maxMS, Seq: 1<<64 - 1}
	if l := long.Encode(); len(l) > MaxLine {
		t.Fatalf("longest request is %d bytes", len(l))
	} else if _, err := DecodeRequest(l); err != nil {
		t.Fatal(err)
	}
	// Every field is covered by the MAC.
	for i, b := range line[:len(line)-1-2*macLen-1] {
		if b == ' ' {
			continue
		}
		mut := bytes.Clone(line)
		mut[i] = flip(b)
		if m, err := DecodeRequest(mut); err == nil && m.Verify(testSecret) {
			t.Fatalf("byte %d changed and the MAC still verifies: %q", i, mut)
		}
	}
}

// flip changes a byte to another valid one of the same kind.
func flip(b byte) byte {
	switch {
	case b == '9':
		return '8'
	case b >= '0' && b < '9':
		return b + 1
	case b == 'f':
		return 'e'
	case b >= 'a' && b < 'f':
		return b + 1
	}
	return b ^ 1
}

func TestResponseRoundTrip(t *testing.T) {
	for _, r := range []Response{
		{Status: StatusGranted, Holder: "a", MS: 1000, Seq: 7},
		{Status: StatusFree},
		{Status: StatusStarting, MS: 9999},
		{Status: StatusWrongSecret},
		{Status: StatusBad},
	} {
		r.CNonce[3], r.SNonce[5] = 9, 11
		if r.Status.authenticated() {
			r.Sign(testSecret)
		}
		line := r.Encode()
		got, err := DecodeResponse(line)
		if err != nil || got != r {
			t.Fatalf("%q: %+v %v", line, got, err)
		}
		if r.Status.authenticated() != got.Verify(testSecret) {
			t.Fatalf("%q verifies: %v", line, got.Verify(testSecret))
		}
	}
	// A request's MAC never passes for a response: separate domains.
	req := sampleRequest()
	resp := Response{Status: StatusGranted, Holder: "x", CNonce: req.CNonce, SNonce: req.SNonce, MAC: req.MAC}
	if resp.Verify(testSecret) {
		t.Fatal("a request MAC verified as a response MAC")
	}
}

func TestDecodeRefuses(t *testing.T) {
	sample := sampleRequest()
	good := string(sample.Encode())
	fields := strings.Fields(good)
	with := func(i int, v string) string {
		f := append([]string(nil), fields...)
		f[i] = v
		return strings.Join(f, " ") + "\n"
	}
	for name, line := range map[string]string{
		"empty":             "",
		"newline":           "\n",
		"other version":     with(0, "RVW2"),
		"unknown op":        with(1, "steal"),
		"name with a tab":   with(2, "a\tb"),
		"dash name":         with(3, "-"),
		"long name":         with(2, strings.Repeat("x", MaxName+1)),
		"leading zero":      with(4, "0100"),
		"plus sign":         with(4, "+100"),
		"negative":          with(4, "-1"),
		"ms overflow":       with(4, "2147483648"),
		"seq overflow":      with(5, "18446744073709551616"),
		"short nonce":       with(6, "abcd"),
		"upper-case hex":    with(7, strings.ToUpper(fields[7])),
		"short MAC":         with(8, fields[8][:62]),
		"double space":      strings.Replace(good, " ", "  ", 1),
		"trailing space":    strings.TrimSuffix(good, "\n") + " \n",
		"CRLF":              strings.TrimSuffix(good, "\n") + "\r\n",
		"extra field":       strings.TrimSuffix(good, "\n") + " x\n",
		"missing field":     strings.Join(fields[:8], " ") + "\n",
		"two lines":         good + good,
		"non-ASCII":         with(2, "pâir"),
		"NUL":               with(2, "a\x00b"),
		"too long for line": strings.Repeat("A", MaxLine),
	} {
		if r, err := DecodeRequest([]byte(line)); err == nil {
			t.Errorf("%s: accepted %q as %+v", name, line, r)
		}
	}
	for name, line := range map[string]string{
		"unknown status":       "RVW1 maybe - 0 0 " + strings.Repeat("0", 32) + " " + strings.Repeat("0", 32) + " -\n",
		"wrongsecret with MAC": "RVW1 wrongsecret - 0 0 " + strings.Repeat("0", 32) + " " + strings.Repeat("0", 32) + " " + strings.Repeat("0", 64) + "\n",
		"granted without MAC":  "RVW1 granted a 1 1 " + strings.Repeat("0", 32) + " " + strings.Repeat("0", 32) + " -\n",
	} {
		if r, err := DecodeResponse([]byte(line)); err == nil {
			t.Errorf("%s: accepted %q as %+v", name, line, r)
		}
	}
}

// FuzzDecodeRequest: the decoder never panics, and what it accepts is
// canonical (encoding it again gives the same line), with names, numbers
// and nonces in range.
func FuzzDecodeRequest(f *testing.F) {
	sample := sampleRequest()
	f.Add(sample.Encode())
	f.Add([]byte("RVW1 status p a 0 0 " + strings.Repeat("ab", 16) + " " + strings.Repeat("cd", 16) + " " + strings.Repeat("ef", 32)))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add([]byte{0, 0xff, '\n'})
	f.Add([]byte(strings.Repeat("RVW1 ", 200)))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := DecodeRequest(line)
		if err != nil {
			return
		}
		again := r.Encode()
		if !bytes.Equal(bytes.TrimSuffix(line, []byte("\n")), bytes.TrimSuffix(again, []byte("\n"))) {
			t.Fatalf("%q decoded to %+v, which encodes as %q", line, r, again)
		}
		if !validName(r.Pair) || !validName(r.Node) || r.MS > maxMS || len(again) > MaxLine {
			t.Fatalf("accepted out of range: %+v", r)
		}
	})
}

// FuzzDecodeResponse: as FuzzDecodeRequest, for the client's decoder.
func FuzzDecodeResponse(f *testing.F) {
	r := Response{Status: StatusHeld, Holder: "b", MS: 12, Seq: 3}
	r.Sign(testSecret)
	f.Add(r.Encode())
	f.Add((&Response{Status: StatusBad}).Encode())
	f.Add([]byte("RVW1 hello " + strings.Repeat("0", 32) + "\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := DecodeResponse(line)
		if err != nil {
			return
		}
		again := r.Encode()
		if !bytes.Equal(bytes.TrimSuffix(line, []byte("\n")), bytes.TrimSuffix(again, []byte("\n"))) {
			t.Fatalf("%q decoded to %+v, which encodes as %q", line, r, again)
		}
	})
}
