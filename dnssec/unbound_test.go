package dnssec

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/dnsserver"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

var _ dnsserver.Zone = (*Signed)(nil)

// servedZone is a dnsserver.Zone made of any records: the forged zone.
type servedZone struct {
	origin string
	rrs    []dns.RR
}

func (z servedZone) Origin() string    { return z.origin }
func (z servedZone) Serial() uint32    { return z.rrs[0].(*dns.SOA).Serial }
func (z servedZone) Records() []dns.RR { return z.rrs }

// serve publishes z on a dnsserver.Server at 127.0.0.1 and returns its
// address.
func serve(t *testing.T, z dnsserver.Zone) string {
	t.Helper()
	s, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Publish(z); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s.Addr()
}

// TestUnboundValidates serves the signed root to a validating unbound
// whose trust anchor is the DS line of DSLines: the DS of a TLD validates
// (AD), a missing TLD is a validated NXDOMAIN, and a zone that publishes
// the same DNSKEY but whose RRSIGs are made by another key is bogus
// (SERVFAIL).
func TestUnboundValidates(t *testing.T) {
	z := rootZone(t)
	var tld string
	for _, d := range z.Delegations() {
		if len(d.DS) > 0 {
			tld = d.Name
			break
		}
	}
	k, s := testKey("root")
	now := time.Now().Truncate(time.Second)
	pol := Policy{Inception: now.Add(-time.Hour), Expiration: now.Add(7 * 24 * time.Hour)}
	sz := signWith(t, z, k, s, pol)
	_, ta, err := DSLines(k, ".")
	if err != nil {
		t.Fatal(err)
	}
	auth := serve(t, sz)
	_, authPort, _ := net.SplitHostPort(auth)
	ap, _ := strconv.Atoi(authPort)
	if r := testtool.Kdig(t, ap, tld, "DS"); r.Status != "NOERROR" || !strings.Contains(r.Answer, "\tRRSIG\tDS 15 ") {
		t.Errorf("DS of %s from the server: status %s, want NOERROR with an RRSIG:\n%s", tld, r.Status, r.Answer)
	}
	port := testtool.Unbound(t, auth, ta)

	if r := testtool.Kdig(t, port, tld, "DS"); r.Status != "NOERROR" || !r.AD || !strings.Contains(r.Answer, "\tDS\t") {
		t.Errorf("DS of %s: status %s, AD %v, want NOERROR with AD and the DS:\n%s", tld, r.Status, r.AD, r.Answer)
	}
	if r := testtool.Kdig(t, port, "no-such-tld-commonroot.", "A"); r.Status != "NXDOMAIN" || !r.AD {
		t.Errorf("missing TLD: status %s, AD %v, want NXDOMAIN with AD:\n%s", r.Status, r.AD, r.Answer)
	}

	// The forger publishes the real key's DNSKEY and key tag, but signs
	// with its own key.
	fk, forger := testKey("forger")
	other := signWith(t, z, fk, forger, pol)
	var rrs []dns.RR
	for _, rr := range other.Records() {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			rr = k.DNSKEY(".")
		case *dns.RRSIG:
			c := *x
			c.KeyTag = k.KeyTag()
			rr = &c
		}
		rrs = append(rrs, rr)
	}
	fport := testtool.Unbound(t, serve(t, servedZone{origin: ".", rrs: rrs}), ta)
	if r := testtool.Kdig(t, fport, tld, "DS"); r.Status != "SERVFAIL" || r.AD {
		t.Errorf("DS of %s from the forged zone: status %s, AD %v, want SERVFAIL:\n%s", tld, r.Status, r.AD, r.Answer)
	}
}
