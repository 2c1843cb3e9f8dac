package dnsserver

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const exampleZone = `$TTL 3600
example. SOA ns1.example. hostmaster.example. 2026010101 3600 900 1209600 300
example. NS ns1.example.
example. NS ns2.example.
example. ZONEMD 2026010101 1 1 ( 0123456789abcdef0123456789abcdef0123456789abcdef
                                  0123456789abcdef0123456789abcdef0123456789abcdef )
a.example. 172800 NS ns1.a.example.
a.example. 172800 NS ns.b.example.
a.example. 86400 DS 12345 15 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns1.a.example. 172800 A 192.0.2.1
ns1.a.example. 172800 AAAA 2001:db8::1
b.example. 172800 NS ns.b.example.
b.example. 172800 NS ns.outside.test.
ns.b.example. 172800 A 192.0.2.2
ns1.example. A 192.0.2.53
ns2.example. A 192.0.2.54
deep.sub.example. TXT "below an empty non-terminal"
*.wild.example. TXT "wildcard"
`

// bigTXT is an RRset too large for a 1232-byte UDP answer.
func bigTXT() string {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "big.example. TXT \"%02d %s\"\n", i, strings.Repeat("x", 60))
	}
	return b.String()
}

// inDomainGlue is a delegation whose in-domain glue cannot fit in 512 bytes.
func inDomainGlue() string {
	var b strings.Builder
	for i := range 12 {
		host := fmt.Sprintf("ns%02d.a-rather-long-label-for-name-servers.c.example.", i)
		fmt.Fprintf(&b, "c.example. NS %s\n%s A 192.0.2.%d\n%s AAAA 2001:db8::%d\n", host, host, i+10, host, i+10)
	}
	return b.String()
}

type queryCase struct {
	name        string
	qname       string
	qtype       uint16
	qclass      uint16 // 0 means IN
	do          bool
	edns        uint16 // 0: no OPT
	tcp         bool
	wantRcode   int
	wantAA      bool
	wantTC      bool
	wantAnswer  []string
	wantNs      []string
	wantExtra   []string
	extraSubset bool // wantExtra lists what may be there, not all of it
}

// ask sends a query for c to s through a fake writer and returns the answer.
func ask(t *testing.T, s *Server, c queryCase) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(c.qname, c.qtype)
	q.RecursionDesired = false
	if c.qclass != 0 {
		q.Question[0].Qclass = c.qclass
	}
	if c.edns != 0 {
		q.SetEdns0(c.edns, c.do)
	}
	w := newFakeWriter(t, c.tcp, "192.0.2.200:5353")
	s.ServeDNS(w, q)
	r := w.one()
	if !c.tcp {
		limit := 512
		if c.edns > 512 {
			limit = min(int(c.edns), s.maxUDP)
		}
		if w.sizes[0] > limit {
			t.Errorf("UDP answer of %d bytes, limit %d", w.sizes[0], limit)
		}
	}
	if r.Id != q.Id || !r.Response || len(r.Question) != 1 || r.Question[0] != q.Question[0] {
		t.Errorf("answer header/question = id %d qr %v %v, want id %d and question %v", r.Id, r.Response, r.Question, q.Id, q.Question[0])
	}
	if (c.edns != 0) != (r.IsEdns0() != nil) {
		t.Errorf("answer OPT = %v, query had EDNS %v", r.IsEdns0(), c.edns != 0)
	}
	if o := r.IsEdns0(); o != nil && (o.Do() != c.do || int(o.UDPSize()) != s.maxUDP) {
		t.Errorf("answer OPT DO=%v size=%d, want DO=%v size=%d", o.Do(), o.UDPSize(), c.do, s.maxUDP)
	}
	return r
}

func check(t *testing.T, c queryCase, r *dns.Msg) {
	t.Helper()
	if r.Rcode != c.wantRcode {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.wantRcode])
	}
	if r.Authoritative != c.wantAA {
		t.Errorf("AA = %v, want %v", r.Authoritative, c.wantAA)
	}
	if r.Truncated != c.wantTC {
		t.Errorf("TC = %v, want %v", r.Truncated, c.wantTC)
	}
	for _, sec := range []struct {
		name      string
		got, want []string
	}{{"answer", rrKeys(r.Answer), c.wantAnswer}, {"authority", rrKeys(r.Ns), c.wantNs}} {
		if sec.want == nil {
			sec.want = []string{}
		}
		if !slices.Equal(sec.got, sec.want) {
			t.Errorf("%s section:\n got %q\nwant %q", sec.name, sec.got, sec.want)
		}
	}
	gotExtra := rrKeys(r.Extra)
	if c.extraSubset {
		for _, g := range gotExtra {
			if !slices.Contains(c.wantExtra, g) {
				t.Errorf("additional section has %q, not among %q", g, c.wantExtra)
			}
		}
	} else if want := append([]string{}, c.wantExtra...); !slices.Equal(gotExtra, want) {
		t.Errorf("additional section:\n got %q\nwant %q", gotExtra, want)
	}
}

func rep(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

var (
	soaNeg  = "example. 300 SOA"
	aNS     = []string{"a.example. 172800 NS", "a.example. 172800 NS"}
	aGlue   = []string{"ns1.a.example. 172800 A", "ns1.a.example. 172800 AAAA", "ns.b.example. 172800 A"}
	bNS     = []string{"b.example. 172800 NS", "b.example. 172800 NS"}
	bGlue   = []string{"ns.b.example. 172800 A"}
	apexNS  = []string{"example. 3600 NS", "example. 3600 NS"}
	apexA   = []string{"ns1.example. 3600 A", "ns2.example. 3600 A"}
	soaSigs = []string{soaNeg, "example. 300 RRSIG SOA"}
)

func nsecOf(name string) []string {
	return []string{name + " 300 NSEC", name + " 300 RRSIG NSEC"}
}

func cat(ss ...[]string) []string { return slices.Concat(ss...) }

func TestQueryUnsigned(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone+bigTXT()+inDomainGlue())
	s := newTestServer(t, Config{}, z)
	cGlue := []string{}
	for i := range 12 {
		h := fmt.Sprintf("ns%02d.a-rather-long-label-for-name-servers.c.example.", i)
		cGlue = append(cGlue, h+" 3600 A", h+" 3600 AAAA")
	}
	cases := []queryCase{
		{name: "apex SOA", qname: "example.", qtype: dns.TypeSOA, wantAA: true, wantAnswer: []string{"example. 3600 SOA"}},
		{name: "apex NS with addresses", qname: "example.", qtype: dns.TypeNS, wantAA: true, wantAnswer: apexNS, wantExtra: apexA},
		{name: "apex ZONEMD", qname: "example.", qtype: dns.TypeZONEMD, wantAA: true, wantAnswer: []string{"example. 3600 ZONEMD"}},
		{name: "apex ANY", qname: "example.", qtype: dns.TypeANY, wantAA: true, wantAnswer: cat([]string{"example. 3600 SOA"}, apexNS, []string{"example. 3600 ZONEMD"})},
		{name: "in-zone host", qname: "ns1.example.", qtype: dns.TypeA, wantAA: true, wantAnswer: []string{"ns1.example. 3600 A"}},
		{name: "referral with sibling glue", qname: "www.a.example.", qtype: dns.TypeA, wantNs: aNS, wantExtra: aGlue},
		{name: "referral at the cut", qname: "a.example.", qtype: dns.TypeA, wantNs: aNS, wantExtra: aGlue},
		{name: "NS at the cut is a referral", qname: "a.example.", qtype: dns.TypeNS, wantNs: aNS, wantExtra: aGlue},
		{name: "ANY at the cut is a referral", qname: "a.example.", qtype: dns.TypeANY, wantNs: aNS, wantExtra: aGlue},
		{name: "glue name is a referral", qname: "ns1.a.example.", qtype: dns.TypeA, wantNs: aNS, wantExtra: aGlue},
		{name: "DS below the cut is a referral", qname: "x.a.example.", qtype: dns.TypeDS, wantNs: aNS, wantExtra: aGlue},
		{name: "referral, out-of-zone NS", qname: "b.example.", qtype: dns.TypeMX, wantNs: bNS, wantExtra: bGlue},
		{name: "name below a glue host", qname: "x.ns.b.example.", qtype: dns.TypeA, wantNs: bNS, wantExtra: bGlue},
		{name: "DS answered by the parent", qname: "a.example.", qtype: dns.TypeDS, wantAA: true, wantAnswer: []string{"a.example. 86400 DS"}},
		{name: "DS with DO, unsigned zone", qname: "a.example.", qtype: dns.TypeDS, do: true, edns: 1232, wantAA: true, wantAnswer: []string{"a.example. 86400 DS"}},
		{name: "no DS: NODATA from the parent", qname: "b.example.", qtype: dns.TypeDS, wantAA: true, wantNs: []string{soaNeg}},
		{name: "NXDOMAIN, SOA TTL capped at minimum", qname: "nope.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true, wantNs: []string{soaNeg}},
		{name: "NXDOMAIN below an existing name", qname: "x.ns1.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true, wantNs: []string{soaNeg}},
		{name: "NODATA", qname: "ns1.example.", qtype: dns.TypeAAAA, wantAA: true, wantNs: []string{soaNeg}},
		{name: "empty non-terminal is NODATA", qname: "sub.example.", qtype: dns.TypeA, wantAA: true, wantNs: []string{soaNeg}},
		{name: "below the empty non-terminal", qname: "deep.sub.example.", qtype: dns.TypeTXT, wantAA: true, wantAnswer: []string{"deep.sub.example. 3600 TXT"}},
		{name: "wildcard", qname: "foo.wild.example.", qtype: dns.TypeTXT, wantAA: true, wantAnswer: []string{"foo.wild.example. 3600 TXT"}},
		{name: "wildcard NODATA", qname: "foo.wild.example.", qtype: dns.TypeA, wantAA: true, wantNs: []string{soaNeg}},
		{name: "wildcard owner itself", qname: "*.wild.example.", qtype: dns.TypeTXT, wantAA: true, wantAnswer: []string{"*.wild.example. 3600 TXT"}},
		{name: "query name case preserved", qname: "WwW.A.ExAmPlE.", qtype: dns.TypeA, wantNs: aNS, wantExtra: aGlue},
		{name: "upper-case apex", qname: "EXAMPLE.", qtype: dns.TypeSOA, wantAA: true, wantAnswer: []string{"example. 3600 SOA"}},
		{name: "out of zone", qname: "www.example.org.", qtype: dns.TypeA, wantRcode: dns.RcodeRefused},
		{name: "parent of the zone", qname: ".", qtype: dns.TypeNS, wantRcode: dns.RcodeRefused},
		{name: "suffix that is not a parent", qname: "notexample.", qtype: dns.TypeA, wantRcode: dns.RcodeRefused},
		{name: "escaped dot is not a label boundary", qname: `a\.example.`, qtype: dns.TypeA, wantRcode: dns.RcodeRefused},
		{name: "class CH refused", qname: "example.", qtype: dns.TypeSOA, qclass: dns.ClassCHAOS, wantRcode: dns.RcodeRefused},
		{name: "class ANY served", qname: "example.", qtype: dns.TypeSOA, qclass: dns.ClassANY, wantAA: true, wantAnswer: []string{"example. 3600 SOA"}},
		{name: "meta type OPT", qname: "example.", qtype: dns.TypeOPT, wantRcode: dns.RcodeFormatError},
		{name: "big RRset truncated without EDNS", qname: "big.example.", qtype: dns.TypeTXT, wantAA: true, wantTC: true},
		{name: "big RRset truncated at 1232", qname: "big.example.", qtype: dns.TypeTXT, edns: 4096, wantAA: true, wantTC: true},
		{name: "big RRset over TCP", qname: "big.example.", qtype: dns.TypeTXT, tcp: true, wantAA: true, wantAnswer: rep("big.example. 3600 TXT", 40)},
		{name: "in-domain glue that does not fit sets TC", qname: "c.example.", qtype: dns.TypeA, wantTC: true, wantNs: rep("c.example. 3600 NS", 12), wantExtra: cGlue, extraSubset: true},
		{name: "in-domain glue fits with EDNS", qname: "c.example.", qtype: dns.TypeA, edns: 1232, wantNs: rep("c.example. 3600 NS", 12), wantExtra: cGlue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, c, ask(t, s, c))
		})
	}
}

func TestQuerySigned(t *testing.T) {
	z, key := signZone(t, newTestZone(t, "example.", exampleZone))
	s := newTestServer(t, Config{}, z)
	dsSig := []string{"a.example. 86400 DS", "a.example. 86400 RRSIG DS"}
	cases := []queryCase{
		{name: "apex SOA with RRSIG", qname: "example.", qtype: dns.TypeSOA, wantAA: true, wantAnswer: []string{"example. 3600 SOA", "example. 3600 RRSIG SOA"}},
		{name: "apex SOA without DO", qname: "example.", qtype: dns.TypeSOA, edns: 1232, wantAA: true, wantAnswer: []string{"example. 3600 SOA"}},
		{name: "DNSKEY", qname: "example.", qtype: dns.TypeDNSKEY, wantAA: true, wantAnswer: []string{"example. 3600 DNSKEY", "example. 3600 RRSIG DNSKEY"}},
		{name: "referral with DS", qname: "www.a.example.", qtype: dns.TypeA, wantNs: cat(aNS, dsSig), wantExtra: aGlue},
		{name: "referral without DS: NSEC", qname: "www.b.example.", qtype: dns.TypeA, wantNs: cat(bNS, nsecOf("b.example.")), wantExtra: bGlue},
		{name: "referral without DO", qname: "www.a.example.", qtype: dns.TypeA, edns: 1232, wantNs: aNS, wantExtra: aGlue},
		{name: "DS with DO", qname: "a.example.", qtype: dns.TypeDS, wantAA: true, wantAnswer: dsSig},
		{name: "DS without DO", qname: "a.example.", qtype: dns.TypeDS, edns: 1232, wantAA: true, wantAnswer: []string{"a.example. 86400 DS"}},
		{name: "no DS with DO", qname: "b.example.", qtype: dns.TypeDS, wantAA: true, wantNs: cat(soaSigs, nsecOf("b.example."))},
		{name: "NXDOMAIN with NSEC proofs", qname: "nope.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true,
			wantNs: cat(soaSigs, nsecOf("b.example."), nsecOf("example."))},
		{name: "NXDOMAIN whose wildcard proof is the same NSEC", qname: "b.ns1.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true,
			wantNs: cat(soaSigs, nsecOf("ns1.example."))},
		{name: "NXDOMAIN past the last name", qname: "zzz.example.", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true,
			wantNs: cat(soaSigs, nsecOf("*.wild.example."), nsecOf("example."))},
		{name: "NODATA with NSEC", qname: "ns1.example.", qtype: dns.TypeAAAA, wantAA: true, wantNs: cat(soaSigs, nsecOf("ns1.example."))},
		{name: "empty non-terminal with covering NSEC", qname: "sub.example.", qtype: dns.TypeA, wantAA: true, wantNs: cat(soaSigs, nsecOf("ns2.example."))},
		{name: "wildcard answer with proof", qname: "foo.wild.example.", qtype: dns.TypeTXT, wantAA: true,
			wantAnswer: []string{"foo.wild.example. 3600 TXT", "foo.wild.example. 3600 RRSIG TXT"}, wantNs: nsecOf("*.wild.example.")},
		{name: "NSEC query", qname: "ns1.example.", qtype: dns.TypeNSEC, wantAA: true, wantAnswer: nsecOf("ns1.example.")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.edns == 0 {
				c.edns, c.do = 1232, true
			}
			r := ask(t, s, c)
			check(t, c, r)
			verifySigs(t, key, r, c.qname)
		})
	}
}

// verifySigs checks every RRSIG of r over the RRset it covers in its section.
func verifySigs(t *testing.T, key *dns.DNSKEY, r *dns.Msg, qname string) {
	t.Helper()
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range sec {
			sig, ok := rr.(*dns.RRSIG)
			if !ok {
				continue
			}
			var set []dns.RR
			for _, x := range sec {
				if x.Header().Rrtype == sig.TypeCovered && strings.EqualFold(x.Header().Name, sig.Hdr.Name) {
					set = append(set, x)
				}
			}
			if sig.Labels < uint8(dns.CountLabel(sig.Hdr.Name)) {
				continue // a wildcard expansion; its signature is over the wildcard owner
			}
			if err := sig.Verify(key, set); err != nil {
				t.Errorf("RRSIG %s over %d records does not verify: %v", sig.Hdr.Name+" "+dns.TypeToString[sig.TypeCovered], len(set), err)
			}
		}
	}
}

func TestQueryRoot(t *testing.T) {
	z := rootZone(t, true)
	s := newTestServer(t, Config{}, z)
	// The com. glue, computed from the records: its name servers are in
	// net., so every address is sibling glue.
	comNS, comGlue := nsAndAddresses(z, "com.")
	rootNS, rootAddrs := nsAndAddresses(z, ".")
	if len(comNS) != 13 || len(comGlue) != 26 || len(rootAddrs) != 26 {
		t.Fatalf("snapshot: com. has %d NS and %d glue records, the root %d addresses, want 13, 26, 26", len(comNS), len(comGlue), len(rootAddrs))
	}
	cases := []queryCase{
		{name: "apex SOA", qname: ".", qtype: dns.TypeSOA, edns: 1232, wantAA: true, wantAnswer: []string{". 86400 SOA"}},
		{name: "apex NS, names out of zone", qname: ".", qtype: dns.TypeNS, edns: 1232, wantAA: true, wantAnswer: rootNS, wantExtra: rootAddrs},
		{name: "com. referral with sibling glue", qname: "www.example.com.", qtype: dns.TypeA, edns: 1232, wantNs: comNS, wantExtra: comGlue},
		{name: "com. referral, DO, DS in authority", qname: "www.example.com.", qtype: dns.TypeA, edns: 1232, do: true, wantNs: cat(comNS, []string{"com. 86400 DS"}), wantExtra: comGlue},
		{name: "com. referral in 512 bytes drops sibling glue, no TC", qname: "www.example.com.", qtype: dns.TypeA, wantNs: comNS, wantExtra: comGlue, extraSubset: true},
		{name: "NXDOMAIN", qname: "no-such-tld-here.", qtype: dns.TypeA, edns: 1232, wantRcode: dns.RcodeNameError, wantAA: true, wantNs: []string{". 86400 SOA"}},
		{name: "DS of com. from the root", qname: "com.", qtype: dns.TypeDS, edns: 1232, wantAA: true, wantAnswer: []string{"com. 86400 DS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, c, ask(t, s, c))
		})
	}
	// 512 bytes without EDNS still carries some glue.
	r := ask(t, s, cases[4])
	if len(r.Extra) == 0 || len(r.Extra) >= 26 {
		t.Errorf("512-byte com. referral has %d glue records, want some but not all 26", len(r.Extra))
	}
}

// nsAndAddresses describes the NS records of name in z and the address
// records of their hosts, by a plain scan of the records.
func nsAndAddresses(z *testZone, name string) (ns, addrs []string) {
	var hosts []string
	for _, rr := range z.rrs {
		if n, ok := rr.(*dns.NS); ok && n.Hdr.Name == name {
			ns = append(ns, fmt.Sprintf("%s %d NS", name, n.Hdr.Ttl))
			hosts = append(hosts, n.Ns)
		}
	}
	for _, h := range hosts {
		for _, rr := range z.rrs {
			if rr.Header().Name == h && (rr.Header().Rrtype == dns.TypeA || rr.Header().Rrtype == dns.TypeAAAA) {
				addrs = append(addrs, fmt.Sprintf("%s %d %s", h, rr.Header().Ttl, dns.TypeToString[rr.Header().Rrtype]))
			}
		}
	}
	return ns, addrs
}

func TestQueryRootNSEC(t *testing.T) {
	// The full snapshot has NSEC records (without their RRSIGs): with DO an
	// NXDOMAIN carries the NSEC covering the name and the one covering the
	// wildcard.
	s := newTestServer(t, Config{}, rootZone(t, false))
	c := queryCase{qname: "aab.", qtype: dns.TypeA, edns: 1232, do: true, wantRcode: dns.RcodeNameError, wantAA: true,
		wantNs: []string{". 86400 SOA", ". 86400 RRSIG SOA", "aaa. 86400 NSEC", ". 86400 NSEC"}}
	check(t, c, ask(t, s, c))
	r := ask(t, s, c)
	if nsec, ok := r.Ns[2].(*dns.NSEC); !ok || nsec.NextDomain != "aarp." {
		t.Errorf("covering NSEC = %v, want aaa. -> aarp.", r.Ns[2])
	}
}
