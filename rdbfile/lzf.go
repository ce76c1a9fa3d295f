package rdbfile

import "errors"

// errLZF reports LZF data that does not decode to the announced length.
var errLZF = errors.New("invalid LZF data")

// lzfDecompress decodes LZF data (the format Redis uses for compressed RDB
// strings) that must expand to exactly outLen bytes.
//
// The stream is a sequence of chunks, each starting with a control byte c:
// c < 32 is a literal run of c+1 bytes; otherwise the top three bits are a
// length (7 means "add the next byte"), the low five bits and the next byte
// a distance back into the output, and length+2 bytes are copied from there.
func lzfDecompress(in []byte, outLen int) ([]byte, error) {
	out := make([]byte, 0, outLen)
	// Every pass consumes at least one input byte.
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 {
			n := ctrl + 1
			if i+n > len(in) || len(out)+n > outLen {
				return nil, errLZF
			}
			out = append(out, in[i:i+n]...)
			i += n
			continue
		}
		n := ctrl >> 5
		if n == 7 {
			if i >= len(in) {
				return nil, errLZF
			}
			n += int(in[i])
			i++
		}
		if i >= len(in) {
			return nil, errLZF
		}
		back := (ctrl&0x1f)<<8 + int(in[i]) + 1
		i++
		n += 2
		if back > len(out) || len(out)+n > outLen {
			return nil, errLZF
		}
		// Byte by byte: the source may overlap the bytes being written.
		from := len(out) - back
		for k := range n {
			out = append(out, out[from+k])
		}
	}
	if len(out) != outLen {
		return nil, errLZF
	}
	return out, nil
}
