package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// witnessCommand is the lease service of the partition-safety work (issue
// 10); being built, hidden until then.
func witnessCommand() *cli.Command {
	return &cli.Command{
		Name:   "witness",
		Hidden: true,
		Usage:  "the lease service on a third host (not built yet)",
		Action: func(*cli.Context) error {
			return fmt.Errorf("%w: witness is not built yet", errBadInput)
		},
	}
}
