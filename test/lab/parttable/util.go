package parttable

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis-vip/redis-vip/test/lab"
)

// waitAcked waits until the writer has at least n acknowledged writes.
func waitAcked(ctx context.Context, name string, w Writer, n int, timeout time.Duration) error {
	return lab.WaitFor(ctx, timeout, fmt.Sprintf("writer %s to reach %d acks (at %d)", name, n, w.Acked()), func() bool { return w.Acked() >= n })
}

// waitMoreAcks waits until the writer has n more acknowledged writes than now.
func waitMoreAcks(ctx context.Context, name string, w Writer, n int, timeout time.Duration) error {
	return waitAcked(ctx, name, w, w.Acked()+n, timeout)
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
