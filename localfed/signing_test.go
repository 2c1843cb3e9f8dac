package localfed

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// generateKey votes a key.generate (t=3) through and waits until every
// node has the zone key.
func generateKey(t *testing.T, f *Federation, dir string) registry.ZoneKey {
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
func signedSOA(t *testing.T, addr string, key ed25519.PublicKey) (uint32, error) {
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
	f, dir := startDev(t, 4)
	zk := generateKey(t, f, dir)
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
	t.Logf("first signed version: serial %d, %d signatures by %v", v.Serial, v.Signatures, v.Signers)
	if v.Serial != first || v.Signatures < 1000 || len(v.Signers) != 3 {
		t.Errorf("signed version %+v", v)
	}
	sameAppHash(t, f)
}
