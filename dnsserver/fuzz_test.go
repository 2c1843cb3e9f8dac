package dnsserver

import (
	"bytes"
	"net"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// fuzzServer serves a signed zone with one IXFR step and allows transfers
// from the fuzz client's address.
func fuzzServer(tb testing.TB) *Server {
	z, _ := signZone(tb, newTestZone(tb, "example.", exampleZone+inDomainGlue()))
	next := z.with(tb, z.Serial()+1, "new.example. 3600 NS ns1.example.\n")
	return newTestServer(tb, Config{AllowTransfer: allowTest}, z, next)
}

func fuzzSeeds() [][]byte {
	var seeds [][]byte
	add := func(name string, qtype uint16, f func(*dns.Msg)) {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if f != nil {
			f(m)
		}
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, b)
	}
	edns := func(do bool) func(*dns.Msg) { return func(m *dns.Msg) { m.SetEdns0(4096, do) } }
	add("example.", dns.TypeSOA, nil)
	add("www.a.example.", dns.TypeA, edns(true))
	add("c.example.", dns.TypeA, nil)
	add("nope.example.", dns.TypeA, edns(true))
	add("sub.example.", dns.TypeAAAA, edns(true))
	add("foo.wild.example.", dns.TypeTXT, edns(true))
	add("example.", dns.TypeAXFR, nil)
	add("example.", dns.TypeIXFR, func(m *dns.Msg) {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Serial: 2026010101}}
	})
	add("example.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })
	add("WwW.A.eXaMpLe.", dns.TypeDS, edns(true))
	add("a.example.", dns.TypeDS, edns(false))
	add("ns1.a.example.", dns.TypeAAAA, func(m *dns.Msg) {
		m.SetEdns0(1232, true)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"}}
	})
	add("zzz.example.", dns.TypeNSEC, edns(true))
	add("c.example.", dns.TypeNS, func(m *dns.Msg) { m.SetEdns0(512, true) })
	add("example.", dns.TypeANY, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })
	seeds = append(seeds, []byte{0, 1, 2, 3}, []byte{})
	return seeds
}

// FuzzServeDNS feeds arbitrary messages to the UDP path (fast path and
// fallback, checking that the fast path's answers mean what the reference
// path's do) and to the handler, over UDP and TCP, and checks that it never
// panics, never modifies the request, and answers a
// query with one well-formed message of the right size on UDP (several only
// for a transfer on TCP), a response with nothing.
func FuzzServeDNS(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The UDP path on the raw bytes: the fast path, where it answers,
		// means what the reference path does; the whole path never panics
		// and answers within the size the query allows.
		var q fastQuery
		if got, ok := s.cur.Load().fastAnswer(data, nil, s.maxUDP, &q); ok {
			want := s.reference(data, testClient, testLocal, nil)
			if want == nil {
				t.Fatalf("fast path answered, the reference path did not")
			}
			if d := sameAnswer(got, want); d != "" {
				t.Fatalf("fast path differs from the reference path: %s", d)
			}
			if len(got) > q.size {
				t.Fatalf("fast answer of %d bytes, limit %d", len(got), q.size)
			}
		}
		if resp := s.respond(s.cur.Load(), data, testClient, testLocal, nil, &q, 0); resp != nil {
			var m dns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("UDP answer does not unpack: %v", err)
			}
		}
		req := new(dns.Msg)
		if err := req.Unpack(data); err != nil {
			return // miekg/dns answers these itself (FORMERR) or drops them
		}
		before, err := req.Pack()
		if err != nil {
			return // not something a client could send in this form
		}
		for _, tcp := range []bool{false, true} {
			w := newFakeWriter(t, tcp, "192.0.2.7:53000")
			s.ServeDNS(w, req)
			after, _ := req.Pack()
			if !bytes.Equal(before, after) {
				t.Fatalf("ServeDNS modified the request")
			}
			if req.Response {
				if len(w.msgs) != 0 {
					t.Fatalf("answered a response")
				}
				continue
			}
			if len(w.msgs) == 0 {
				t.Fatalf("no answer to %v", req)
			}
			xfr := len(req.Question) == 1 && (req.Question[0].Qtype == dns.TypeAXFR || req.Question[0].Qtype == dns.TypeIXFR)
			if len(w.msgs) > 1 && !(tcp && xfr) {
				t.Fatalf("%d messages to a query", len(w.msgs))
			}
			limit := dns.MinMsgSize
			if o := req.IsEdns0(); o != nil && int(o.UDPSize()) > limit {
				limit = min(int(o.UDPSize()), s.maxUDP)
			}
			for i, m := range w.msgs {
				if m.Id != req.Id || !m.Response || m.Opcode != req.Opcode {
					t.Fatalf("message %d: id %d QR %v opcode %d for request id %d opcode %d", i, m.Id, m.Response, m.Opcode, req.Id, req.Opcode)
				}
				if !tcp && w.sizes[i] > limit {
					t.Fatalf("UDP message of %d bytes, limit %d", w.sizes[i], limit)
				}
				if len(req.Question) == 1 && !slices.Equal(m.Question, req.Question[:1]) {
					t.Fatalf("question %v, want %v", m.Question, req.Question)
				}
			}
		}
	})
}

// discardWriter is the cheapest ResponseWriter, for benchmarks.
type discardWriter struct{ n int }

var benchAddr = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 53000}

func (w *discardWriter) LocalAddr() net.Addr         { return benchAddr }
func (w *discardWriter) RemoteAddr() net.Addr        { return benchAddr }
func (w *discardWriter) WriteMsg(m *dns.Msg) error   { return nil }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *discardWriter) Close() error                { return nil }
func (w *discardWriter) TsigStatus() error           { return nil }
func (w *discardWriter) TsigTimersOnly(bool)         {}
func (w *discardWriter) Hijack()                     {}

// BenchmarkServeDNS measures the handler on the root snapshot, without the
// network: the figure to compare with nsd (issue 6).
func BenchmarkServeDNS(b *testing.B) {
	s := newTestServer(b, Config{}, rootZone(b, false))
	cases := []struct {
		name  string
		qname string
		qtype uint16
		do    bool
	}{
		{"referral", "www.example.com.", dns.TypeA, false},
		{"referral-DO", "www.example.com.", dns.TypeA, true},
		{"NXDOMAIN", "no-such-tld.", dns.TypeA, false},
		{"NXDOMAIN-DO", "no-such-tld.", dns.TypeA, true},
		{"apex-SOA", ".", dns.TypeSOA, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m := new(dns.Msg)
			m.SetQuestion(c.qname, c.qtype)
			m.SetEdns0(1232, c.do)
			w := &discardWriter{}
			b.ReportAllocs()
			for b.Loop() {
				s.ServeDNS(w, m)
			}
			if w.n == 0 {
				b.Fatal("nothing written")
			}
		})
	}
}

// BenchmarkPublish measures indexing the root snapshot and diffing it
// against the previous version.
func BenchmarkPublish(b *testing.B) {
	z := rootZone(b, false)
	s := newTestServer(b, Config{}, z)
	serial := z.Serial()
	b.ReportAllocs()
	for b.Loop() {
		serial++
		rrs := slices.Clone(z.rrs)
		soa := dns.Copy(rrs[0]).(*dns.SOA)
		soa.Serial = serial
		rrs[0] = soa
		if err := s.Publish(&testZone{origin: ".", rrs: rrs}); err != nil {
			b.Fatal(err)
		}
	}
}
