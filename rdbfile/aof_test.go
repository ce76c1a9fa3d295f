package rdbfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseManifest(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		base     string
		incr     []string
		corrupt  bool
		contains string
	}{
		{
			name: "redis 7.0",
			text: "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
			base: "appendonly.aof.1.base.rdb", incr: []string{"appendonly.aof.1.incr.aof"},
		},
		{
			name: "history, comments, blank lines, crlf, any key order, unknown keys",
			text: "# comment\n\ntype h seq 1 file appendonly.aof.1.base.rdb\r\n" +
				"file appendonly.aof.2.base.aof seq 2 type b extra x\n" +
				"file appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i",
			base: "appendonly.aof.2.base.aof", incr: []string{"appendonly.aof.3.incr.aof", "appendonly.aof.4.incr.aof"},
		},
		{
			name:    "closing quote glued to a word",
			text:    "file \"my file\\x41.rdb\" seq 1 type b\nfile 'it''s' seq 2 type i\n",
			corrupt: true, contains: "closing quote",
		},
		{
			name: "quoted names ok",
			text: "file \"my file\\x41\\n.rdb\" seq 1 type b\nfile 'it\\'s' seq 2 type i\n",
			base: "my fileA\n.rdb", incr: []string{"it's"},
		},
		{name: "incr only", text: "file a.incr.aof seq 5 type i\n", incr: []string{"a.incr.aof"}},
		{name: "empty", text: ""},
		{name: "too few fields", text: "file a seq 1\n", corrupt: true},
		{name: "odd fields", text: "file a seq 1 type b x\n", corrupt: true},
		{name: "missing type", text: "file a seq 1 kind b\n", corrupt: true},
		{name: "zero seq", text: "file a seq 0 type b\n", corrupt: true},
		{name: "bad seq", text: "file a seq x type b\n", corrupt: true},
		{name: "path name", text: "file ../etc/passwd seq 1 type b\n", corrupt: true},
		{name: "dot dot", text: "file .. seq 1 type b\n", corrupt: true},
		{name: "two bases", text: "file a seq 1 type b\nfile b seq 2 type b\n", corrupt: true},
		{name: "incr not increasing", text: "file a seq 2 type i\nfile b seq 2 type i\n", corrupt: true},
		{name: "unknown type", text: "file a seq 1 type x\n", corrupt: true},
		{name: "unbalanced quote", text: "file \"a seq 1 type b\n", corrupt: true},
		{name: "long line", text: "file " + strings.Repeat("a", 1100) + " seq 1 type b\n", corrupt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseManifest([]byte(tt.text))
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.contains) {
					t.Fatalf("err = %v, want ErrCorrupt containing %q", err, tt.contains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			base := ""
			if m.base != nil {
				base = m.base.name
			}
			var incr []string
			for _, e := range m.incr {
				incr = append(incr, e.name)
			}
			if base != tt.base || !slices.Equal(incr, tt.incr) {
				t.Fatalf("base %q incr %q, want %q %q", base, incr, tt.base, tt.incr)
			}
		})
	}
}

// writeFiles creates files (name -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInspectAOFDir(t *testing.T) {
	emptyRDB := string(newRDB(10).aux("redis-ver", "7.0.15").aux("aof-base", "1").end())
	keysRDB := string(newRDB(10).aux("redis-ver", "7.0.15").aux("aof-base", "1").
		raw(opSelectDB, 0, opResizeDB, 3, 0, 0).str("k").str("v").end())
	const manifest = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
	const aofManifest = "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
	const cmds = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n"
	tests := []struct {
		name            string
		files           map[string]string
		empty, nonEmpty bool
		keys            int64
		rdbVersion      int
		incrSize        int64
		err             error
	}{
		{
			name:  "empty base, empty incr",
			files: map[string]string{"appendonly.aof.manifest": manifest, "appendonly.aof.1.base.rdb": emptyRDB, "appendonly.aof.1.incr.aof": ""},
			empty: true, rdbVersion: 10,
		},
		{
			name:     "empty base, commands in incr",
			files:    map[string]string{"appendonly.aof.manifest": manifest, "appendonly.aof.1.base.rdb": emptyRDB, "appendonly.aof.1.incr.aof": cmds},
			nonEmpty: true, rdbVersion: 10, incrSize: int64(len(cmds)),
		},
		{
			name:     "keys in base",
			files:    map[string]string{"appendonly.aof.manifest": manifest, "appendonly.aof.1.base.rdb": keysRDB, "appendonly.aof.1.incr.aof": ""},
			nonEmpty: true, rdbVersion: 10, keys: 3,
		},
		{
			name:     "base without preamble",
			files:    map[string]string{"appendonly.aof.manifest": aofManifest, "appendonly.aof.1.base.aof": cmds, "appendonly.aof.1.incr.aof": ""},
			nonEmpty: true,
		},
		{
			name:  "empty base without preamble",
			files: map[string]string{"appendonly.aof.manifest": aofManifest, "appendonly.aof.1.base.aof": "", "appendonly.aof.1.incr.aof": ""},
			empty: true,
		},
		{
			name:  "missing manifest",
			files: map[string]string{"appendonly.aof.1.base.rdb": emptyRDB},
			err:   fs.ErrNotExist,
		},
		{
			name:  "missing base",
			files: map[string]string{"appendonly.aof.manifest": manifest, "appendonly.aof.1.incr.aof": ""},
			err:   ErrCorrupt,
		},
		{
			name:  "missing incr",
			files: map[string]string{"appendonly.aof.manifest": manifest, "appendonly.aof.1.base.rdb": emptyRDB},
			err:   ErrCorrupt,
		},
		{
			name:  "corrupt base",
			files: map[string]string{"appendonly.aof.manifest": manifest, "appendonly.aof.1.base.rdb": emptyRDB[:20], "appendonly.aof.1.incr.aof": ""},
			err:   ErrCorrupt,
		},
		{
			name:  "garbage base",
			files: map[string]string{"appendonly.aof.manifest": aofManifest, "appendonly.aof.1.base.aof": "garbage", "appendonly.aof.1.incr.aof": ""},
			err:   ErrCorrupt,
		},
		{
			name:  "corrupt manifest",
			files: map[string]string{"appendonly.aof.manifest": "file x\n"},
			err:   ErrCorrupt,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			s, err := InspectAOFDir(dir, "appendonly.aof.manifest")
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Source != SourceAOFDir || s.Path != filepath.Join(dir, "appendonly.aof.manifest") || s.BasePath == "" {
				t.Errorf("source %s path %q base %q", s.Source, s.Path, s.BasePath)
			}
			if s.Empty != tt.empty || s.NonEmpty != tt.nonEmpty || s.KeysHint != tt.keys || s.RDBVersion != tt.rdbVersion {
				t.Errorf("empty %v nonempty %v keys %d version %d, want %v %v %d %d",
					s.Empty, s.NonEmpty, s.KeysHint, s.RDBVersion, tt.empty, tt.nonEmpty, tt.keys, tt.rdbVersion)
			}
			if s.IncrFiles != 1 || s.IncrSize != tt.incrSize || s.HasReplInfo {
				t.Errorf("incr %d files %d bytes, repl %v", s.IncrFiles, s.IncrSize, s.HasReplInfo)
			}
		})
	}
}

func TestInspectAOF(t *testing.T) {
	emptyRDB := string(newRDB(9).aux("aof-preamble", "1").end())
	const cmds = "*1\r\n$5\r\nMULTI\r\n"
	tests := []struct {
		name            string
		content         string
		empty, nonEmpty bool
		preamble        bool
		err             error
	}{
		{name: "empty file", content: "", empty: true},
		{name: "commands", content: cmds, nonEmpty: true},
		{name: "annotation first", content: "#TS:1700000000\r\n" + cmds, nonEmpty: true},
		{name: "empty preamble only", content: emptyRDB, empty: true, preamble: true},
		{name: "empty preamble and commands", content: emptyRDB + cmds, nonEmpty: true, preamble: true},
		{name: "garbage", content: "hello", err: ErrCorrupt},
		{name: "cut preamble", content: emptyRDB[:len(emptyRDB)-3], err: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "appendonly.aof")
			writeFiles(t, filepath.Dir(path), map[string]string{"appendonly.aof": tt.content})
			s, err := InspectAOF(path)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want %v naming the path", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Source != SourceAOFFile || s.Empty != tt.empty || s.NonEmpty != tt.nonEmpty || s.AOFPreamble != tt.preamble || s.HasReplInfo {
				t.Errorf("got %+v", s)
			}
		})
	}
	if _, err := InspectAOF(filepath.Join(t.TempDir(), "none.aof")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: err = %v", err)
	}
}

func TestInspectDataDir(t *testing.T) {
	keysRDB := string(newRDB(10).raw(opSelectDB, 0, opResizeDB, 2, 0, 0).str("k").str("v").end())
	emptyBase := string(newRDB(10).aux("aof-base", "1").end())
	const manifest = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
	tests := []struct {
		name     string
		files    map[string]string
		aof      bool
		source   Source
		path     string
		nonEmpty bool
		err      error
	}{
		{name: "rdb", files: map[string]string{"dump.rdb": keysRDB}, source: SourceRDB, path: "dump.rdb", nonEmpty: true},
		{name: "rdb missing", files: map[string]string{}, err: fs.ErrNotExist},
		{
			name: "aof off ignores aof",
			files: map[string]string{"dump.rdb": keysRDB, "appendonlydir/appendonly.aof.manifest": manifest,
				"appendonlydir/appendonly.aof.1.base.rdb": emptyBase, "appendonlydir/appendonly.aof.1.incr.aof": ""},
			source: SourceRDB, path: "dump.rdb", nonEmpty: true,
		},
		{
			name: "aof on uses manifest",
			files: map[string]string{"dump.rdb": keysRDB, "appendonlydir/appendonly.aof.manifest": manifest,
				"appendonlydir/appendonly.aof.1.base.rdb": emptyBase, "appendonlydir/appendonly.aof.1.incr.aof": ""},
			aof: true, source: SourceAOFDir, path: "appendonlydir/appendonly.aof.manifest",
		},
		{
			name:  "aof on, legacy file",
			files: map[string]string{"dump.rdb": keysRDB, "appendonly.aof": "*1\r\n$5\r\nMULTI\r\n"},
			aof:   true, source: SourceAOFFile, path: "appendonly.aof", nonEmpty: true,
		},
		{
			name:  "aof on, no aof: redis starts empty, rdb ignored",
			files: map[string]string{"dump.rdb": keysRDB},
			aof:   true, err: fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			s, err := InspectDataDir(dir, "dump.rdb", tt.aof, "appendonlydir", "appendonly.aof")
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Source != tt.source || s.Path != filepath.Join(dir, tt.path) || s.NonEmpty != tt.nonEmpty {
				t.Errorf("source %s path %q nonempty %v, want %s %q %v", s.Source, s.Path, s.NonEmpty, tt.source, tt.path, tt.nonEmpty)
			}
		})
	}
}
