package wiring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/config"
	"github.com/redis-vip/redis-vip/httpapi"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/sdnotify"
)

// ErrBadInput marks a problem with what the operator gave that is no
// configuration error as such: a peer host name that does not exist.
var ErrBadInput = errors.New("bad input")

// PeerResolvable fails with ErrBadInput when the peer's host name does
// not exist; a slow or failing DNS server is not bad input (the peer is
// then just unreachable).
func PeerResolvable(ctx context.Context, addr node.Addr) error {
	host := addr.Host
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err := net.DefaultResolver.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return fmt.Errorf("%w: peer %s: host %q not found (check peer in the configuration)", ErrBadInput, addr, host)
	}
	return nil
}

// RunSpec is one instance `run` drives, with its VRRP settings.
type RunSpec struct {
	Instance config.Instance
	VRRP     config.VRRP
}

// RunSpecs chooses and checks the instances to run (every instance with a
// vrrp: section when names is empty), reporting every problem of every
// instance at once: the configuration's, what this host lacks (the
// interface, the peer's name, the health address) and the collisions
// between them.
func RunSpecs(ctx context.Context, cfg *config.Config, names []string) ([]RunSpec, error) {
	if len(names) == 0 {
		var err error
		if names, err = cfg.VRRPNames(); err != nil {
			return nil, err
		}
	}
	var problems []string
	var badInput bool
	add := func(err error) {
		if errors.Is(err, ErrBadInput) {
			badInput = true
		}
		msg := strings.TrimPrefix(err.Error(), config.ErrConfig.Error()+": ")
		problems = append(problems, strings.TrimPrefix(msg, ErrBadInput.Error()+": "))
	}
	var specs []RunSpec
	var insts []config.Instance
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		inst, err := cfg.Instance(name)
		if err != nil {
			add(err)
			continue
		}
		v, err := inst.VRRP()
		if err != nil {
			add(err)
			continue
		}
		if _, err := net.InterfaceByName(v.Interface); err != nil {
			add(fmt.Errorf("instance %s: vrrp: interface %s: no such interface on this host", name, v.Interface))
		}
		if err := PeerResolvable(ctx, inst.Peer); err != nil {
			add(fmt.Errorf("instance %s: %w", name, err))
		}
		if inst.HealthListen != "" {
			if err := httpapi.CheckListen(inst.HealthListen); err != nil {
				add(fmt.Errorf("instance %s: %w", name, err))
			}
		}
		specs = append(specs, RunSpec{Instance: inst, VRRP: v})
		insts = append(insts, inst)
	}
	problems = append(problems, config.VRRPCollisions(insts)...)
	if len(problems) > 0 {
		kind := config.ErrConfig
		if badInput {
			kind = ErrBadInput
		}
		return nil, fmt.Errorf("%w: %s", kind, strings.Join(problems, "; "))
	}
	return specs, nil
}

// RunRouters opens every instance's router, runs them with their
// reconcilers, health endpoints and systemd notifications until ctx ends
// (or one of them fails, which stops the others cleanly) and closes them;
// version is logged.
func RunRouters(ctx context.Context, specs []RunSpec, version string, log *zap.Logger) error {
	var routers []*Router
	defer func() {
		for _, r := range routers {
			if err := r.Close(); err != nil {
				log.Warn("close", zap.Error(err))
			}
		}
	}()
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		r, err := OpenRouter(ctx, s.Instance, s.VRRP, log)
		if err != nil {
			return err
		}
		routers = append(routers, r)
		names = append(names, s.Instance.Name)
	}
	log.Info("redis-vip run: started", zap.String("version", version), zap.Strings("instances", names))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	insts := make([]config.Instance, 0, len(specs))
	for _, s := range specs {
		insts = append(insts, s.Instance)
	}
	// S12: the same repairs notify-fifo makes, on the same lock.
	stopReconcile := Reconcilers(ctx, insts, log)
	defer stopReconcile()
	targets := make([]HealthTarget, len(specs))
	for i, s := range specs {
		targets[i] = runTarget(s, routers[i])
	}
	stopHealth := ServeHealth(ctx, targets, log)
	defer stopHealth()
	errs := make(chan error, len(routers))
	for _, r := range routers {
		go func() {
			err := r.Run(ctx)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	watch := make([]watched, len(routers))
	for i, r := range routers {
		watch[i] = r
	}
	stopSystemd := startSystemd(ctx, sdnotify.FromEnv(os.Getenv), os.Getenv, watch, names, log)
	defer stopSystemd()
	var all []error
	for range routers {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if len(all) > 0 {
		return errors.Join(all...)
	}
	log.Info("redis-vip run: stopped")
	return nil
}

// runTarget is a run instance's health target: its VIPs and its Router's
// state.
func runTarget(s RunSpec, r *Router) HealthTarget {
	var vips []string
	for _, v := range s.VRRP.VIPs {
		if a, err := report.VIPAddr(v.Addr().String(), s.Instance.Announce.String()); err == nil {
			vips = append(vips, a)
		}
	}
	prefixes := make([]string, len(s.VRRP.VIPs))
	for i, v := range s.VRRP.VIPs {
		prefixes[i] = v.String()
	}
	return HealthTarget{Instance: s.Instance, VIPs: vips, VRRP: func() *httpapi.VRRP {
		st := r.Status()
		return &httpapi.VRRP{State: st.State.String(), Since: st.Since, Healthy: st.Healthy, HoldsVIP: st.HoldsVIP,
			VIPs: prefixes, CannotHold: st.CannotHold}
	}}
}
