package dnsserver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestMalformed(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, z)
	q := func(f func(m *dns.Msg)) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.", dns.TypeSOA)
		f(m)
		return m
	}
	opt := func(version uint8, name string) *dns.OPT {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		o.SetVersion(version)
		return o
	}
	cases := []struct {
		name      string
		req       *dns.Msg
		wantNone  bool
		wantRcode int
		wantOPT   bool
	}{
		{name: "response is never answered", req: q(func(m *dns.Msg) { m.Response = true }), wantNone: true},
		{name: "UPDATE not implemented", req: q(func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }), wantRcode: dns.RcodeNotImplemented},
		{name: "opcode 15 not implemented", req: q(func(m *dns.Msg) { m.Opcode = 15 }), wantRcode: dns.RcodeNotImplemented},
		{name: "STATUS not implemented", req: q(func(m *dns.Msg) { m.Opcode = dns.OpcodeStatus; m.Question = nil }), wantRcode: dns.RcodeNotImplemented},
		{name: "NOTIFY to the primary refused", req: q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), wantRcode: dns.RcodeRefused},
		{name: "no question", req: q(func(m *dns.Msg) { m.Question = nil }), wantRcode: dns.RcodeFormatError},
		{name: "two questions", req: q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }), wantRcode: dns.RcodeFormatError},
		{name: "two OPT records", req: q(func(m *dns.Msg) { m.Extra = []dns.RR{opt(0, "."), opt(0, ".")} }), wantRcode: dns.RcodeFormatError},
		{name: "OPT not owned by the root", req: q(func(m *dns.Msg) { m.Extra = []dns.RR{opt(0, "example.")} }), wantRcode: dns.RcodeFormatError},
		{name: "OPT in the answer section", req: q(func(m *dns.Msg) { m.Answer = []dns.RR{opt(0, ".")} }), wantRcode: dns.RcodeFormatError},
		{name: "EDNS version 1", req: q(func(m *dns.Msg) { m.Extra = []dns.RR{opt(1, ".")} }), wantRcode: dns.RcodeBadVers, wantOPT: true},
		{name: "TSIG as a question", req: q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeTSIG }), wantRcode: dns.RcodeFormatError},
		{name: "MAILB not implemented", req: q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeMAILB }), wantRcode: dns.RcodeNotImplemented},
		{name: "IXFR without SOA", req: q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeIXFR }), wantRcode: dns.RcodeFormatError},
		{name: "unknown EDNS option ignored", req: q(func(m *dns.Msg) {
			o := opt(0, ".")
			o.Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}}}
			m.Extra = []dns.RR{o}
		}), wantRcode: dns.RcodeSuccess, wantOPT: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Round-trip through the wire so the request is what a server would see.
			b, err := c.req.Pack()
			if err != nil {
				t.Fatal(err)
			}
			req := new(dns.Msg)
			if err := req.Unpack(b); err != nil {
				t.Fatal(err)
			}
			w := newFakeWriter(t, false, "192.0.2.1:1000")
			s.ServeDNS(w, req)
			if c.wantNone {
				if len(w.msgs) != 0 {
					t.Fatalf("answered %v, want no answer", w.msgs[0])
				}
				return
			}
			r := w.one()
			if r.Rcode != c.wantRcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.wantRcode])
			}
			if r.Id != req.Id || !r.Response || r.Opcode != req.Opcode {
				t.Errorf("answer id %d QR %v opcode %d, want id %d QR opcode %d", r.Id, r.Response, r.Opcode, req.Id, req.Opcode)
			}
			if got := r.IsEdns0() != nil; got != c.wantOPT {
				t.Errorf("answer has OPT = %v, want %v", got, c.wantOPT)
			}
			if c.wantRcode != dns.RcodeSuccess && len(r.Answer)+len(r.Ns) != 0 {
				t.Errorf("error answer carries records: %v %v", r.Answer, r.Ns)
			}
		})
	}
}

func TestNoZoneYet(t *testing.T) {
	s := newTestServer(t, Config{})
	w := newFakeWriter(t, false, "192.0.2.1:1000")
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeSOA)
	s.ServeDNS(w, m)
	if r := w.one(); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode before Publish = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if got := s.Serial(); got != 0 {
		t.Errorf("Serial before Publish = %d, want 0", got)
	}
}

// TestNetwork drives the started server over real sockets: answers on UDP and
// TCP on the same port, truncation then retry over TCP, and garbage that
// leaves the server answering.
func TestNetwork(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone+bigTXT())
	s := newTestServer(t, Config{}, z)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()

	m := new(dns.Msg)
	m.SetQuestion("big.example.", dns.TypeTXT)
	m.SetEdns0(1232, false)
	udp := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	r, _, err := udp.Exchange(m, addr)
	if err != nil {
		t.Fatalf("UDP query: %v", err)
	}
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP answer TC=%v with %d records, want TC and none", r.Truncated, len(r.Answer))
	}
	tcp := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err = tcp.Exchange(m, addr)
	if err != nil {
		t.Fatalf("TCP query: %v", err)
	}
	if r.Truncated || len(r.Answer) != 40 || !r.Authoritative {
		t.Errorf("TCP answer TC=%v AA=%v with %d records, want all 40", r.Truncated, r.Authoritative, len(r.Answer))
	}

	// Garbage: too short for a header (ignored), a header with a broken
	// question (FORMERR), then a normal query still works.
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range [][]byte{{1, 2, 3}, {0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a'}} {
		if _, err := conn.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading the answer to a broken question: %v", err)
	}
	var got dns.Msg
	if err := got.Unpack(buf[:n]); err != nil || got.Id != 0xbeef || got.Rcode != dns.RcodeFormatError {
		t.Errorf("answer to a broken question: %v (err %v), want FORMERR for id 0xbeef", &got, err)
	}
	m = new(dns.Msg)
	m.SetQuestion("example.", dns.TypeSOA)
	if r, _, err = udp.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("query after garbage: %v, %v", r, err)
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Addr: "127.0.0.1:0"}, true},
		{"negative history", Config{IXFRHistory: -1}, false},
		{"UDP size below 512", Config{MaxUDPSize: 511}, false},
		{"UDP size above 65535", Config{MaxUDPSize: 65536}, false},
		{"notify target without port", Config{Notify: []string{"192.0.2.1"}}, false},
		{"invalid prefix", Config{AllowTransfer: []netip.Prefix{{}}}, false},
		{"rate limit", Config{RateLimit: RateLimit{ResponsesPerSecond: 100, Burst: 10, Slip: -1}}, true},
		{"negative rate", Config{RateLimit: RateLimit{ResponsesPerSecond: -1}}, false},
		{"negative burst", Config{RateLimit: RateLimit{ResponsesPerSecond: 1, Burst: -1}}, false},
		{"slip below -1", Config{RateLimit: RateLimit{ResponsesPerSecond: 1, Slip: -2}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.cfg)
			if (err == nil) != c.ok {
				t.Fatalf("New error = %v, want ok %v", err, c.ok)
			}
			if s != nil {
				s.Close()
			}
		})
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.maxUDP != defaultMaxUDPSize || s.cfg.IXFRHistory != defaultIXFRHistory {
		t.Errorf("defaults: MaxUDPSize %d, IXFRHistory %d, want %d, %d", s.maxUDP, s.cfg.IXFRHistory, defaultMaxUDPSize, defaultIXFRHistory)
	}
}

func TestLifecycle(t *testing.T) {
	s := newTestServer(t, Config{Addr: "not an address"})
	if err := s.Start(); err == nil {
		t.Errorf("Start on a bad address succeeded")
	}
	s = newTestServer(t, Config{})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Errorf("second Start succeeded")
	}
	// The same port answers on UDP and TCP.
	z := newTestZone(t, "example.", exampleZone)
	if err := s.Publish(z); err != nil {
		t.Fatal(err)
	}
	for _, network := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("example.", dns.TypeSOA)
		r, _, err := (&dns.Client{Net: network, Timeout: 5 * time.Second}).Exchange(m, s.Addr())
		if err != nil || len(r.Answer) != 1 {
			t.Errorf("%s query to %s: %v, %v", network, s.Addr(), r, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Start(); err == nil {
		t.Errorf("Start after Close succeeded")
	}
}
