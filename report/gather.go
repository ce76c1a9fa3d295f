package report

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis-vip/redis-vip/backup"
	"github.com/redis-vip/redis-vip/fence"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/transition"
)

// Server is what the report reads from one Redis; *node.Client has it.
// Gather calls nothing else: a report never changes Redis.
type Server interface {
	FactsWithMemory(ctx context.Context) (node.Facts, error)
	ConfigGet(ctx context.Context, name string) (string, error)
}

// Prober says which Redis answers on an address, by its run_id.
type Prober interface {
	RunID(ctx context.Context, addr node.Addr) (string, error)
}

// Sources is everything Gather reads for one instance.
type Sources struct {
	Name        string
	Local, Peer Server
	// LocalAddr is where the report reaches the local Redis; LocalAnnounce
	// where the peer reaches it; PeerAddr where both reach the peer.
	LocalAddr, LocalAnnounce, PeerAddr node.Addr
	State                              transition.StateDir
	// BackupDir holds the instance's backups (named <instance>-*.rdb).
	BackupDir string
	// GuardInclude is guard.include; GuardWindow how long before a Redis
	// start guard may have written it (see GuardFile.Window).
	GuardInclude string
	GuardWindow  time.Duration
	// MaxLinkDown is max_link_down (S10), for the check verdict.
	MaxLinkDown time.Duration
	// Fence is fence_after and the witness (issue 10).
	Fence FenceSettings
	// VIPs are ip:port addresses to look for; Probe asks who answers on one.
	VIPs  []string
	Probe Prober
	// InterfaceAddrs lists this host's addresses (net.InterfaceAddrs).
	InterfaceAddrs func() ([]net.Addr, error)
	Now            func() time.Time
}

// journalTailBytes bounds how much of the journal a report reads: the
// newest transitions are at its end, and a report must stay quick.
const journalTailBytes = 1 << 20

// guardHeader starts every include file guard writes (guard.WriteInclude).
const guardHeader = "# Written by redis-vip guard"

// Gather reads the instance under ctx (both nodes and the VIP probes
// concurrently, so a dead or hung peer costs no more than ctx allows) and
// returns it evaluated against th.
func Gather(ctx context.Context, src Sources, th Thresholds) Instance {
	if src.Now == nil {
		src.Now = time.Now
	}
	start := src.Now()
	in := Instance{
		Name:  src.Name,
		Local: Node{Side: SideLocal, Addr: src.LocalAddr, Announce: src.LocalAnnounce, RDB: TriUnknown},
		Peer:  Node{Side: SidePeer, Addr: src.PeerAddr, Announce: src.PeerAddr, RDB: TriUnknown},
		VIPs:  make([]VIP, len(src.VIPs)),

		MaxLinkDown: src.MaxLinkDown,
	}
	var wg sync.WaitGroup
	wg.Add(3 + len(src.VIPs))
	go func() { defer wg.Done(); in.Fence = readFence(ctx, src.Local, src.State, src.Fence) }()
	go func() { defer wg.Done(); readNode(ctx, src.Local, &in.Local) }()
	go func() { defer wg.Done(); readNode(ctx, src.Peer, &in.Peer) }()
	for i, addr := range src.VIPs {
		in.VIPs[i].Addr = addr
		go func(v *VIP) {
			defer wg.Done()
			if src.Probe == nil {
				v.Err = "no prober"
				return
			}
			a, err := node.ParseAddr(v.Addr)
			if err != nil {
				v.Err = oneLine(fmt.Errorf("vip %s: %w", v.Addr, err))
				return
			}
			id, err := src.Probe.RunID(ctx, a)
			if err != nil {
				v.Err = oneLine(err)
				return
			}
			v.RunID = id
		}(&in.VIPs[i])
	}
	// Files are read while the servers answer.
	in.State = readState(src.State)
	in.Journal = readJournal(src.State.JournalPath())
	in.Backups = readBackups(src.BackupDir, src.State.Instance)
	in.Local.Guard = readGuard(src.GuardInclude, src.GuardWindow)
	local := localIPs(src.InterfaceAddrs)
	wg.Wait()
	for i := range in.VIPs {
		if host, _, err := net.SplitHostPort(in.VIPs[i].Addr); err == nil {
			if ip := net.ParseIP(host); ip != nil {
				in.VIPs[i].OnLocalInterface = containsIP(local, ip)
			}
		}
	}
	now := src.Now()
	in.Duration = now.Sub(start)
	Evaluate(&in, th, now)
	return in
}

// readNode reads one node's facts, then (best effort) its RDB setting.
func readNode(ctx context.Context, s Server, n *Node) {
	f, err := s.FactsWithMemory(ctx)
	if err != nil {
		n.Err = oneLine(err)
		n.Answered = node.Answered(err)
		n.Evidence = fence.Classify(err).String()
		return
	}
	n.Facts = &f
	save, err := s.ConfigGet(ctx, "save")
	if err != nil {
		n.RDBErr = oneLine(err)
		return
	}
	n.SavePolicy = strings.TrimSpace(save)
	n.RDB = TriOn
	if n.SavePolicy == "" {
		n.RDB = TriOff
	}
}

func readState(sd transition.StateDir) State {
	var st State
	var errs []string
	if t, err := sd.Newest(); err == nil {
		st.LastEvent = t.Event
	} else {
		errs = append(errs, oneLine(err))
	}
	st.Busy = sd.Busy()
	h, err := sd.ReadHoldoff()
	if err != nil {
		errs = append(errs, oneLine(err))
	}
	st.Holdoff = h
	if st.Maintenance, err = sd.Maintenance(); err != nil {
		errs = append(errs, oneLine(err))
	}
	st.Err = strings.Join(errs, "; ")
	return st
}

// readJournal reads the newest journalTailBytes of the journal (and of its
// rotated file) with transition's reader.
func readJournal(path string) Journal {
	j := Journal{Path: path}
	recs, bad, err := transition.ReadJournalTail(path, journalTailBytes)
	if err != nil {
		j.Err = oneLine(err)
	}
	j.Records, j.Unreadable = recs, bad
	return j
}

func readBackups(dir, instance string) Backups {
	b := Backups{Dir: dir}
	if dir == "" {
		return b
	}
	list, err := backup.List(dir, instance)
	if err != nil {
		b.Err = oneLine(err)
		return b
	}
	for _, e := range list {
		b.Count++
		b.Bytes += e.Size
		if e.Name.Time.After(b.Newest) {
			b.Newest = e.Name.Time
		}
	}
	return b
}

func readGuard(path string, window time.Duration) GuardFile {
	g := GuardFile{Path: path, Window: window}
	if path == "" {
		return g
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return g
	}
	if err != nil {
		g.Err = oneLine(err)
		return g
	}
	defer f.Close()
	g.Exists = true
	st, err := f.Stat()
	if err != nil {
		g.Err = oneLine(err)
		return g
	}
	g.Written = st.ModTime().UTC()
	first, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		g.Err = oneLine(err)
		return g
	}
	g.ByGuard = strings.HasPrefix(first, guardHeader)
	return g
}

func localIPs(list func() ([]net.Addr, error)) []net.IP {
	if list == nil {
		return nil
	}
	addrs, err := list()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		switch v := a.(type) {
		case *net.IPNet:
			ips = append(ips, v.IP)
		case *net.IPAddr:
			ips = append(ips, v.IP)
		}
	}
	return ips
}

func containsIP(list []net.IP, ip net.IP) bool {
	for _, l := range list {
		if l.Equal(ip) {
			return true
		}
	}
	return false
}

// oneLine folds an error message into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// ClientProber asks who answers on an address with a fresh client per
// probe, dialled with Options (credentials and TLS of the instance).
type ClientProber struct {
	Options func(addr node.Addr) (node.Options, error)
}

// RunID connects to addr and returns the run_id INFO reports.
func (p ClientProber) RunID(ctx context.Context, addr node.Addr) (string, error) {
	o, err := p.Options(addr)
	if err != nil {
		return "", err
	}
	c := node.Dial(o)
	defer c.Close()
	f, err := c.Facts(ctx)
	if err != nil {
		return "", fmt.Errorf("probe: %w", err)
	}
	return f.RunID, nil
}
