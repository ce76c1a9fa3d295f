package config

import (
	"fmt"

	"github.com/redis-vip/redis-vip/node"
)

// Dial makes clients for the instance's local and peer Redis.
func (in *Instance) Dial() (local, peer *node.Client, err error) {
	mk := func(addr string) (*node.Client, error) {
		tlsCfg, err := in.TLSConfig(addr)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return node.Dial(node.Options{Addr: addr, Username: in.Username, Password: in.Password, TLS: tlsCfg,
			DialTimeout: in.Timeouts.Connect, CommandTimeout: in.Timeouts.Command}), nil
	}
	if local, err = mk(in.Local); err != nil {
		return nil, nil, err
	}
	if peer, err = mk(in.Peer); err != nil {
		local.Close()
		return nil, nil, err
	}
	return local, peer, nil
}
