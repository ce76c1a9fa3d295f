package witness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Secret file limits.
const (
	// MinSecret is the shortest secret accepted, in bytes: a short one
	// could be guessed offline from one captured exchange.
	MinSecret = 16
	// MaxSecret is the largest secret file read.
	MaxSecret = 4096
)

// ErrConfig marks a bad argument or secret file: a configuration error.
var ErrConfig = errors.New("witness configuration")

// ReadSecretFile reads the shared secret: the whole file, trailing "\n"
// and "\r" trimmed, at least MinSecret bytes. The file must be a regular
// file no group or other user can access (mode 0600 or 0400, as systemd's
// LoadCredential= makes it); anything else is refused with one line
// wrapping ErrConfig.
func ReadSecretFile(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no secret file given", ErrConfig)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: secret file: %w", ErrConfig, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: secret file: %w", ErrConfig, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: secret file %s is not a regular file", ErrConfig, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: secret file %s has mode %04o: group and others must have no access (chmod 600 %s)", ErrConfig, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecret+1))
	if err != nil {
		return nil, fmt.Errorf("%w: secret file %s: %w", ErrConfig, path, err)
	}
	if len(b) > MaxSecret {
		return nil, fmt.Errorf("%w: secret file %s is larger than %d bytes", ErrConfig, path, MaxSecret)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < MinSecret {
		what := fmt.Sprintf("only %d bytes", len(b))
		if len(b) == 0 {
			what = "empty"
		}
		return nil, fmt.Errorf("%w: secret file %s is %s: want at least %d (e.g. head -c 32 /dev/urandom | base64 > %s)", ErrConfig, path, what, MinSecret, path)
	}
	return b, nil
}
