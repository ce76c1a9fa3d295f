// Package pollwait waits for a condition by asking it again at an interval,
// bounded by a context: the one polling loop transitions and backups share.
package pollwait

import (
	"context"
	"time"
)

// Until calls cond every interval until it says done, returns an error, or
// ctx ends (then ctx's error).
func Until(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
