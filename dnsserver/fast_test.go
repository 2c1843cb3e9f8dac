package dnsserver

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var (
	testClient = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 53000}
	testLocal  = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
)

// sameAnswer compares two wire answers: header flags, RCODE and question
// exactly, the records of each section in order with names compared without
// regard to case, the OPT by its fields. It returns "" when they agree.
func sameAnswer(got, want []byte) string {
	var g, w dns.Msg
	if err := g.Unpack(got); err != nil {
		return fmt.Sprintf("fast answer does not unpack: %v", err)
	}
	if err := w.Unpack(want); err != nil {
		return fmt.Sprintf("reference answer does not unpack: %v", err)
	}
	if g.MsgHdr != w.MsgHdr {
		return fmt.Sprintf("header %+v, reference %+v", g.MsgHdr, w.MsgHdr)
	}
	if !slices.Equal(g.Question, w.Question) {
		return fmt.Sprintf("question %v, reference %v", g.Question, w.Question)
	}
	go_, wo := g.IsEdns0(), w.IsEdns0()
	if (go_ == nil) != (wo == nil) || go_ != nil && go_.String() != wo.String() {
		return fmt.Sprintf("OPT %v, reference %v", go_, wo)
	}
	for _, sec := range []struct {
		name      string
		got, want []dns.RR
	}{{"answer", g.Answer, w.Answer}, {"authority", g.Ns, w.Ns}, {"additional", g.Extra, w.Extra}} {
		gs, ws := lowerStrings(sec.got), lowerStrings(sec.want)
		if !slices.Equal(gs, ws) {
			return fmt.Sprintf("%s section:\n got %q\nwant %q", sec.name, gs, ws)
		}
	}
	return ""
}

func lowerStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.ToLower(rr.String()))
	}
	return out
}

// fastVsReference sends req to the fast path and, when it answers, checks
// that the answer means what the reference path's does. It reports whether
// the fast path answered.
func fastVsReference(t testing.TB, s *Server, req []byte) bool {
	t.Helper()
	v := s.cur.Load()
	var q fastQuery
	got, ok := v.fastAnswer(req, nil, s.maxUDP, &q)
	if !ok {
		return false
	}
	want := s.reference(req, testClient, testLocal, nil)
	if want == nil {
		t.Fatalf("fast path answered %x, the reference path nothing", req)
	}
	// The same answer a second time (from the cache, for big ones).
	if again, _ := v.fastAnswer(req, nil, s.maxUDP, &q); !bytes.Equal(again, got) {
		t.Fatalf("second answer differs from the first")
	}
	// The fast path compresses no more than miekg/dns, so that it never
	// sends whole what the reference path would truncate.
	if len(got) < len(want) {
		var m dns.Msg
		m.Unpack(req)
		t.Fatalf("query %v: fast answer of %d bytes, reference %d", m.Question, len(got), len(want))
	}
	if bytes.Equal(got, want) {
		return true
	}
	if d := sameAnswer(got, want); d != "" {
		var m dns.Msg
		m.Unpack(req)
		t.Fatalf("query %v:\n%s", m.Question, d)
	}
	return true
}

// query packs a query for name/qtype with EDNS size edns (0: none).
func query(name string, qtype uint16, edns uint16, do bool, id uint16) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = id
	m.RecursionDesired = id%3 == 0
	m.CheckingDisabled = id%5 == 0
	if edns != 0 {
		m.SetEdns0(edns, do)
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

// randomCase flips the case of the letters of name at random (as resolvers
// using 0x20 do).
func randomCase(r *rand.Rand, name string) string {
	b := []byte(name)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && r.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// owners returns the distinct owner names of z, in order.
func owners(z *testZone) []string {
	var out []string
	seen := map[string]bool{}
	for _, rr := range z.rrs {
		n := strings.ToLower(rr.Header().Name)
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// checkFastPath compares the two paths for every owner name of z (in its
// own case and in random case), a name below each delegation, and missing
// names, for each of qtypes, with DO and EDNS size 1232 and one more EDNS
// variant (none, 512, 1232 without DO, 4096) in turn. It returns how many of
// the queries with DO and size 1232 the fast path answered, and how many
// there were.
func checkFastPath(t *testing.T, s *Server, z *testZone, missing int, qtypes []uint16) (fast, total int) {
	r := rand.New(rand.NewPCG(1, 2))
	var names []string
	v := s.cur.Load()
	for i, o := range owners(z) {
		names = append(names, o)
		if k, ok := v.find(o); ok && v.nodes[k].flags&nodeCut != 0 {
			names = append(names, "www."+o)
		}
		if i%10 == 0 {
			names = append(names, randomCase(r, o))
		}
	}
	origin := strings.ToLower(z.origin)
	for i := range missing {
		label := fmt.Sprintf("m%dx%x", i, r.Uint32())
		if origin == "." {
			names = append(names, label+".")
		} else {
			names = append(names, label+"."+origin)
		}
	}
	others := []struct {
		size uint16
		do   bool
	}{{0, false}, {512, true}, {1232, false}, {4096, true}}
	id := uint16(0)
	for _, name := range names {
		for _, qt := range qtypes {
			id++
			total++
			if fastVsReference(t, s, query(name, qt, 1232, true, id)) {
				fast++
			}
			e := others[int(id)%len(others)]
			fastVsReference(t, s, query(name, qt, e.size, e.do, id))
		}
	}
	return fast, total
}

// TestFastPathRoot: for every name of the real root zone (with its NSEC
// records and the SOA and DNSKEY RRSIGs, and without any DNSSEC records),
// names below them and random missing names, the fast path answers as the
// reference path does, and it answers nearly all of them.
func TestFastPathRoot(t *testing.T) {
	for _, unsigned := range []bool{false, true} {
		t.Run(fmt.Sprintf("unsigned=%v", unsigned), func(t *testing.T) {
			z := rootZone(t, unsigned)
			s := newTestServer(t, Config{}, z)
			fast, total := checkFastPath(t, s, z, 2000, []uint16{dns.TypeA, dns.TypeDS})
			t.Logf("fast path answered %d of %d queries with DO", fast, total)
			if fast < total*9/10 {
				t.Errorf("fast path answered %d of %d queries with DO, want at least 90%%", fast, total)
			}
		})
	}
}

// TestFastPathSigned compares the two paths on a zone signed with an NSEC
// chain, with empty non-terminals, a wildcard, in-domain glue and an
// RRset too big for UDP.
func TestFastPathSigned(t *testing.T) {
	z, _ := signZone(t, newTestZone(t, "example.", exampleZone+inDomainGlue()+bigTXT()))
	s := newTestServer(t, Config{}, z)
	fast, total := checkFastPath(t, s, z, 200, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeDS, dns.TypeSOA, dns.TypeTXT, dns.TypeDNSKEY, dns.TypeNSEC, dns.TypeRRSIG, dns.TypeCNAME})
	t.Logf("fast path answered %d of %d queries with DO", fast, total)
	if fast < total/2 {
		t.Errorf("fast path answered %d of %d queries with DO, want at least half", fast, total)
	}
}

// TestFastPathUnusual: queries the fast path must leave to the reference
// path.
func TestFastPathUnusual(t *testing.T) {
	z, _ := signZone(t, newTestZone(t, "example.", exampleZone))
	s := newTestServer(t, Config{}, z)
	mod := func(f func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion("www.a.example.", dns.TypeA)
		m.SetEdns0(1232, true)
		f(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plain := mod(func(*dns.Msg) {})
	cases := []struct {
		name string
		req  []byte
	}{
		{"class ANY", mod(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassANY })},
		{"class CH", mod(func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS })},
		{"qtype ANY", mod(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeANY })},
		{"AXFR", mod(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAXFR })},
		{"IXFR", mod(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeIXFR })},
		{"NOTIFY", mod(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })},
		{"response", mod(func(m *dns.Msg) { m.Response = true })},
		{"EDNS version 1", mod(func(m *dns.Msg) { m.IsEdns0().SetVersion(1) })},
		{"client subnet option", mod(func(m *dns.Msg) {
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0)}}
		})},
		{"escaped label", mod(func(m *dns.Msg) { m.Question[0].Name = `w\.w.a.example.` })},
		{"two questions", mod(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })},
		{"an answer record", mod(func(m *dns.Msg) {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}}}
		})},
		{"wildcard", mod(func(m *dns.Msg) { m.Question[0].Name = "foo.wild.example." })},
		{"out of zone", mod(func(m *dns.Msg) { m.Question[0].Name = "example.org." })},
		{"trailing byte", append(slices.Clone(plain), 0)},
		{"compressed question", func() []byte {
			b := slices.Clone(plain[:12])
			b = append(b, 3, 'w', 'w', 'w', 0xc0, 12, 0, 1, 0, 1)
			return b
		}()},
		{"short", plain[:15]},
	}
	var q fastQuery
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, ok := s.cur.Load().fastAnswer(c.req, nil, s.maxUDP, &q); ok {
				t.Errorf("fast path answered")
			}
		})
	}
	if _, ok := s.cur.Load().fastAnswer(plain, nil, s.maxUDP, &q); !ok {
		t.Errorf("fast path did not answer the plain query the cases derive from")
	}
}

// TestFastPathPublish: templates belong to a version; a new version answers
// from its own.
func TestFastPathPublish(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{}, z)
	req := query("www.a.example.", dns.TypeA, 1232, false, 7)
	var q fastQuery
	before, ok := s.cur.Load().fastAnswer(req, nil, s.maxUDP, &q)
	if !ok {
		t.Fatal("fast path did not answer")
	}
	next := z.with(t, z.Serial()+1, "a.example. 172800 NS ns.moved.test.\n", "a.example.\t")
	if err := s.Publish(next); err != nil {
		t.Fatal(err)
	}
	after, ok := s.cur.Load().fastAnswer(req, nil, s.maxUDP, &q)
	if !ok {
		t.Fatal("fast path did not answer after Publish")
	}
	if sameAnswer(before, after) == "" {
		t.Errorf("answer unchanged after the delegation changed")
	}
	fastVsReference(t, s, req)
}

// BenchmarkFastAnswer measures the fast path on the root snapshot, the
// cases of BenchmarkServeDNS.
func BenchmarkFastAnswer(b *testing.B) {
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
			req := query(c.qname, c.qtype, 1232, c.do, 1)
			out := make([]byte, 0, 4096)
			q := new(fastQuery)
			v := s.cur.Load()
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := v.fastAnswer(req, out, s.maxUDP, q); !ok {
					b.Fatal("fast path did not answer")
				}
			}
		})
	}
}

// TestServeUDPBatch drives both UDP loops (the direct recvmmsg one, and the
// golang.org/x/net one used on unspecified addresses) over a socket on
// 127.0.0.1: each answers a burst of queries, fast and reference ones.
func TestServeUDPBatch(t *testing.T) {
	z, _ := signZone(t, newTestZone(t, "example.", exampleZone))
	s := newTestServer(t, Config{}, z)
	for name, serve := range map[string]func(*net.UDPConn){"direct": s.serveUDPDirect, "x/net": s.serveUDP} {
		t.Run(name, func(t *testing.T) {
			client, _ := runUDPLoop(t, serve)
			reqs := [][]byte{
				query("www.a.example.", dns.TypeA, 1232, true, 1),
				query("nope.example.", dns.TypeA, 1232, true, 2),
				query("example.", dns.TypeANY, 0, false, 3), // the reference path
				{1, 2, 3}, // ignored
			}
			for _, r := range reqs {
				if _, err := client.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			got := map[uint16]bool{}
			buf := make([]byte, 4096)
			for len(got) < 3 {
				client.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := client.Read(buf)
				if err != nil {
					t.Fatalf("after %d answers: %v", len(got), err)
				}
				var m dns.Msg
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatal(err)
				}
				want := s.reference(reqs[m.Id-1], testClient, testLocal, nil)
				if d := sameAnswer(buf[:n], want); d != "" {
					t.Errorf("answer %d: %s", m.Id, d)
				}
				got[m.Id] = true
			}
		})
	}
}

// runUDPLoop runs serve on a loopback UDP socket until stop (or the end of
// the test) and returns a client connected to it; stop returns once the
// loop has ended.
func runUDPLoop(t *testing.T, serve func(*net.UDPConn)) (client *net.UDPConn, stop func()) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { serve(conn); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { conn.Close(); <-done }) }
	t.Cleanup(stop)
	client, err = net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client, stop
}
