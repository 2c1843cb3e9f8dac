// Package dnsserver is commonroot's authoritative DNS server for one zone.
//
// It serves exactly the zone versions it is given through Publish and decides
// nothing about their content. Queries are answered by the algorithm of
// RFC 1034 §4.3.2 with the clarifications of RFC 2181 (AA only for
// authoritative data, referrals with glue at delegation points, DS answered by
// the parent), negative answers per RFC 2308, EDNS(0) per RFC 6891 and, where
// the zone holds DNSSEC records, the inclusion rules of RFC 4035 §3.1. Zone
// transfers follow RFC 5936 (AXFR, over TCP only) and RFC 1995 (IXFR, with a
// bounded history of condensed diffs and an AXFR-style fallback); every
// Publish sends NOTIFY (RFC 1996) to the configured secondaries. The server
// is built on github.com/miekg/dns and is interoperable with NSD and Knot as
// secondaries.
//
// Each version is held in a compact form: its records packed in wire format
// in one arena, indexed by a pointer-free hash table of names and lists of
// arena offsets (see index.go); the server keeps no reference to the Zone's
// records, and the IXFR history is the wire-format diffs alone.
//
// ServeDNS is the reference path; it decodes the records it needs. On UDP,
// common queries (referrals, authoritative answers, NODATA and NXDOMAIN,
// with or without DO) are answered by copying the records' wire form from
// the arena (see fast.go), read and written in batches with
// recvmmsg/sendmmsg by one goroutine per processor, each on its own
// SO_REUSEPORT socket; tests check that both paths give answers of the same
// meaning. Response rate limiting (Config.RateLimit) may bound what
// each client network receives over UDP.
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Zone is one immutable version of a zone. Records is the whole zone in
// DNSSEC canonical order, beginning with the apex SOA; the server must not
// modify it, and the Zone must return the same values on every call.
type Zone interface {
	Origin() string
	Serial() uint32
	Records() []dns.RR
}

// Config configures a Server. The zero value of every field but Addr is
// usable.
type Config struct {
	// Addr is the address to listen on, the same port for UDP and TCP;
	// "127.0.0.1:0" picks a free port (see Server.Addr).
	Addr string
	// AllowTransfer lists who may AXFR/IXFR; others get REFUSED. Empty
	// means nobody.
	AllowTransfer []netip.Prefix
	// Notify lists host:port of the secondaries to NOTIFY on every Publish.
	Notify []string
	// IXFRHistory is how many past versions' diffs to keep (default 16).
	IXFRHistory int
	// MaxUDPSize caps the UDP response size a client may ask for with
	// EDNS(0) (default 1232, at least 512).
	MaxUDPSize int
	// RateLimit limits UDP responses per client network (off by default).
	RateLimit RateLimit
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
}

const (
	defaultIXFRHistory = 16
	defaultMaxUDPSize  = 1232
	// notifyAttempts bounds the NOTIFY messages sent to one secondary for
	// one version; the wait for an answer doubles from notifyTimeout.
	notifyAttempts = 5
)

// notifyTimeout is the wait for the answer to the first NOTIFY (a variable
// only so that tests can shorten it).
var notifyTimeout = time.Second

// ErrStaleSerial is returned by Publish when the new version's serial is not
// newer (in RFC 1982 serial arithmetic) than the one being served: secondaries
// would never transfer it.
var ErrStaleSerial = errors.New("dnsserver: serial is not newer than the served one")

// Server is an authoritative server for one zone. Its methods are safe for
// concurrent use. Queries always see one whole published version.
type Server struct {
	cfg    Config
	log    *slog.Logger
	maxUDP int

	cur atomic.Pointer[version]

	stats counters

	rrl   *limiter         // nil: no rate limiting
	clock func() time.Time // nil: time.Now

	pubMu sync.Mutex // serialises Publish

	mu          sync.Mutex // guards the fields below
	udp         []*net.UDPConn
	tcp         *dns.Server
	addr        string
	closed      bool
	notifyStop  context.CancelFunc // cancels the NOTIFY round of the previous version
	notifyWG    sync.WaitGroup
	serveWG     sync.WaitGroup
	notifyCtx   context.Context
	notifyClose context.CancelFunc
}

var _ dns.Handler = (*Server)(nil)

// New checks cfg and returns a server that serves nothing until Publish and
// listens nowhere until Start.
func New(cfg Config) (*Server, error) {
	if cfg.IXFRHistory < 0 {
		return nil, fmt.Errorf("dnsserver: IXFRHistory %d is negative", cfg.IXFRHistory)
	}
	if cfg.IXFRHistory == 0 {
		cfg.IXFRHistory = defaultIXFRHistory
	}
	switch {
	case cfg.MaxUDPSize == 0:
		cfg.MaxUDPSize = defaultMaxUDPSize
	case cfg.MaxUDPSize < dns.MinMsgSize || cfg.MaxUDPSize > dns.MaxMsgSize:
		return nil, fmt.Errorf("dnsserver: MaxUDPSize %d is outside [%d, %d]", cfg.MaxUDPSize, dns.MinMsgSize, dns.MaxMsgSize)
	}
	for _, p := range cfg.AllowTransfer {
		if !p.IsValid() {
			return nil, fmt.Errorf("dnsserver: AllowTransfer prefix %q is not valid", p)
		}
	}
	for _, n := range cfg.Notify {
		if _, _, err := net.SplitHostPort(n); err != nil {
			return nil, fmt.Errorf("dnsserver: Notify target %q is not host:port: %v", n, err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rrl, err := newLimiter(cfg.RateLimit)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("pkg", "dnsserver"), maxUDP: cfg.MaxUDPSize, rrl: rrl}
	s.notifyCtx, s.notifyClose = context.WithCancel(context.Background())
	return s, nil
}

// Start binds UDP and TCP on the same port of cfg.Addr and serves in the
// background until Close. UDP is read by one goroutine per processor, each
// on its own SO_REUSEPORT socket, in batches; common queries are answered
// from wire-format templates and the rest by ServeDNS. TCP is served by
// miekg/dns through ServeDNS.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dnsserver: Start after Close")
	}
	if s.tcp != nil {
		return errors.New("dnsserver: Start called twice")
	}
	udp, l, err := listenBoth(s.cfg.Addr, udpReaders())
	if err != nil {
		return err
	}
	s.addr = udp[0].LocalAddr().String()
	s.udp = udp
	s.tcp = &dns.Server{Listener: l, Handler: tcpHandler{s}, MsgAcceptFunc: acceptFunc,
		DecorateReader: func(r dns.Reader) dns.Reader { return strictReader{r} }}
	started := make(chan struct{})
	s.tcp.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		errc <- s.tcp.ActivateAndServe()
	}()
	select {
	case <-started:
	case err := <-errc:
		for _, c := range udp {
			c.Close()
		}
		l.Close()
		s.serveWG.Wait()
		return fmt.Errorf("dnsserver: serving on %q: %v", s.addr, err)
	}
	for _, c := range udp {
		s.serveWG.Add(1)
		go func() {
			defer s.serveWG.Done()
			if c.LocalAddr().(*net.UDPAddr).IP.IsUnspecified() {
				s.serveUDP(c) // answers need the address each query came to
			} else {
				s.serveUDPDirect(c)
			}
		}()
	}
	s.log.Info("listening", "addr", s.addr, "udp_readers", len(udp))
	return nil
}

// listenBoth binds n UDP sockets on addr, then TCP on the port UDP got.
// With port 0 it retries when another program holds that TCP port.
func listenBoth(addr string, n int) ([]*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dnsserver: Addr %q is not host:port: %v", addr, err)
	}
	var lastErr error
	for range 20 {
		udp, err := listenUDP(addr, n)
		if err != nil {
			return nil, nil, err
		}
		_, got, _ := net.SplitHostPort(udp[0].LocalAddr().String())
		l, err := net.Listen("tcp", net.JoinHostPort(host, got))
		if err == nil {
			return udp, l, nil
		}
		for _, c := range udp {
			c.Close()
		}
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("dnsserver: listening on TCP %q: %v", addr, lastErr)
}

// acceptFunc lets every request but responses reach ServeDNS, which
// judges them itself (so the in-process and network paths agree). Messages
// that do not even unpack get FORMERR from miekg/dns.
func acceptFunc(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 { // QR: a response, never answer it
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

// Addr reports the address the server is bound to, after Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serial is the serial of the served version, 0 before the first Publish.
func (s *Server) Serial() uint32 {
	if v := s.cur.Load(); v != nil {
		return v.serial
	}
	return 0
}

// Withdraw stops serving the current version: every query for the zone is
// answered SERVFAIL (and transfers refused the same way) until the next
// Publish, which may then carry any serial. A node withdraws a signed
// version whose signatures have expired rather than serve data no
// validator accepts.
func (s *Server) Withdraw() {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if v := s.cur.Swap(nil); v != nil {
		s.log.Warn("withdrawn", "origin", v.origin, "serial", v.serial)
	}
}

// Close stops serving, cancels pending NOTIFYs and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	udp, tcp := s.udp, s.tcp
	s.notifyClose()
	s.mu.Unlock()

	var errs []error
	for _, c := range udp {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if tcp != nil {
		if err := tcp.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	s.serveWG.Wait()
	s.notifyWG.Wait()
	return errors.Join(errs...)
}

// Publish makes z the served version. The swap is atomic: a query sees either
// the previous version or z, whole. The diff from the previous version is kept
// for IXFR, and NOTIFY is sent to every configured secondary in the
// background (a NOTIFY round still running for an older version is cancelled).
// Publish returns an error, and changes nothing, when z breaks the Zone
// contract or its serial is not newer than the served one (ErrStaleSerial).
func (s *Server) Publish(z Zone) error {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	prev := s.cur.Load()
	if prev != nil && !serialNewer(z.Serial(), prev.serial) {
		return fmt.Errorf("%w: %d after %d", ErrStaleSerial, z.Serial(), prev.serial)
	}
	v, err := newVersion(z, prev, s.cfg.IXFRHistory)
	if err != nil {
		return err
	}
	s.cur.Store(v)
	s.log.Info("published", "origin", v.origin, "serial", v.serial, "records", v.nrecords)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.cfg.Notify) == 0 {
		return nil
	}
	if s.notifyStop != nil {
		s.notifyStop()
	}
	ctx, cancel := context.WithCancel(s.notifyCtx)
	s.notifyStop = cancel
	for _, target := range s.cfg.Notify {
		s.notifyWG.Add(1)
		go func() {
			defer s.notifyWG.Done()
			s.notify(ctx, target, v)
		}()
	}
	return nil
}

// serialNewer reports whether a is greater than b in RFC 1982 serial
// arithmetic (32-bit).
func serialNewer(a, b uint32) bool {
	return a != b && int32(a-b) > 0
}

// notify sends NOTIFY for v to target until it answers, the attempts run
// out or ctx is cancelled.
func (s *Server) notify(ctx context.Context, target string, v *version) {
	m := new(dns.Msg)
	m.SetNotify(v.originName)
	m.Authoritative = true
	m.Answer = []dns.RR{v.soa}
	timeout := notifyTimeout
	for attempt := 1; attempt <= notifyAttempts; attempt++ {
		c := &dns.Client{Net: "udp", Timeout: timeout}
		m.Id = dns.Id()
		r, _, err := c.ExchangeContext(ctx, m, target)
		if ctx.Err() != nil {
			return
		}
		if err == nil && r.Opcode == dns.OpcodeNotify {
			if r.Rcode != dns.RcodeSuccess {
				s.log.Warn("notify refused", "target", target, "serial", v.serial, "rcode", dns.RcodeToString[r.Rcode])
			} else {
				s.log.Debug("notify acknowledged", "target", target, "serial", v.serial)
			}
			return
		}
		if err == nil {
			err = fmt.Errorf("answer has opcode %d", r.Opcode)
		}
		s.log.Debug("notify attempt failed", "target", target, "serial", v.serial, "attempt", attempt, "err", err)
		timeout *= 2
	}
	s.log.Warn("notify unanswered", "target", target, "serial", v.serial, "attempts", notifyAttempts)
}

// allowedTransfer reports whether addr may transfer the zone.
func (s *Server) allowedTransfer(addr net.Addr) bool {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if addr == nil {
			return false
		}
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	for _, p := range s.cfg.AllowTransfer {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// lowerName lowers the ASCII letters of s (RFC 4343: names compare without
// regard to ASCII case, and only ASCII case). It does not allocate when s
// has no upper-case letter (the common case for names on the wire), and the
// result has the length of s.
func lowerName(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
