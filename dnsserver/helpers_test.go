package dnsserver

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testZone is a Zone built from master-file text.
type testZone struct {
	origin string
	rrs    []dns.RR
	strs   []string // cache of rrStrings(rrs)
}

func (z *testZone) Origin() string { return z.origin }
func (z *testZone) Records() []dns.RR {
	return z.rrs
}
func (z *testZone) Serial() uint32 { return z.rrs[0].(*dns.SOA).Serial }

var _ Zone = (*testZone)(nil)

// parseRRs parses master-file text.
func parseRRs(t testing.TB, origin string, r io.Reader) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(r, origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("parsing zone %q: %v", origin, err)
	}
	return rrs
}

// newTestZone parses text and puts the records in canonical order with the
// SOA first, as the Zone contract demands.
func newTestZone(t testing.TB, origin, text string) *testZone {
	t.Helper()
	return &testZone{origin: origin, rrs: canonicalSort(parseRRs(t, origin, strings.NewReader(text)))}
}

// canonicalSort orders records by owner (canonical order), then type, then
// text, with the apex SOA first.
func canonicalSort(rrs []dns.RR) []dns.RR {
	type keyed struct {
		key []byte
		s   string
		rr  dns.RR
	}
	ks := make([]keyed, len(rrs))
	for i, rr := range rrs {
		ks[i] = keyed{canonicalKey(nil, rr.Header().Name), rr.String(), rr}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		ta, tb := a.rr.Header().Rrtype, b.rr.Header().Rrtype
		if (ta == dns.TypeSOA) != (tb == dns.TypeSOA) {
			if ta == dns.TypeSOA {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		if ta != tb {
			return int(ta) - int(tb)
		}
		return strings.Compare(a.s, b.s)
	})
	out := make([]dns.RR, len(ks))
	for i, k := range ks {
		out[i] = k.rr
	}
	return out
}

// withSerial returns a copy of z with a new SOA serial, records added and
// records whose text contains any of drop removed.
func (z *testZone) with(t testing.TB, serial uint32, add string, drop ...string) *testZone {
	t.Helper()
	var rrs []dns.RR
	soa := dns.Copy(z.rrs[0]).(*dns.SOA)
	soa.Serial = serial
	rrs = append(rrs, soa)
next:
	for _, rr := range z.rrs[1:] {
		for _, d := range drop {
			if strings.Contains(rr.String(), d) {
				continue next
			}
		}
		rrs = append(rrs, rr)
	}
	rrs = append(rrs, parseRRs(t, z.origin, strings.NewReader(add))...)
	return &testZone{origin: z.origin, rrs: canonicalSort(rrs)}
}

// signZone returns z with an NSEC chain and Ed25519 RRSIGs over every
// authoritative RRset, so that DNSSEC responses can be tested (and checked
// with the library's verifier).
func signZone(t testing.TB, z *testZone) (*testZone, *dns.DNSKEY) {
	t.Helper()
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: z.origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ED25519}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	origin := strings.ToLower(z.origin)
	rrs := append(slices.Clone(z.rrs), key)
	rrs = canonicalSort(rrs)
	// Owners in order; names below a cut are glue: not in the chain, not signed.
	var cuts []string
	type set struct {
		name string
		typ  uint16
		rrs  []dns.RR
	}
	var sets []*set
	types := map[string][]uint16{}
	var owners []string
	for _, rr := range rrs {
		h := rr.Header()
		name := strings.ToLower(h.Name)
		glue := false
		for _, c := range cuts {
			if name != c && dns.IsSubDomain(c, name) {
				glue = true
			}
		}
		if glue {
			continue
		}
		if h.Rrtype == dns.TypeNS && name != origin {
			cuts = append(cuts, name)
		}
		if len(owners) == 0 || owners[len(owners)-1] != name {
			owners = append(owners, name)
		}
		if !slices.Contains(types[name], h.Rrtype) {
			types[name] = append(types[name], h.Rrtype)
		}
		if n := len(sets); n > 0 && sets[n-1].name == name && sets[n-1].typ == h.Rrtype {
			sets[n-1].rrs = append(sets[n-1].rrs, rr)
		} else {
			sets = append(sets, &set{name, h.Rrtype, []dns.RR{rr}})
		}
	}
	isCut := func(n string) bool { return slices.Contains(cuts, n) }
	minTTL := z.rrs[0].(*dns.SOA).Minttl
	for i, o := range owners {
		ts := append(types[o], dns.TypeNSEC)
		if !isCut(o) || slices.Contains(ts, dns.TypeDS) {
			ts = append(ts, dns.TypeRRSIG)
		}
		slices.Sort(ts)
		nsec := &dns.NSEC{Hdr: dns.RR_Header{Name: o, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: minTTL},
			NextDomain: owners[(i+1)%len(owners)], TypeBitMap: ts}
		rrs = append(rrs, nsec)
		sets = append(sets, &set{o, dns.TypeNSEC, []dns.RR{nsec}})
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range sets {
		if isCut(s.name) && s.typ != dns.TypeDS && s.typ != dns.TypeNSEC {
			continue
		}
		sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: s.name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: s.rrs[0].Header().Ttl},
			KeyTag: key.KeyTag(), SignerName: origin, Algorithm: dns.ED25519,
			Inception: uint32(now.Unix()), Expiration: uint32(now.AddDate(10, 0, 0).Unix())}
		if err := sig.Sign(priv.(crypto.Signer), s.rrs); err != nil {
			t.Fatalf("signing %s %s: %v", s.name, dns.TypeToString[s.typ], err)
		}
		rrs = append(rrs, sig)
	}
	return &testZone{origin: z.origin, rrs: canonicalSort(rrs)}, key
}

var rootOnce = sync.OnceValues(func() ([]dns.RR, error) {
	f, err := os.Open("testdata/root-2026082201.zone")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, ".", "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	return rrs, zp.Err()
})

// rootZone returns the root snapshot; unsigned drops RRSIG, NSEC and DNSKEY.
// The records are shared: callers must not modify them.
func rootZone(t testing.TB, unsigned bool) *testZone {
	t.Helper()
	all, err := rootOnce()
	if err != nil {
		t.Fatalf("reading the root snapshot: %v", err)
	}
	if !unsigned {
		return &testZone{origin: ".", rrs: all}
	}
	var rrs []dns.RR
	for _, rr := range all {
		switch rr.Header().Rrtype {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY:
		default:
			rrs = append(rrs, rr)
		}
	}
	return &testZone{origin: ".", rrs: rrs}
}

// fakeWriter is a dns.ResponseWriter stricter than the contract: it fails
// the test on a second UDP message, on a write after Close, on Hijack, and on
// any message that does not unpack or exceeds what UDP can carry.
type fakeWriter struct {
	t      testing.TB
	tcp    bool
	remote net.Addr
	msgs   []*dns.Msg
	sizes  []int // wire size of each message
	closed bool
}

func newFakeWriter(t testing.TB, tcp bool, from string) *fakeWriter {
	ap := netip.MustParseAddrPort(from)
	w := &fakeWriter{t: t, tcp: tcp}
	if tcp {
		w.remote = net.TCPAddrFromAddrPort(ap)
	} else {
		w.remote = net.UDPAddrFromAddrPort(ap)
	}
	return w
}

func (w *fakeWriter) LocalAddr() net.Addr {
	if w.tcp {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (w *fakeWriter) RemoteAddr() net.Addr { return w.remote }
func (w *fakeWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		w.t.Errorf("WriteMsg: message does not pack: %v", err)
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *fakeWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	if w.closed {
		w.t.Errorf("Write after Close")
		return 0, fmt.Errorf("closed")
	}
	if !w.tcp && len(w.msgs) > 0 {
		w.t.Errorf("second message written on UDP")
	}
	if len(b) > dns.MaxMsgSize {
		w.t.Errorf("message of %d bytes", len(b))
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		w.t.Errorf("written message does not unpack: %v", err)
		return 0, err
	}
	w.msgs = append(w.msgs, m)
	w.sizes = append(w.sizes, len(b))
	return len(b), nil
}
func (w *fakeWriter) Close() error {
	w.closed = true
	return nil
}
func (w *fakeWriter) TsigStatus() error   { return nil }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             { w.t.Errorf("Hijack called") }

// one returns the single message written, failing the test otherwise.
func (w *fakeWriter) one() *dns.Msg {
	w.t.Helper()
	if len(w.msgs) != 1 {
		w.t.Fatalf("%d messages written, want 1", len(w.msgs))
	}
	return w.msgs[0]
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestServer returns a server (not started) serving z.
func newTestServer(t testing.TB, cfg Config, zs ...Zone) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, z := range zs {
		if err := s.Publish(z); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	return s
}

// rrKeys describes records as "owner TTL TYPE" strings.
func rrKeys(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		k := fmt.Sprintf("%s %d %s", h.Name, h.Ttl, dns.TypeToString[h.Rrtype])
		if sig, ok := rr.(*dns.RRSIG); ok {
			k += " " + dns.TypeToString[sig.TypeCovered]
		}
		out = append(out, k)
	}
	return out
}
