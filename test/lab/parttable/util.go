package parttable

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// WaitFor polls cond every 100 ms for at most timeout (and while ctx lasts).
func WaitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAcked waits until the writer has at least n acknowledged writes.
func waitAcked(ctx context.Context, name string, w Writer, n int, timeout time.Duration) error {
	return WaitFor(ctx, timeout, fmt.Sprintf("writer %s to reach %d acks (at %d)", name, n, w.Acked()), func() bool { return w.Acked() >= n })
}

// waitMoreAcks waits until the writer has n more acknowledged writes than now.
func waitMoreAcks(ctx context.Context, name string, w Writer, n int, timeout time.Duration) error {
	return waitAcked(ctx, name, w, w.Acked()+n, timeout)
}

// tail is the last n lines of the file at path (the error's text when it
// cannot be read).
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Indent indents s by four spaces, for multi-line test logs.
func Indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// Keep copies the files rels (relative to src; missing ones are skipped)
// into dir, each named by its relative path with "/" made "_": what
// explains a cell, kept after the lab is gone.
func Keep(t *testing.T, src, dir string, rels []string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("keep logs: %v", err)
		return
	}
	for _, rel := range rels {
		copyFile(filepath.Join(src, rel), filepath.Join(dir, strings.ReplaceAll(rel, "/", "_")))
	}
	t.Logf("logs of this cell kept in %s", dir)
}

func copyFile(src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		return
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return
	}
	defer out.Close()
	_, _ = io.Copy(out, in)
}
