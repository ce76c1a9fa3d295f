package torture

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// blackhole says which directions of a path drop their bytes: up is the
// dialler's bytes towards the target, down the target's answers.
type blackhole struct{ up, down bool }

func (b blackhole) any() bool { return b.up || b.down }

// proxy forwards each accepted TCP connection to the address target returns
// at accept time. It stands for a network path: the link between the hosts
// (one proxy per direction of reach), a host's path to the witness, or the
// VIP (target = the VRRP master's Redis). A path fails in three ways, which
// give a node the two kinds of evidence about its peer (docs/partitions.md):
//
//   - refused (setRefusing): the target's host answers but nothing listens
//     on the port (its Redis, or the witness, is down). The proxy stops
//     listening on its port, which it keeps bound, so a dial gets
//     ECONNREFUSED: a positively dead peer.
//   - cut (setCut): every connection is closed, and new ones are accepted
//     and closed at once (a reset).
//   - blackholed (hole): silence, in one direction or both. Nothing is
//     refused or closed: the bytes of a blackholed direction are read and
//     dropped, and a new connection is accepted and held without being
//     forwarded (its handshake would need both directions): a dial
//     succeeds and no answer ever comes, an unknown peer. When the path
//     heals (refresh), the connections that lost bytes and the held ones
//     are closed: a byte stream with a gap cannot go on (TCP would have
//     retransmitted the bytes late; the suite does not model late delivery).
type proxy struct {
	ln     *net.TCPListener
	target func() string
	// hole says which directions towards a target are blackholed now (nil:
	// never).
	hole func(to string) blackhole

	mu       sync.Mutex
	links    map[*plink]struct{}
	held     map[net.Conn]string // held connection -> the target it was for
	cut      bool
	refusing bool
	resume   chan struct{} // closed when refusing ends
	closed   bool
	wg       sync.WaitGroup
}

// plink is one forwarded connection: the accepted one, the dialled one, and
// whether a blackhole dropped any of its bytes.
type plink struct {
	c, u    net.Conn
	to      string
	damaged atomic.Bool
}

func newProxy(target func() string, hole func(string) blackhole) (*proxy, error) {
	ln, err := listenFixed()
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, hole: hole, links: map[*plink]struct{}{}, held: map[net.Conn]string{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// listenFixed listens on a loopback port named by number: the kernel keeps
// a port bound by number while the socket stops listening (setRefusing),
// and releases one it picked itself (port 0).
func listenFixed() (*net.TCPListener, error) {
	var last error
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("proxy listen: %w", err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ln2, err := net.Listen("tcp", addr)
		if err == nil {
			return ln2.(*net.TCPListener), nil
		}
		last = err
	}
	return nil, fmt.Errorf("proxy listen: %w", last)
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *proxy) holeOf(to string) blackhole {
	if p.hole == nil {
		return blackhole{}
	}
	return p.hole(to)
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed, refusing, resume := p.closed, p.refusing, p.resume
			p.mu.Unlock()
			switch {
			case closed:
				return
			case refusing:
				<-resume
			default:
				// A refusal that just ended, or a passing error (EMFILE).
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		p.mu.Lock()
		closed, cut := p.closed, p.cut
		p.mu.Unlock()
		if closed {
			c.Close()
			return
		}
		if cut {
			c.Close()
			continue
		}
		to := p.target()
		if to == "" {
			c.Close()
			continue
		}
		if p.holeOf(to).any() {
			p.mu.Lock()
			p.held[c] = to
			p.mu.Unlock()
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
		// The target went down after this proxy accepted: the dialler
		// sees a close (a proxy cannot refuse what it accepted).
		c.Close()
		return
	}
	l := &plink{c: c, u: u, to: to}
	p.mu.Lock()
	if p.closed || p.cut {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go p.pipe(l, u, c, true, done)
	go p.pipe(l, c, u, false, done)
	<-done
	<-done
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pipe copies src to dst, dropping what a blackhole in its direction eats.
// A close is dropped too: src's end closing while its direction is
// blackholed leaves dst open (a FIN the network ate), until refresh or
// close ends the connection.
func (p *proxy) pipe(l *plink, dst, src net.Conn, up bool, done chan<- struct{}) {
	dropped := func() bool {
		h := p.holeOf(l.to)
		return (up && h.up) || (!up && h.down)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if dropped() {
				l.damaged.Store(true)
			} else if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if dropped() {
				l.damaged.Store(true)
				done <- struct{}{}
				return
			}
			break
		}
	}
	dst.Close()
	src.Close()
	done <- struct{}{}
}

// dropAll closes every forwarded connection (the VIP moved).
func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.c.Close()
		l.u.Close()
	}
}

// setCut cuts (closing what is open) or heals the path.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for l := range p.links {
			l.c.Close()
			l.u.Close()
		}
	}
	for c := range p.held {
		c.Close()
		delete(p.held, c)
	}
}

// refresh closes what a blackhole left broken on the paths that healed:
// the held connections and those that lost bytes.
func (p *proxy) refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, to := range p.held {
		if !p.holeOf(to).any() {
			c.Close()
			delete(p.held, c)
		}
	}
	for l := range p.links {
		if l.damaged.Load() && !p.holeOf(l.to).any() {
			l.c.Close()
			l.u.Close()
		}
	}
}

// setRefusing makes the port refuse connections (the target is down) or
// listen again. The socket stays bound throughout: shutdown(SHUT_RD) of a
// listening socket stops it listening, listen(2) on it resumes.
func (p *proxy) setRefusing(refuse bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.refusing == refuse {
		return nil
	}
	rc, err := p.ln.SyscallConn()
	if err != nil {
		return fmt.Errorf("proxy %s: %w", p.addr(), err)
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		if refuse {
			serr = syscall.Shutdown(int(fd), syscall.SHUT_RD)
		} else {
			serr = syscall.Listen(int(fd), 1024)
		}
	})
	if err := errors.Join(cerr, serr); err != nil {
		return fmt.Errorf("proxy %s: refuse=%v: %w", p.addr(), refuse, err)
	}
	p.refusing = refuse
	if refuse {
		p.resume = make(chan struct{})
	} else {
		close(p.resume)
	}
	return nil
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for l := range p.links {
		l.c.Close()
		l.u.Close()
	}
	for c := range p.held {
		c.Close()
	}
	if p.refusing {
		p.refusing = false
		close(p.resume)
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
