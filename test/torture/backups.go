package torture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// backupFile is one file of a backup dir, loaded into a scratch
// redis-server: loading is the real test that a backup reads back (S6).
type backupFile struct {
	Path    string
	ModTime time.Time
	Size    int64
	Keys    int64
	Err     string
	has     map[string]bool
	// Pruned: retention deleted it; this is the suite's held link to it.
	Pruned bool
}

// listBackups loads every entry of dir but those named in skip, asking
// each for the keys in ask.
func listBackups(dir, scratch string, ask []string, skip map[string]bool) []backupFile {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []backupFile
	for i, e := range ents {
		if skip[e.Name()] {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		b := backupFile{Path: p, ModTime: st.ModTime(), Size: st.Size()}
		b.Keys, b.has, err = loadBackup(p, st.IsDir(), filepath.Join(scratch, strconv.Itoa(i)), ask)
		if err != nil {
			b.Err = err.Error()
		}
		out = append(out, b)
	}
	return out
}

// loadBackup starts redis-server on a copy of the backup and reads its key
// count and which of ask it holds. A directory is loaded as an AOF dir.
func loadBackup(path string, isDir bool, dir string, ask []string) (int64, map[string]bool, error) {
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, nil, err
	}
	args := []string{"--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}
	if isDir {
		if err := copyTree(filepath.Dir(path), dir, func(n string) bool { return n == filepath.Base(path) }); err != nil {
			return 0, nil, err
		}
		args = append(args, "--appendonly", "yes", "--appenddirname", filepath.Base(path))
	} else {
		if out, err := exec.Command("cp", path, filepath.Join(dir, "dump.rdb")).CombinedOutput(); err != nil {
			return 0, nil, fmt.Errorf("cp: %v: %s", err, out)
		}
		args = append(args, "--appendonly", "no", "--dbfilename", "dump.rdb")
	}
	ports, err := freePorts(1)
	if err != nil {
		return 0, nil, err
	}
	s := &redisServer{name: "scratch", port: ports[0], dir: dir}
	cmd := exec.Command("redis-server", append([]string{"--port", strconv.Itoa(ports[0])}, args...)...)
	cmd.SysProcAttr = dieWithUs()
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("scratch redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			return 0, nil, fmt.Errorf("does not load: %s", s.logTail(3))
		default:
		}
		v, err := s.do(500*time.Millisecond, "INFO", "persistence")
		if err == nil && infoInt(v, "loading") == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("still loading after 15s: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	n, err := s.do(2*time.Second, "DBSIZE")
	if err != nil {
		return 0, nil, fmt.Errorf("dbsize: %w", err)
	}
	keys, _ := n.(int64)
	has, err := present(s, ask)
	return keys, has, err
}

// present asks s which of keys exist (MGET in batches).
func present(s *redisServer, keys []string) (map[string]bool, error) {
	has := map[string]bool{}
	c, err := s.dial(2 * time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		v, err := c.Do(append([]string{"MGET"}, batch...)...)
		if err != nil {
			return nil, fmt.Errorf("mget: %w", err)
		}
		vals, _ := v.([]any)
		for j, val := range vals {
			if val != nil && j < len(batch) {
				has[batch[j]] = true
			}
		}
	}
	return has, nil
}

func (b backupFile) String() string {
	s := fmt.Sprintf("%s (%d bytes, %s)", filepath.Base(b.Path), b.Size, b.ModTime.Format("15:04:05.000"))
	if b.Pruned {
		s += " [deleted by retention; the suite's link]"
	}
	if b.Err != "" {
		return s + ": " + strings.ReplaceAll(b.Err, "\n", " | ")
	}
	return s + fmt.Sprintf(": %d keys", b.Keys)
}
