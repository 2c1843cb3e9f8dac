package localfed

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// TestSignaturesExpire runs a federation whose signatures live two minutes
// (signing.validity 2m, refresh 1m): signed versions are refreshed with no
// one acting; when fewer than t members sign, every node serves the last
// signed version until its first signature expires, then answers SERVFAIL
// (never anything unsigned or expired); once enough members sign again, a
// fresh signed version is served.
func TestSignaturesExpire(t *testing.T) {
	// Two minutes: the first signature (key generation, nonce pools, the
	// whole root) must be published before the request's signatures
	// expire, also on a loaded CI machine.
	sp := constitution.Signing{Validity: constitution.Duration(2 * time.Minute), Refresh: constitution.Duration(time.Minute), Timeout: constitution.Duration(5 * time.Second)}
	f, dir := startDevSigning(t, 4, &sp)
	zk := generateKey(t, f, dir)
	served := func(m string) (uint32, error) { return signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey()) }
	var first uint32
	eventually(t, "every node serves a signed zone", 180*time.Second, func() error {
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
	eventually(t, "a refreshed version is served", 150*time.Second, func() error {
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
