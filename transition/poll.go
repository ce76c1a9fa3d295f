package transition

import (
	"context"
	"time"
)

// pollUntil calls cond every poll until it says done, returns an error, or
// ctx ends.
func pollUntil(ctx context.Context, poll time.Duration, cond func() (bool, error)) error {
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
		case <-time.After(poll):
		}
	}
}
