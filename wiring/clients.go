package wiring

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/node"
)

// TLSConfig builds the client TLS configuration for addr (nil when TLS is
// off); the server name defaults to addr's host.
func TLSConfig(in config.Instance, addr node.Addr) (*tls.Config, error) {
	if !in.TLS.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: in.TLS.InsecureSkipVerify, ServerName: in.TLS.ServerName}
	if c.ServerName == "" {
		c.ServerName = addr.Host
	}
	if in.TLS.CAFile != "" {
		pem, err := os.ReadFile(in.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no certificate found", in.TLS.CAFile)
		}
		c.RootCAs = pool
	}
	if in.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(in.TLS.CertFile, in.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// NodeOptions says how to reach the Redis at addr with the instance's
// credentials, TLS and timeouts.
func NodeOptions(in config.Instance, addr node.Addr) (node.Options, error) {
	tlsCfg, err := TLSConfig(in, addr)
	if err != nil {
		return node.Options{}, fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	return node.Options{Addr: addr.String(), Username: in.Username, Password: in.Password, TLS: tlsCfg,
		DialTimeout: in.Timeouts.Connect, CommandTimeout: in.Timeouts.Command}, nil
}

// Dial makes clients for the instance's local and peer Redis; they
// connect lazily, on their first command.
func Dial(in config.Instance) (local, peer *node.Client, err error) {
	lo, err := NodeOptions(in, in.Local)
	if err != nil {
		return nil, nil, err
	}
	po, err := NodeOptions(in, in.Peer)
	if err != nil {
		return nil, nil, err
	}
	return node.Dial(lo), node.Dial(po), nil
}
