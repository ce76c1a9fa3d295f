package rdbfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// manifestMaxLine is the longest manifest line Redis accepts.
const manifestMaxLine = 1024

// aofEntry is one "file ... seq ... type ..." line of an AOF manifest.
type aofEntry struct {
	name string
	seq  int64
	typ  byte // 'b' base, 'h' history, 'i' incremental
}

// manifest is a parsed AOF manifest.
type manifest struct {
	base *aofEntry
	incr []aofEntry
}

// parseManifest parses a Redis 7 AOF manifest, following the rules of
// Redis's own loader: '#' lines are comments, every line holds key/value
// pairs (at least file, seq and type; unknown keys are ignored), names are
// plain file names, one base file at most, incremental files in increasing
// sequence order. Blank lines are tolerated.
func parseManifest(data []byte) (manifest, error) {
	var m manifest
	var lastIncr int64
	lines := strings.Split(string(data), "\n")
	for i, raw := range lines {
		lineNo := i + 1
		if len(raw) > manifestMaxLine {
			return m, fmt.Errorf("%w: manifest line %d longer than %d bytes", ErrCorrupt, lineNo, manifestMaxLine)
		}
		if strings.HasPrefix(raw, "#") {
			continue
		}
		line := strings.Trim(raw, " \t\r")
		if line == "" {
			continue
		}
		args, err := splitArgs(line)
		if err != nil {
			return m, fmt.Errorf("%w: manifest line %d: %v", ErrCorrupt, lineNo, err)
		}
		if len(args) < 6 || len(args)%2 != 0 {
			return m, fmt.Errorf("%w: manifest line %d: want key/value pairs file, seq, type", ErrCorrupt, lineNo)
		}
		var e aofEntry
		for k := 0; k < len(args); k += 2 {
			v := args[k+1]
			switch strings.ToLower(args[k]) {
			case "file":
				e.name = v
			case "seq":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n <= 0 {
					return m, fmt.Errorf("%w: manifest line %d: bad seq %q", ErrCorrupt, lineNo, v)
				}
				e.seq = n
			case "type":
				if v != "" {
					e.typ = v[0]
				}
			}
		}
		if e.name == "" || e.seq == 0 || e.typ == 0 {
			return m, fmt.Errorf("%w: manifest line %d: missing file, seq or type", ErrCorrupt, lineNo)
		}
		if strings.ContainsAny(e.name, "/\x00") || e.name == "." || e.name == ".." {
			return m, fmt.Errorf("%w: manifest line %d: %q is not a plain file name", ErrCorrupt, lineNo, e.name)
		}
		switch e.typ {
		case 'b':
			if m.base != nil {
				return m, fmt.Errorf("%w: manifest line %d: second base file", ErrCorrupt, lineNo)
			}
			m.base = &e
		case 'h':
			// History files are about to be deleted; Redis does not load them.
		case 'i':
			if e.seq <= lastIncr {
				return m, fmt.Errorf("%w: manifest line %d: incremental seq %d not increasing", ErrCorrupt, lineNo, e.seq)
			}
			lastIncr = e.seq
			m.incr = append(m.incr, e)
		default:
			return m, fmt.Errorf("%w: manifest line %d: unknown file type %q", ErrCorrupt, lineNo, e.typ)
		}
	}
	return m, nil
}

// splitArgs splits a manifest line the way Redis's sdssplitargs does:
// words separated by blanks, "double quoted" words with C escapes, and
// 'single quoted' words where only \' is an escape.
func splitArgs(line string) ([]string, error) {
	var args []string
	i := 0
	// Every pass consumes at least one byte or returns.
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return args, nil
		}
		var word strings.Builder
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, errors.New("unbalanced double quotes")
				}
				c := line[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) {
					i++
					switch e := line[i]; e {
					case 'x':
						if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
							v, _ := strconv.ParseUint(line[i+1:i+3], 16, 8)
							word.WriteByte(byte(v))
							i += 3
							continue
						}
						word.WriteByte('x')
					case 'n':
						word.WriteByte('\n')
					case 'r':
						word.WriteByte('\r')
					case 't':
						word.WriteByte('\t')
					case 'b':
						word.WriteByte('\b')
					case 'a':
						word.WriteByte('\a')
					default:
						word.WriteByte(e)
					}
					i++
					continue
				}
				word.WriteByte(c)
				i++
			}
		case '\'':
			i++
			for {
				if i >= len(line) {
					return nil, errors.New("unbalanced single quotes")
				}
				c := line[i]
				if c == '\'' {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					word.WriteByte('\'')
					i += 2
					continue
				}
				word.WriteByte(c)
				i++
			}
		default:
			for i < len(line) && !isBlank(line[i]) {
				word.WriteByte(line[i])
				i++
			}
			args = append(args, word.String())
			continue
		}
		// A closing quote must be followed by a blank or the end.
		if i < len(line) && !isBlank(line[i]) {
			return nil, errors.New("closing quote must be followed by a space")
		}
		args = append(args, word.String())
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// InspectAOFDir inspects a Redis 7 multi-part AOF: the manifest named
// manifestName in dir (the appenddirname directory), its base file and its
// incremental files. A base file with the RDB preamble is read like an RDB
// (an AOF base carries no replication info); one without is non-empty when
// its size is not zero. Non-empty incremental files make the dataset
// non-empty whatever the base holds. A missing manifest gives an error
// matching fs.ErrNotExist; a file the manifest names but that is missing
// gives one wrapping ErrCorrupt.
func InspectAOFDir(dir, manifestName string) (Summary, error) {
	mpath := filepath.Join(dir, manifestName)
	data, err := readBounded(mpath, HeaderLimit)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect aof manifest: %w", err)
	}
	m, err := parseManifest(data)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect aof manifest %s: %w", mpath, err)
	}
	sum := Summary{ReplStreamDB: -1}
	baseEmpty, baseNonEmpty := true, false
	if m.base != nil {
		bpath := filepath.Join(dir, m.base.name)
		b, err := inspectAOFFile(bpath)
		if errors.Is(err, fs.ErrNotExist) {
			return Summary{}, fmt.Errorf("inspect aof %s: %w: base file %s is missing", mpath, ErrCorrupt, m.base.name)
		}
		if err != nil {
			return Summary{}, fmt.Errorf("inspect aof %s: %w", mpath, err)
		}
		sum = b
		sum.BasePath = bpath
		baseEmpty, baseNonEmpty = b.Empty, b.NonEmpty
	}
	for _, e := range m.incr {
		st, err := os.Stat(filepath.Join(dir, e.name))
		if errors.Is(err, fs.ErrNotExist) {
			return Summary{}, fmt.Errorf("inspect aof %s: %w: incremental file %s is missing", mpath, ErrCorrupt, e.name)
		}
		if err != nil {
			return Summary{}, fmt.Errorf("inspect aof %s: %w", mpath, err)
		}
		sum.IncrFiles++
		sum.IncrSize += st.Size()
	}
	sum.Source = SourceAOFDir
	sum.Path = mpath
	sum.Size += sum.IncrSize
	sum.NonEmpty = baseNonEmpty || sum.IncrSize > 0
	sum.Empty = baseEmpty && sum.IncrSize == 0
	return sum, nil
}

// InspectAOF inspects a single AOF file: the appendonly.aof of Redis 6 and
// older, or one base file of a Redis 7 AOF. With the RDB preamble it is read
// like an RDB, and commands after the preamble make it non-empty; without,
// it is non-empty when its size is not zero. Either way it carries no
// replication info.
func InspectAOF(path string) (Summary, error) {
	s, err := inspectAOFFile(path)
	if err != nil {
		return Summary{}, fmt.Errorf("inspect aof: %w", err)
	}
	return s, nil
}

// inspectAOFFile does the work of InspectAOF.
func inspectAOFFile(path string) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Summary{}, err
	}
	size := st.Size()
	sum := Summary{Source: SourceAOFFile, Path: path, Size: size, ReplStreamDB: -1}
	if size == 0 {
		sum.Empty = true
		return sum, nil
	}
	head := make([]byte, min(size, 9))
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return Summary{}, fmt.Errorf("read %s: %w", path, err)
	}
	if hasRDBMagic(head) {
		res, err := scanRDB(f, size, true)
		if err != nil {
			return Summary{}, fmt.Errorf("%s: %w", path, err)
		}
		r := res.sum
		r.Source, r.Path, r.Size = SourceAOFFile, path, size
		if r.Stop == StopEOF && res.end < size {
			// Commands follow the preamble.
			r.Empty, r.NonEmpty = false, true
		}
		return r, nil
	}
	// Redis accepts only commands ('*') and annotations ('#') in an AOF.
	if head[0] != '*' && head[0] != '#' {
		return Summary{}, fmt.Errorf("%s: %w: neither RDB preamble nor AOF commands (starts with %q)", path, ErrCorrupt, head)
	}
	sum.NonEmpty = true
	return sum, nil
}

// hasRDBMagic reports whether head starts like an RDB file.
func hasRDBMagic(head []byte) bool {
	return strings.HasPrefix(string(head), "REDIS") || strings.HasPrefix(string(head), "VALKEY")
}

// readBounded reads a whole file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", path, ErrCorrupt, limit)
	}
	return data, nil
}

// InspectDataDir inspects the file redis-server would load at start, given
// its dir, dbfilename, appendonly, appenddirname and appendfilename
// settings; Summary.Source and Summary.Path say which file was used.
//
// With appendonly off it is the RDB dir/dbfilename. With appendonly on it
// is the manifest dir/appenddirname/appendfilename.manifest (Redis 7), or
// else a single dir/appendfilename (Redis 6 and older, which Redis 7
// upgrades on start). With appendonly on and neither present, Redis 7
// starts empty and does not load the RDB (checked with redis-server
// 7.0.15), so the error matches fs.ErrNotExist even when the RDB exists.
func InspectDataDir(dir, dbfilename string, aofEnabled bool, appendDirName, appendFilename string) (Summary, error) {
	if !aofEnabled {
		return Inspect(filepath.Join(dir, dbfilename))
	}
	adir := filepath.Join(dir, appendDirName)
	mname := appendFilename + ".manifest"
	_, err := os.Stat(filepath.Join(adir, mname))
	switch {
	case err == nil:
		return InspectAOFDir(adir, mname)
	case !errors.Is(err, fs.ErrNotExist):
		return Summary{}, fmt.Errorf("inspect data dir: %w", err)
	}
	legacy := filepath.Join(dir, appendFilename)
	_, err = os.Stat(legacy)
	switch {
	case err == nil:
		return InspectAOF(legacy)
	case !errors.Is(err, fs.ErrNotExist):
		return Summary{}, fmt.Errorf("inspect data dir: %w", err)
	}
	return Summary{}, fmt.Errorf("inspect data dir %s: appendonly is on but neither %s nor %s exists, so redis starts empty (%s is not loaded): %w",
		dir, filepath.Join(appendDirName, mname), appendFilename, dbfilename, fs.ErrNotExist)
}
