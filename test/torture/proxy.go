package torture

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// proxy forwards each accepted TCP connection to the address target returns
// at accept time. It stands for a network path: the link between the hosts
// (one proxy per direction of reach) or the VIP (target = the VRRP master's
// Redis). Cut closes every connection and, until Heal, refuses new ones
// (accept and close at once) or, blackholed, holds them without forwarding
// (the dial succeeds, nothing answers, as behind a dropping firewall).
type proxy struct {
	ln     net.Listener
	target func() string

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	held      map[net.Conn]struct{}
	cut       bool
	blackhole bool
	closed    bool
	wg        sync.WaitGroup
}

func newProxy(target func() string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy listen: %w", err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, held: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			c.Close()
			return
		case p.cut && p.blackhole:
			p.held[c] = struct{}{}
			p.mu.Unlock()
			continue
		case p.cut:
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		to := p.target()
		if to == "" {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.forward(c, to)
	}
}

func (p *proxy) forward(c net.Conn, to string) {
	defer p.wg.Done()
	u, err := net.DialTimeout("tcp", to, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed || p.cut {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// dropAll closes every forwarded connection (the VIP moved).
func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// setCut cuts (closing what is open) or heals the path.
func (p *proxy) setCut(cut, blackhole bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.blackhole = cut, blackhole
	if cut {
		for c := range p.conns {
			c.Close()
		}
		return
	}
	for c := range p.held {
		c.Close()
		delete(p.held, c)
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	for c := range p.held {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
