package localfed

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/devzone"
	"github.com/commonroot/commonroot/registry"
)

// TestSignaturesExpire runs a federation whose signatures live a minute
// (signing.validity 1m, refresh 30s): signed versions are refreshed with no
// one acting; when fewer than t members sign, every node serves the last
// signed version until its first signature expires, then answers SERVFAIL
// (never anything unsigned or expired); once enough members sign again, a
// fresh signed version is served.
func TestSignaturesExpire(t *testing.T) {
	// Mostly waiting for signatures to expire: it runs beside the other
	// parallel test, after the sequential ones.
	t.Parallel()
	// A root of the members' TLDs and 40 others keeps the test short: the
	// whole real root's first signing (~2,800 RRsets to commit to, then
	// sign) takes much of a minute on a loaded machine.
	sp := constitution.Signing{Validity: constitution.Duration(time.Minute), Refresh: constitution.Duration(30 * time.Second), Timeout: constitution.Duration(5 * time.Second)}
	f, dir := startDevZone(t, 4, &sp, smallRoot(t, 40))
	zk := generateKey(t, f, dir)
	served := func(m string) (uint32, error) { return signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey()) }
	var first uint32
	eventually(t, "every node serves a signed zone", 120*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			s, err := served(m)
			if err != nil {
				return fmt.Errorf("%s: %v", m, err)
			}
			first = s
		}
		return nil
	})
	// Refreshed with no one acting: a newer serial, signed, and a
	// zone.refresh entry.
	eventually(t, "a refreshed version is served", 90*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			if s, err := served(m); err != nil || s <= first {
				return fmt.Errorf("%s: serial %d (first %d): %v", m, s, first, err)
			}
		}
		return nil
	})
	if n := countEvents(t, f, "zone.refresh"); n == 0 {
		t.Error("no zone.refresh entry in the log")
	}

	// Two of four nodes stop signing (t = 3): the refresh cannot be signed.
	f.Nodes["charlie"].SetSigningPaused(true)
	f.Nodes["delta"].SetSigningPaused(true)
	// (A request whose shares were all sent may still be published.)
	time.Sleep(3 * time.Second)
	var v registry.SignedVersion
	f.Nodes["alpha"].App().View(func(s *registry.State) { v, _ = s.Signed() })
	expires := v.Expires
	t.Logf("last signed version: serial %d, first signature expires %s", v.Serial, expires.Format(time.RFC3339))
	// Until the expiry (less a second for clocks), every node serves a
	// signed version whose signatures are valid.
	for time.Now().Before(expires.Add(-2 * time.Second)) {
		for _, m := range MemberNames[:4] {
			r := query(t, f.Nodes[m].DNSAddr(), ".", dns.TypeSOA)
			if r.Rcode == dns.RcodeServerFailure {
				if time.Now().Before(expires.Add(-time.Second)) {
					t.Fatalf("%s answers SERVFAIL at %s, before the expiry %s", m, time.Now().Format(time.RFC3339), expires.Format(time.RFC3339))
				}
				continue
			}
			if _, err := served(m); err != nil {
				t.Fatalf("%s before the expiry: %v", m, err)
			}
		}
		time.Sleep(time.Second)
	}
	// After it: SERVFAIL everywhere, nothing unsigned.
	eventually(t, "every node withdraws the expired version", 20*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			if r := query(t, f.Nodes[m].DNSAddr(), ".", dns.TypeSOA); r.Rcode != dns.RcodeServerFailure {
				return fmt.Errorf("%s answers %s after the expiry", m, dns.RcodeToString[r.Rcode])
			}
		}
		return nil
	})
	if !time.Now().After(expires) {
		t.Fatalf("withdrawn before the expiry %s", expires)
	}
	// Signing again: a fresh signed version is served.
	f.Nodes["charlie"].SetSigningPaused(false)
	f.Nodes["delta"].SetSigningPaused(false)
	eventually(t, "a fresh signed version is served", 150*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			if s, err := served(m); err != nil || s <= v.Serial {
				return fmt.Errorf("%s: serial %d (withdrawn %d): %v", m, s, v.Serial, err)
			}
		}
		return nil
	})
	sameAppHash(t, f)
}

// countEvents counts the log entries of event on alpha's node.
func countEvents(t *testing.T, f *Federation, event string) int {
	t.Helper()
	lg := f.Nodes["alpha"].App().Log()
	n := 0
	for i := range lg.Size() {
		e, err := lg.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := registry.DecodeEvent(e); err == nil && ev.Event == event {
			n++
		}
	}
	return n
}

// smallRoot is the real root zone cut down to the members' TLDs, the
// first others more and the TLDs their name servers are in (so that no
// name server is left inside the zone without glue): the apex's records
// and those whose owner lies under one of those TLDs.
func smallRoot(t *testing.T, others int) []byte {
	t.Helper()
	var rrs []dns.RR
	zp := dns.NewZoneParser(bytes.NewReader(devzone.Root), ".", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	tldOf := func(name string) string {
		labels := dns.SplitDomainName(name)
		if len(labels) == 0 {
			return "."
		}
		return strings.ToLower(labels[len(labels)-1]) + "."
	}
	keep := map[string]bool{".": true}
	for _, tld := range DevOwned {
		keep[tld] = true
	}
	for _, rr := range rrs {
		if tld := tldOf(rr.Header().Name); others > 0 && !keep[tld] && rr.Header().Rrtype == dns.TypeNS {
			keep[tld] = true
			others--
		}
	}
	for grown := true; grown; {
		grown = false
		for _, rr := range rrs {
			if ns, ok := rr.(*dns.NS); ok && keep[tldOf(ns.Hdr.Name)] && !keep[tldOf(ns.Ns)] {
				keep[tldOf(ns.Ns)], grown = true, true
			}
		}
	}
	hosts := map[string]bool{}
	for _, rr := range rrs {
		if ns, ok := rr.(*dns.NS); ok && keep[tldOf(ns.Hdr.Name)] {
			hosts[strings.ToLower(ns.Ns)] = true
		}
	}
	var out strings.Builder
	for _, rr := range rrs {
		h := rr.Header()
		glue := h.Rrtype == dns.TypeA || h.Rrtype == dns.TypeAAAA
		if keep[tldOf(h.Name)] && (!glue || hosts[strings.ToLower(h.Name)]) {
			out.WriteString(rr.String() + "\n")
		}
	}
	return []byte(out.String())
}
