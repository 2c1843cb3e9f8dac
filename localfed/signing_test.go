package localfed

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
)

// generateKey votes a key.generate (t=3) through and waits until every
// node has the zone key.
func generateKey(t testing.TB, f *Federation, dir string) registry.ZoneKey {
	t.Helper()
	o := submitAs(t, f, dir, "alpha", "alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "sign the root", Threshold: 3})
	allAt(t, f, o.Height)
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		submitAs(t, f, dir, m, m, action.KindVote, &action.Vote{Proposal: o.Proposal, Vote: action.Yes})
	}
	var zk registry.ZoneKey
	eventually(t, "every node has the zone key", 120*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			var ok bool
			f.Nodes[m].App().View(func(s *registry.State) { zk, ok = s.ZoneKey() })
			if !ok {
				return fmt.Errorf("%s has no zone key yet", m)
			}
		}
		return nil
	})
	return zk
}

// signedSOA asks addr for the apex SOA with DO and returns the serial and
// whether an RRSIG by key verifies over it.
func signedSOA(t testing.TB, addr string, key ed25519.PublicKey) (uint32, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeSOA)
	m.SetEdns0(1232, true)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return 0, err
	}
	var soa *dns.SOA
	var sig *dns.RRSIG
	for _, rr := range r.Answer {
		switch x := rr.(type) {
		case *dns.SOA:
			soa = x
		case *dns.RRSIG:
			sig = x
		}
	}
	if soa == nil || sig == nil {
		return 0, fmt.Errorf("no signed SOA: %v", r.Answer)
	}
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 172800}, Flags: 257, Protocol: 3, Algorithm: dns.ED25519}
	k.PublicKey = base64.StdEncoding.EncodeToString(key)
	if err := sig.Verify(k, []dns.RR{soa}); err != nil {
		return soa.Serial, fmt.Errorf("RRSIG over SOA %d: %v", soa.Serial, err)
	}
	return soa.Serial, nil
}

// TestSignedThroughConsensus: once the members made the zone key, their
// nodes sign the zone through consensus on their own (nonce commitments,
// shares, aggregation in the state machine) and every node serves the same
// signed version; a delegation change is signed and served in turn.
func TestSignedThroughConsensus(t *testing.T) {
	// Signing batches of 1,000: the root's ~2,800 RRsets go through three
	// sessions, one after another.
	sp := constitution.DefaultSigning
	sp.Batch = 1000
	f, dir := startDevSigning(t, 4, &sp)
	zk := generateKey(t, f, dir)
	keyAt := time.Now()
	// A node that does not sign the batch restarts while the batches are
	// signed: it plans the open request again from its store (the window
	// the first batch set) and agrees with the others (sameAppHash below).
	var restart string
	eventually(t, "the first request past its first batch, or signed", 120*time.Second, func() error {
		var r registry.SigningRequest
		var open, signed bool
		f.Nodes["alpha"].App().View(func(s *registry.State) {
			r, open = s.SigningRequest()
			_, signed = s.Signed()
		})
		switch {
		case signed:
			return nil // too late to restart in the middle
		case !open || r.Round != registry.RoundRRsets || r.Done == 0 || len(r.Signers) == 0:
			return fmt.Errorf("request %d: round %q, %d of %d done, signers %v", r.ID, r.Round, r.Done, r.RRsets, r.Signers)
		}
		for _, m := range MemberNames[:4] {
			if r.SignerIndex(m) < 0 {
				restart = m
			}
		}
		t.Logf("restarting %s in request %d's batch from message %d of %d (signers %v)", restart, r.ID, r.Done, r.RRsets, r.Signers)
		return nil
	})
	if restart != "" {
		f.StopMember(restart)
		if err := f.StartMember(restart, ""); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Log("the root was signed before a node could be restarted in the middle")
	}
	var first uint32
	eventually(t, "every node serves a signed zone", 120*time.Second, func() error {
		var serials []uint32
		for _, m := range MemberNames[:4] {
			s, err := signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey())
			if err != nil {
				return fmt.Errorf("%s: %v", m, err)
			}
			serials = append(serials, s)
		}
		for _, s := range serials[1:] {
			if s != serials[0] {
				return fmt.Errorf("serials %v", serials)
			}
		}
		first = serials[0]
		return nil
	})
	var v registry.SignedVersion
	f.Nodes["alpha"].App().View(func(s *registry.State) { v, _ = s.Signed() })
	t.Logf("first signed version: serial %d, %d signatures by %v, served by all four %s after every node had the key", v.Serial, v.Signatures, v.Signers, time.Since(keyAt).Round(100*time.Millisecond))
	if v.Serial != first || v.Signatures < 1000 || len(v.Signers) != 3 {
		t.Errorf("signed version %+v", v)
	}
	// The first request went through batches: sessions of its rrsets
	// round that begin past its first message.
	if _, later := rrsetsSessions(requestEvents(t, f, v.Request)); later < 2 {
		t.Errorf("request %d (%d signatures, batches of %d) had %d sessions past its first batch, want at least 2", v.Request, v.Signatures, sp.Batch, later)
	}

	// A validating unbound with the federation's trust anchor (as `zone
	// ds` prints it from /v1/keys) and only alpha as its root.
	var keys api.KeysAnswer
	if err := client.New(f.HTTP("bravo")).GetJSON("/v1/keys", &keys); err != nil {
		t.Fatal(err)
	}
	port := testtool.Unbound(t, f.Nodes["alpha"].DNSAddr(), keys.ZoneKey.TrustAnchor)
	// (org.'s DS: com.'s must not be in unbound's cache before it changes.)
	if r := testtool.Kdig(t, port, "org.", "DS"); r.Status != "NOERROR" || !r.AD || !strings.Contains(r.Answer, "\tDS\t") {
		t.Errorf("unbound: org. DS is not validated (status %s, AD %v):\n%s", r.Status, r.AD, r.Answer)
	}
	if r := testtool.Kdig(t, port, "no-such-tld.", "A"); r.Status != "NXDOMAIN" || !r.AD {
		t.Errorf("unbound: no-such-tld. is not a validated NXDOMAIN (status %s, AD %v):\n%s", r.Status, r.AD, r.Answer)
	}

	// A change through governance is signed and served; unbound
	// validates it (com. without DS: a validated insecure delegation).
	op, err := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	if err != nil {
		t.Fatal(err)
	}
	// change submits a new com. NS set through node via and returns the
	// serial of the zone version it made.
	change := func(via string, ns []string) uint32 {
		t.Helper()
		cl := client.New(f.HTTP(via))
		msg, err := cl.Build(op.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: ns}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Submit(msg); err != nil {
			t.Fatal(err)
		}
		var serial uint32
		f.Nodes[via].App().View(func(s *registry.State) { serial = s.Serial() })
		return serial
	}
	servedNS := func(m string, want []string) error {
		r := query(t, f.Nodes[m].DNSAddr(), "com.", dns.TypeNS)
		if got := nsOf(r); got != strings.Join(want, " ") {
			return fmt.Errorf("%s serves com. NS %q", m, got)
		}
		return nil
	}
	ns1 := []string{"a.gtld-servers.net.", "b.gtld-servers.net.", "c.gtld-servers.net."}
	serial := change("alpha", ns1)
	start := time.Now()
	eventually(t, "the change is served signed", 60*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			s, err := signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey())
			if err != nil || s < serial {
				return fmt.Errorf("%s: serial %d (want %d): %v", m, s, serial, err)
			}
			if err := servedNS(m, ns1); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("change to signed and served on all four: %s", time.Since(start))
	if r := testtool.Kdig(t, port, "com.", "DS"); r.Status != "NOERROR" || !r.AD || strings.Contains(r.Answer, "\tDS\t") {
		t.Errorf("unbound: com. without DS is not a validated NODATA (status %s, AD %v):\n%s", r.Status, r.AD, r.Answer)
	}

	// One member down (t=3 of 4): changes are still signed; the silent
	// signer, if chosen, is replaced after the signing timeout.
	f.StopMember("delta")
	ns2 := ns1[:2]
	serial = change("bravo", ns2)
	eventually(t, "a change is signed with delta down", 120*time.Second, func() error {
		for _, m := range MemberNames[:3] {
			s, err := signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey())
			if err != nil || s < serial {
				return fmt.Errorf("%s: serial %d (want %d): %v", m, s, serial, err)
			}
		}
		return servedNS("alpha", ns2)
	})

	// Fewer than t signers (delta down, charlie's node not signing):
	// consensus goes on and decides a change, but no node serves it, nor
	// anything unsigned: they serve the last signed version.
	f.Nodes["charlie"].SetSigningPaused(true)
	old, err := signedSOA(t, f.Nodes["alpha"].DNSAddr(), zk.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ns3 := []string{"a.gtld-servers.net.", "d.gtld-servers.net."}
	serial = change("alpha", ns3)
	if serial <= old {
		t.Fatalf("the change made serial %d, not after the served %d", serial, old)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range MemberNames[:3] {
			s, err := signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey())
			if err != nil || s != old {
				t.Fatalf("%s serves serial %d (%v) with fewer than t signers; want the signed %d", m, s, err, old)
			}
			if err := servedNS(m, ns2); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Back to three signers: the change is signed and served.
	f.Nodes["charlie"].SetSigningPaused(false)
	eventually(t, "the waiting change is signed once charlie signs again", 150*time.Second, func() error {
		for _, m := range MemberNames[:3] {
			s, err := signedSOA(t, f.Nodes[m].DNSAddr(), zk.PublicKey())
			if err != nil || s < serial {
				return fmt.Errorf("%s: serial %d (want %d): %v", m, s, serial, err)
			}
		}
		return servedNS("alpha", ns3)
	})
	if err := f.StartMember("delta", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delta catches up and serves the signed zone", 60*time.Second, func() error {
		s, err := signedSOA(t, f.Nodes["delta"].DNSAddr(), zk.PublicKey())
		if err != nil || s < serial {
			return fmt.Errorf("delta: serial %d (want %d): %v", s, serial, err)
		}
		return nil
	})
	sameAppHash(t, f)
}
