package parttable

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/redis-vip/redis-vip/test/writer"
)

// VerifyIn runs `rv-writer --verify-log path --json --settle settle extra...`
// (writerBin) inside namespace ns and returns its report: a lab's VerifyLog.
// It is bounded by settle plus 40 s.
func VerifyIn(ctx context.Context, ns, writerBin, path string, settle time.Duration, extra ...string) (writer.Report, error) {
	cctx, cancel := context.WithTimeout(ctx, settle+40*time.Second)
	defer cancel()
	args := append([]string{"netns", "exec", ns, writerBin, "--verify-log", path, "--json", "--settle", settle.String()}, extra...)
	out, err := exec.CommandContext(cctx, "ip", args...).Output()
	var r writer.Report
	line := strings.TrimSpace(string(out))
	if i := strings.LastIndex(line, "\n"); i >= 0 {
		line = line[i+1:]
	}
	if jerr := json.Unmarshal([]byte(line), &r); jerr != nil {
		return r, fmt.Errorf("%v: no report in %q", err, out)
	}
	return r, nil
}
