package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/redis-vip/redis-vip/check"
	"github.com/redis-vip/redis-vip/maintenance"
	"github.com/redis-vip/redis-vip/node"
	"github.com/redis-vip/redis-vip/report"
	"github.com/redis-vip/redis-vip/transition"
)

// Defaults of Options.
const (
	DefaultMaxAge     = 500 * time.Millisecond
	DefaultRetry      = 5 * time.Second
	readHeaderTimeout = 2 * time.Second
	shutdownTimeout   = 2 * time.Second
)

// Options are what New needs.
type Options struct {
	// Source reads the pair.
	Source Source
	// Timeout bounds one reading (the instance's timeouts.check).
	Timeout time.Duration
	// MaxAge is how long a reading is reused (default 500ms); requests
	// that arrive while one is taken wait for it.
	MaxAge time.Duration
	// Retry is the pause between attempts to listen (default 5s).
	Retry time.Duration
	// Host names this host in /metrics (report_timestamp and friends).
	Host string
	// Log receives listen errors and the like; nil discards.
	Log *zap.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Server serves one instance's endpoints.
type Server struct {
	o Options

	mu       sync.Mutex
	last     Snapshot
	lastAt   time.Time
	inflight chan struct{} // closed when the reading in progress ends
}

// New returns a Server; Handler serves it, Serve listens.
func New(o Options) (*Server, error) {
	if o.Source == nil || o.Timeout <= 0 {
		return nil, errors.New("httpapi: Source and a positive Timeout are required")
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{o: o}, nil
}

// snapshot returns a reading no older than MaxAge: the last one, the one
// in progress, or a new one. The reading runs detached from the request
// (bounded by Timeout), so a client that hangs up does not cut it short
// for the others; a request gives up when its own ctx ends.
func (s *Server) snapshot(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	if !s.lastAt.IsZero() && s.o.Now().Sub(s.lastAt) < s.o.MaxAge {
		snap := s.last
		s.mu.Unlock()
		return snap, nil
	}
	wait := s.inflight
	if wait == nil {
		wait = make(chan struct{})
		s.inflight = wait
		go s.read(wait)
	}
	s.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, nil
}

func (s *Server) read(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	snap := s.o.Source.Snapshot(ctx)
	cancel()
	s.mu.Lock()
	s.last, s.lastAt, s.inflight = snap, s.o.Now(), nil
	s.mu.Unlock()
	close(done)
}

// Handler serves the four endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /primary", s.primary)
	mux.HandleFunc("GET /replica", s.replica)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// request bounds a handler's wait for a reading.
func (s *Server) request(w http.ResponseWriter, r *http.Request) (Snapshot, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout+time.Second)
	defer cancel()
	snap, err := s.snapshot(ctx)
	if err != nil {
		http.Error(w, "no reading of the pair in time: "+err.Error(), http.StatusServiceUnavailable)
		return snap, false
	}
	if snap.Report.State.Maintenance.On {
		w.Header().Set("X-Redis-Vip-Maintenance", "on")
	}
	return snap, true
}

// verdict is the body of /primary and /replica.
type verdict struct {
	Instance    string `json:"instance"`
	Role        string `json:"role,omitempty"`
	OK          bool   `json:"ok"`
	Reason      string `json:"reason"`
	Maintenance bool   `json:"maintenance,omitempty"`
}

func (s *Server) primary(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.request(w, r)
	if !ok {
		return
	}
	yes, why := Primary(snap)
	writeJSON(w, code(yes), verdict{Instance: snap.Instance, Role: role(snap), OK: yes, Reason: why, Maintenance: snap.Report.State.Maintenance.On})
}

func (s *Server) replica(w http.ResponseWriter, r *http.Request) {
	var maxLag int64
	bounded := false
	if v := r.URL.Query().Get("max_lag_bytes"); v != "" {
		n, err := report.ParseBytes(v)
		if err != nil {
			http.Error(w, "max_lag_bytes: "+err.Error(), http.StatusBadRequest)
			return
		}
		maxLag, bounded = n, true
	}
	snap, ok := s.request(w, r)
	if !ok {
		return
	}
	yes, why := Replica(snap, maxLag, bounded)
	writeJSON(w, code(yes), verdict{Instance: snap.Instance, Role: role(snap), OK: yes, Reason: why, Maintenance: snap.Report.State.Maintenance.On})
}

// healthDoc is the body of /health.
type healthDoc struct {
	Instance       string             `json:"instance"`
	Time           time.Time          `json:"time"`
	Mode           string             `json:"mode"`
	Warnings       []string           `json:"warnings"`
	Maintenance    maintenance.State  `json:"maintenance"`
	Primary        verdict            `json:"primary"`
	Replica        verdict            `json:"replica"`
	Status         string             `json:"status"`
	Reasons        []reason           `json:"reasons"`
	Check          check.Result       `json:"check"`
	VRRP           *VRRP              `json:"vrrp"`
	LastEvent      transition.Event   `json:"last_event,omitempty"`
	Local          side               `json:"local"`
	Peer           side               `json:"peer"`
	Replication    report.Replication `json:"replication"`
	LastTransition *transition.Record `json:"last_transition"`
}

type side struct {
	Addr  string      `json:"addr"`
	Facts *node.Facts `json:"facts"`
	Error string      `json:"error,omitempty"`
}

type reason struct {
	Status  string `json:"status"`
	Code    string `json:"code"`
	Node    string `json:"node,omitempty"`
	Message string `json:"message"`
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.request(w, r)
	if !ok {
		return
	}
	in := snap.Report
	doc := healthDoc{Instance: snap.Instance, Time: snap.At.UTC(), Mode: "keepalived", Warnings: []string{},
		Maintenance: in.State.Maintenance, Status: in.Status.String(), Reasons: []reason{}, Check: snap.Check, VRRP: snap.VRRP,
		LastEvent: in.State.LastEvent, Replication: in.Replication,
		Local: side{Addr: in.Local.Addr.String(), Facts: in.Local.Facts, Error: in.Local.Err},
		Peer:  side{Addr: in.Peer.Addr.String(), Facts: in.Peer.Facts, Error: in.Peer.Err}}
	if snap.VRRP != nil {
		doc.Mode = "run"
	}
	if m := in.State.Maintenance; m.On {
		doc.Warnings = append(doc.Warnings, "MAINTENANCE MODE is "+m.String()+": automation is paused on this host; end it with `redis-vip maintenance off`")
	}
	if in.Err != "" {
		doc.Warnings = append(doc.Warnings, "instance unreadable: "+in.Err)
	}
	yes, why := Primary(snap)
	doc.Primary = verdict{Instance: snap.Instance, OK: yes, Reason: why}
	yes, why = Replica(snap, 0, false)
	doc.Replica = verdict{Instance: snap.Instance, OK: yes, Reason: why}
	for _, rs := range in.Reasons {
		doc.Reasons = append(doc.Reasons, reason{Status: rs.Status.String(), Code: rs.Code, Node: rs.Node, Message: rs.Message})
	}
	if n := len(in.Journal.Records); n > 0 {
		doc.LastTransition = &in.Journal.Records[n-1]
	}
	writeJSON(w, code(in.Local.Facts != nil), doc)
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	snap, ok := s.request(w, r)
	if !ok {
		return
	}
	var b strings.Builder
	rep := report.Report{GeneratedAt: snap.At.UTC(), Host: s.o.Host, Thresholds: report.DefaultThresholds(), Instances: []report.Instance{snap.Report}}
	if err := report.RenderPrometheus(&b, rep); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if v := snap.VRRP; v != nil {
		pair := `pair="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(snap.Instance) + `"`
		b.WriteString("# HELP redis_vip_vrrp_state State of the built-in VRRP router (run): 1 for the current state, 0 for the others.\n# TYPE redis_vip_vrrp_state gauge\n")
		for _, st := range []string{"INIT", "BACKUP", "MASTER", "FAULT"} {
			fmt.Fprintf(&b, "redis_vip_vrrp_state{%s,state=%q} %d\n", pair, strings.ToLower(st), b2i(v.State == st))
		}
		b.WriteString("# HELP redis_vip_vrrp_holds_vip 1 while the built-in VRRP router holds the VIPs on its interface.\n# TYPE redis_vip_vrrp_holds_vip gauge\n")
		fmt.Fprintf(&b, "redis_vip_vrrp_holds_vip{%s} %d\n", pair, b2i(v.HoldsVIP))
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func code(ok bool) int {
	if ok {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

func role(s Snapshot) string {
	if f := s.Report.Local.Facts; f != nil {
		return string(f.Role)
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Serve listens on addr and serves until ctx ends. When it cannot listen
// (the address is in use, say, by a process that is still exiting) it logs
// the error and tries again every Retry, so the VRRP daemon or the notify
// FIFO reader beside it keep running; it returns when ctx ends.
func (s *Server) Serve(ctx context.Context, addr string) {
	log := s.o.Log.With(zap.String("listen", addr))
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readHeaderTimeout,
		WriteTimeout:      s.o.Timeout + 5*time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          zap.NewStdLog(log.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	failing := false
	for ctx.Err() == nil {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			if !failing {
				log.Error("health endpoints: cannot listen; retrying", zap.Duration("every", s.o.Retry), zap.Error(err))
				failing = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(s.o.Retry):
			}
			continue
		}
		log.Info("health endpoints listening: /primary /replica /health /metrics", zap.Stringer("addr", ln.Addr()))
		failing = false
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
		err = hs.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("health endpoints stopped serving", zap.Error(err))
		}
		<-done
		return
	}
}

// CheckListen checks a health_listen value: host:port with a port of
// 1-65535; the host may be empty (every address) or a name or IP.
func CheckListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("health_listen %q: %w (want host:port, e.g. 192.0.2.11:8008 or :8008)", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("health_listen %q: port %q: want 1-65535", addr, port)
	}
	return nil
}
