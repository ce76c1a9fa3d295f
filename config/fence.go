package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/witness"
)

// validateFence checks fence_after, fence_interval and the witness: section
// (issue 10), reads the witness's secret file once, and fills in the pair's
// default name. It returns one problem per finding.
func (in *Instance) validateFence() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if in.Witness.Pair == "" {
		in.Witness.Pair = in.Name
	}
	if err := fence.Validate(in.FenceAfter); err != nil {
		add("%v", err)
		return p
	}
	if !in.Fencing() {
		if in.HasWitness() {
			add("witness.address %s: a witness needs fence_after (at least %s): the lease lasts as long as it says", in.Witness.Address, fence.MinFenceAfter)
		}
		return p
	}
	if in.FenceInterval > 0 && in.FenceInterval >= in.FenceAfter {
		add("fence_interval (%s) must be shorter than fence_after (%s)", in.FenceInterval, in.FenceAfter)
	}
	// The longest transition with fencing: waiting for the witness lease
	// (up to peer_wait) before a promotion on unknown evidence, then its
	// writes wait fence_after + margin (the step fence-wait).
	if need := in.Timeouts.PeerWait + in.FenceAfter + fence.Margin(in.FenceAfter); in.Timeouts.Transition > 0 && in.Timeouts.Transition <= need {
		add("timeouts.transition (%s) must be longer than timeouts.peer_wait + fence_after + its margin (%s): a promotion on unknown evidence may wait that long", in.Timeouts.Transition, need)
	}
	if !in.HasWitness() {
		return p
	}
	host, port, err := net.SplitHostPort(in.Witness.Address)
	if n, perr := strconv.Atoi(port); err == nil && (perr != nil || n < 1 || n > 65535) {
		err = fmt.Errorf("port %q: want 1-65535", port)
	}
	if err == nil && host == "" {
		err = errors.New("missing host")
	}
	if err != nil {
		add("witness.address %q: want host:port: %v", in.Witness.Address, err)
		return p
	}
	lease := in.LeaseDuration()
	if lease > witness.MaxMaxLease {
		add("fence_after %s asks the witness for a lease of %s, longer than any witness grants (%s)", in.FenceAfter, lease, witness.MaxMaxLease)
	}
	if renew := fence.RenewEvery(lease); in.Witness.Timeout > 0 && 2*in.Witness.Timeout > renew {
		add("witness.timeout (%s) must be at most half the lease's renewal period (%s, from fence_after %s)", in.Witness.Timeout, renew, in.FenceAfter)
	}
	secret, err := witness.ReadSecretFile(in.Witness.SecretFile)
	if err != nil {
		add("witness.secret_file: %s", strings.TrimPrefix(err.Error(), witness.ErrConfig.Error()+": "))
		return p
	}
	in.Witness.Secret = secret
	// The witness client's own checks of the names it sends: the pair and
	// this node (its announce address).
	if in.Witness.Timeout > 0 && !in.Announce.IsZero() {
		if _, err := witness.NewClient(in.Witness.Address, in.Witness.Pair, in.Announce.String(), secret, in.Witness.Timeout); err != nil {
			add("witness: %s", strings.TrimPrefix(err.Error(), witness.ErrConfig.Error()+": "))
		}
	}
	return p
}
