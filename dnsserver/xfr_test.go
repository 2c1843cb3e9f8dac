package dnsserver

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

var allowTest = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24")}

// transferSeq sends a transfer query and returns the answer records of all
// messages, checking each message's header.
func transferSeq(t *testing.T, s *Server, tcp bool, from string, qname string, qtype uint16, have uint32) (rcode int, rrs []dns.RR, msgs int) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	if qtype == dns.TypeIXFR {
		q.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Serial: have}}
	}
	w := newFakeWriter(t, tcp, from)
	s.ServeDNS(w, q)
	if len(w.msgs) == 0 {
		t.Fatalf("no answer")
	}
	for i, m := range w.msgs {
		if m.Id != q.Id || !m.Response || m.Rcode != w.msgs[0].Rcode {
			t.Errorf("message %d: id %d QR %v rcode %d, want id %d, QR, rcode of the first", i, m.Id, m.Response, m.Rcode, q.Id)
		}
		rrs = append(rrs, m.Answer...)
	}
	return w.msgs[0].Rcode, rrs, len(w.msgs)
}

// rrStrings describes records in presentation format after a round trip
// through the wire, so that equal records print alike (e.g. hex case).
func rrStrings(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	buf := make([]byte, dns.MaxMsgSize)
	for i, rr := range rrs {
		n, err := dns.PackRR(dns.Copy(rr), buf, 0, nil, false)
		if err != nil {
			panic(fmt.Sprintf("packing %v: %v", rr, err))
		}
		back, _, err := dns.UnpackRR(buf[:n], 0)
		if err != nil {
			panic(fmt.Sprintf("unpacking %v: %v", rr, err))
		}
		out[i] = back.String()
	}
	return out
}

// wantAXFR is the record sequence of a full transfer of z.
func wantAXFR(z *testZone) []string {
	ss := z.strings()
	return slices.Concat(ss[:1], ss[1:], ss[:1])
}

// wantIXFR computes, independently of the server, the RFC 1995 sequence from
// zs[0] to the last of zs: one step per version, deletions then additions.
func wantIXFR(zs ...*testZone) []string {
	last := zs[len(zs)-1].strings()[0]
	out := []string{last}
	for i := 1; i < len(zs); i++ {
		old, cur := zs[i-1].strings()[1:], zs[i].strings()[1:]
		inOld, inCur := set(old), set(cur)
		out = append(out, zs[i-1].strings()[0])
		for _, s := range old {
			if !inCur[s] {
				out = append(out, s)
			}
		}
		out = append(out, zs[i].strings()[0])
		for _, s := range cur {
			if !inOld[s] {
				out = append(out, s)
			}
		}
	}
	return append(out, last)
}

// strings is rrStrings(z.rrs), computed once.
func (z *testZone) strings() []string {
	if z.strs == nil {
		z.strs = rrStrings(z.rrs)
	}
	return z.strs
}

func set(ss []string) map[string]bool {
	m := make(map[string]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

func TestTransferAccess(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{AllowTransfer: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, z)
	cases := []struct {
		name      string
		tcp       bool
		from      string
		qname     string
		qtype     uint16
		wantRcode int
	}{
		{"AXFR allowed", true, "192.0.2.7:1000", "example.", dns.TypeAXFR, dns.RcodeSuccess},
		{"AXFR from IPv4-mapped IPv6", true, "[::ffff:192.0.2.7]:1000", "example.", dns.TypeAXFR, dns.RcodeSuccess},
		{"AXFR refused", true, "198.51.100.1:1000", "example.", dns.TypeAXFR, dns.RcodeRefused},
		{"IXFR refused", true, "198.51.100.1:1000", "example.", dns.TypeIXFR, dns.RcodeRefused},
		{"AXFR over UDP", false, "192.0.2.7:1000", "example.", dns.TypeAXFR, dns.RcodeNotImplemented},
		{"AXFR of a name that is not the zone", true, "192.0.2.7:1000", "a.example.", dns.TypeAXFR, dns.RcodeNotAuth},
		{"AXFR of another zone", true, "192.0.2.7:1000", "example.org.", dns.TypeAXFR, dns.RcodeRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcode, rrs, _ := transferSeq(t, s, c.tcp, c.from, c.qname, c.qtype, 1)
			if rcode != c.wantRcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[rcode], dns.RcodeToString[c.wantRcode])
			}
			if c.wantRcode != dns.RcodeSuccess && len(rrs) != 0 {
				t.Errorf("refusal carries %d records", len(rrs))
			}
		})
	}
}

// rootVersions returns three versions of the unsigned root: v1 the
// snapshot, v2 with a new delegation, v3 with one delegation removed and a
// TTL changed.
func rootVersions(t *testing.T) []*testZone {
	v1 := rootZone(t, true)
	v2 := v1.with(t, v1.Serial()+1, `
commonroot. 172800 NS ns1.commonroot.
commonroot. 172800 NS ns1.nic.aaa.
ns1.commonroot. 172800 A 192.0.2.10
ns1.commonroot. 172800 AAAA 2001:db8::10
`)
	v3 := v2.with(t, v2.Serial()+1, "aarp. 3600 NS a.nic.aarp.\n", "aarp.\t")
	return []*testZone{v1, v2, v3}
}

func TestTransferInProcess(t *testing.T) {
	vs := rootVersions(t)
	s := newTestServer(t, Config{AllowTransfer: allowTest}, vs[0], vs[1], vs[2])
	unknown := vs[0].Serial() - 5
	cases := []struct {
		name  string
		tcp   bool
		qtype uint16
		have  uint32
		want  []string
	}{
		{"AXFR", true, dns.TypeAXFR, 0, wantAXFR(vs[2])},
		{"IXFR from v1", true, dns.TypeIXFR, vs[0].Serial(), wantIXFR(vs...)},
		{"IXFR from v2", true, dns.TypeIXFR, vs[1].Serial(), wantIXFR(vs[1], vs[2])},
		{"IXFR up to date", true, dns.TypeIXFR, vs[2].Serial(), rrStrings(vs[2].rrs[:1])},
		{"IXFR from the future", true, dns.TypeIXFR, vs[2].Serial() + 7, rrStrings(vs[2].rrs[:1])},
		{"IXFR from an unknown serial falls back to AXFR", true, dns.TypeIXFR, unknown, wantAXFR(vs[2])},
		{"IXFR over UDP is the SOA", false, dns.TypeIXFR, vs[0].Serial(), rrStrings(vs[2].rrs[:1])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rcode, rrs, msgs := transferSeq(t, s, c.tcp, "192.0.2.7:1000", ".", c.qtype, c.have)
			if rcode != dns.RcodeSuccess {
				t.Fatalf("rcode = %s", dns.RcodeToString[rcode])
			}
			if got := rrStrings(rrs); !slices.Equal(got, c.want) {
				t.Errorf("got %d records, want %d; first difference:\n%s", len(got), len(c.want), firstDiff(got, c.want))
			}
			if len(c.want) > 1000 && msgs < 2 {
				t.Errorf("%d records in %d message(s), want several messages", len(rrs), msgs)
			}
		})
	}
	// Only the last IXFRHistory diffs are kept.
	s2 := newTestServer(t, Config{AllowTransfer: allowTest, IXFRHistory: 1}, vs[0], vs[1], vs[2])
	if _, rrs, _ := transferSeq(t, s2, true, "192.0.2.7:1000", ".", dns.TypeIXFR, vs[0].Serial()); len(rrs) != len(vs[2].rrs)+1 {
		t.Errorf("IXFR beyond the history gave %d records, want the AXFR fallback of %d", len(rrs), len(vs[2].rrs)+1)
	}
	if _, rrs, _ := transferSeq(t, s2, true, "192.0.2.7:1000", ".", dns.TypeIXFR, vs[1].Serial()); !slices.Equal(rrStrings(rrs), wantIXFR(vs[1], vs[2])) {
		t.Errorf("IXFR within the history of 1: %d records, want the diff", len(rrs))
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

func TestPublishContract(t *testing.T) {
	good := newTestZone(t, "example.", exampleZone)
	s := newTestServer(t, Config{}, good)
	soaOnly := func(serial uint32) []dns.RR {
		soa := dns.Copy(good.rrs[0]).(*dns.SOA)
		soa.Serial = serial
		return []dns.RR{soa}
	}
	ns, _ := dns.NewRR("example. 3600 NS ns1.example.")
	out, _ := dns.NewRR("example.org. 3600 A 192.0.2.1")
	cases := []struct {
		name string
		z    Zone
	}{
		{"same serial", good},
		{"older serial", &testZone{origin: "example.", rrs: soaOnly(good.Serial() - 1)}},
		{"no records", &fixedZone{"example.", 5, nil}},
		{"SOA not first", &fixedZone{"example.", good.Serial() + 1, append([]dns.RR{ns}, soaOnly(good.Serial()+1)...)}},
		{"Serial disagrees with the SOA", &fixedZone{"example.", good.Serial() + 2, soaOnly(good.Serial() + 1)}},
		{"record outside the zone", &testZone{origin: "example.", rrs: append(soaOnly(good.Serial()+1), out)}},
		{"second SOA", &testZone{origin: "example.", rrs: append(soaOnly(good.Serial()+1), soaOnly(good.Serial()+1)...)}},
		{"SOA of another zone", &testZone{origin: "example.org.", rrs: soaOnly(good.Serial() + 1)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Publish(c.z); err == nil {
				t.Errorf("Publish accepted a broken zone")
			}
			if s.Serial() != good.Serial() {
				t.Errorf("Serial = %d after a refused Publish, want %d", s.Serial(), good.Serial())
			}
		})
	}
	// Serial arithmetic wraps (RFC 1982).
	wrap := &testZone{origin: "example.", rrs: soaOnly(0xfffffff0)}
	s2 := newTestServer(t, Config{}, wrap)
	if err := s2.Publish(&testZone{origin: "example.", rrs: soaOnly(3)}); err != nil {
		t.Errorf("Publish across the serial wrap: %v", err)
	}
}

// fixedZone is a Zone whose Serial is given separately from its records.
type fixedZone struct {
	origin string
	serial uint32
	rrs    []dns.RR
}

func (z *fixedZone) Origin() string    { return z.origin }
func (z *fixedZone) Serial() uint32    { return z.serial }
func (z *fixedZone) Records() []dns.RR { return z.rrs }

// kdigRecords runs kdig and parses the records it prints.
func kdigRecords(t *testing.T, args ...string) []dns.RR {
	t.Helper()
	kdig := testtool.Path(t, "kdig")
	cmd := exec.Command(kdig, append(args, "+noall", "+answer", "+noidn", "+timeout=10", "+retry=0")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kdig %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return parseRRs(t, ".", bytes.NewReader(out))
}

func TestTransferKdig(t *testing.T) {
	vs := rootVersions(t)
	full := rootZone(t, false) // with its DNSKEY, RRSIG and NSEC records
	full = full.with(t, vs[0].Serial()-1, "")
	s := newTestServer(t, Config{AllowTransfer: allowTest}, full, vs[0], vs[1], vs[2])
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, s.Addr())
	at := []string{"@" + host, "-p", port}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"AXFR", []string{".", "AXFR"}, wantAXFR(vs[2])},
		{"IXFR from v1", []string{".", fmt.Sprintf("IXFR=%d", vs[0].Serial())}, wantIXFR(vs...)},
		{"IXFR from the signed version", []string{".", fmt.Sprintf("IXFR=%d", full.Serial())}, wantIXFR(full, vs[0], vs[1], vs[2])},
		{"IXFR up to date", []string{".", fmt.Sprintf("IXFR=%d", vs[2].Serial())}, rrStrings(vs[2].rrs[:1])},
		{"IXFR from an unknown serial", []string{".", "IXFR=1"}, wantAXFR(vs[2])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := rrStrings(kdigRecords(t, append(at, c.args...)...))
			if !slices.Equal(got, c.want) {
				t.Errorf("kdig got %d records, want %d; %s", len(got), len(c.want), firstDiff(got, c.want))
			}
		})
	}
}

func splitAddr(t *testing.T, addr string) (host, port string) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
