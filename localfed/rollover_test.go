package localfed

import (
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/node"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
)

// servedKeys asks addr for the apex DNSKEY RRset with DO: the public keys
// (base64) and the key tags of the RRSIGs over it.
func servedKeys(addr string) (keys []string, sigTags []uint16, err error) {
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeDNSKEY)
	m.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		return nil, nil, err
	}
	for _, rr := range r.Answer {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			keys = append(keys, x.PublicKey)
		case *dns.RRSIG:
			sigTags = append(sigTags, x.KeyTag)
		}
	}
	slices.Sort(keys)
	return keys, sigTags, nil
}

// allServe waits until every node serves a DNSKEY RRset of exactly keys,
// signed only by the key whose tag is signer, with the SOA signed by
// signerKey.
func allServe(t *testing.T, f *Federation, what string, timeout time.Duration, keys []string, signer registry.ZoneKey) {
	t.Helper()
	want := slices.Sorted(slices.Values(keys))
	tag := keyTag(signer)
	eventually(t, what, timeout, func() error {
		for _, m := range MemberNames[:4] {
			got, tags, err := servedKeys(f.Nodes[m].DNSAddr())
			if err != nil {
				return fmt.Errorf("%s: %v", m, err)
			}
			if !slices.Equal(got, want) || !slices.Equal(tags, []uint16{tag}) {
				return fmt.Errorf("%s serves DNSKEYs %v signed by key tags %v", m, got, tags)
			}
			if _, err := signedSOA(t, f.Nodes[m].DNSAddr(), signer.PublicKey()); err != nil {
				return fmt.Errorf("%s: %v", m, err)
			}
		}
		return nil
	})
}

func keyTag(zk registry.ZoneKey) uint16 {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET}, Flags: 257, Protocol: 3, Algorithm: dns.ED25519,
		PublicKey: base64.StdEncoding.EncodeToString(zk.PublicKey())}
	return k.KeyTag()
}

// TestKeyRollover: a key.roll vote rolls the zone over to a new threshold
// key through consensus, with no one acting after the vote (RFC 7583 CSK
// roll, with the constitution's publication and retire intervals shortened
// to seconds, long enough for the checks of each phase): the new DNSKEY is published while the old key signs, then
// the new key signs everything with the old DNSKEY still published, then
// the old one is retired. A validating unbound anchored at the old key
// validates until the switch, one anchored at the new key from the switch
// on; every node serves a whole signed version at every moment; the steps
// are in the log; the nodes destroy their shares of the retired key.
func TestKeyRollover(t *testing.T) {
	t.Parallel() // beside TestSignaturesExpire, which mostly waits
	sp := constitution.DefaultSigning
	sp.RolloverPublish, sp.RolloverRetire = constitution.Duration(20*time.Second), constitution.Duration(15*time.Second)
	f, dir := startDevSigning(t, 4, &sp)
	old := generateKey(t, f, dir)
	allServe(t, f, "every node serves the zone signed by the first key", 120*time.Second, []string{old.GroupKey}, old)
	anchor := func(zk registry.ZoneKey) string {
		var keys api.KeysAnswer
		if err := client.New(f.HTTP("bravo")).GetJSON("/v1/keys", &keys); err != nil {
			t.Fatal(err)
		}
		switch {
		case keys.ZoneKey != nil && keys.ZoneKey.GroupKey == zk.GroupKey:
			return keys.ZoneKey.TrustAnchor
		case keys.Rollover != nil && keys.Rollover.New != nil && keys.Rollover.New.GroupKey == zk.GroupKey:
			return keys.Rollover.New.TrustAnchor
		case keys.Rollover != nil && keys.Rollover.Old.GroupKey == zk.GroupKey:
			return keys.Rollover.Old.TrustAnchor
		}
		t.Fatalf("/v1/keys shows no key %s: %+v", zk.GroupKey, keys)
		return ""
	}
	// validates reports whether a fresh validating unbound anchored at zk
	// gives AD for org.'s DS (a fresh one each time: nothing cached).
	validates := func(zk registry.ZoneKey) (bool, string) {
		port := testtool.Unbound(t, f.Nodes["alpha"].DNSAddr(), anchor(zk))
		r := testtool.Kdig(t, port, "org.", "DS")
		return r.Status == "NOERROR" && r.AD, r.Status
	}
	if ok, status := validates(old); !ok {
		t.Fatalf("unbound anchored at the first key: %s without AD", status)
	}

	// The vote; no one acts after it.
	o := submitAs(t, f, dir, "alpha", "alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyRoll, Rationale: "yearly key rollover", Threshold: 3})
	allAt(t, f, o.Height)
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		submitAs(t, f, dir, m, m, action.KindVote, &action.Vote{Proposal: o.Proposal, Vote: action.Yes})
	}
	var next registry.ZoneKey
	eventually(t, "the new key is made", 120*time.Second, func() error {
		var r registry.Rollover
		var ok bool
		f.Nodes["alpha"].App().View(func(s *registry.State) { r, ok = s.Rollover() })
		if !ok || r.New == nil {
			return fmt.Errorf("rollover %+v", r)
		}
		next = *r.New
		return nil
	})
	if next.GroupKey == old.GroupKey || next.Ceremony != o.Proposal {
		t.Fatalf("new key %+v", next)
	}

	// Published: both DNSKEYs, the old key signs; the new anchor does not
	// validate yet, the old one does.
	allServe(t, f, "every node publishes the new key, signed by the old", 90*time.Second, []string{old.GroupKey, next.GroupKey}, old)
	if ok, status := validates(old); !ok {
		t.Errorf("pre-published: unbound anchored at the old key: %s without AD", status)
	}
	if ok, _ := validates(next); ok {
		t.Error("pre-published: unbound anchored at the new key validates before the new key signs")
	}

	// Switched: the new key signs, the old DNSKEY is still published.
	allServe(t, f, "every node serves the zone signed by the new key", 120*time.Second, []string{old.GroupKey, next.GroupKey}, next)
	if ok, status := validates(next); !ok {
		t.Errorf("switched: unbound anchored at the new key: %s without AD", status)
	}
	if ok, _ := validates(old); ok {
		t.Error("switched: unbound anchored at the old key still validates")
	}

	// Retired: only the new DNSKEY.
	allServe(t, f, "every node retires the old key", 90*time.Second, []string{next.GroupKey}, next)
	if ok, status := validates(next); !ok {
		t.Errorf("retired: unbound anchored at the new key: %s without AD", status)
	}
	eventually(t, "the rollover is over on every node", 30*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			var under bool
			var zk registry.ZoneKey
			f.Nodes[m].App().View(func(s *registry.State) { _, under = s.Rollover(); zk, _ = s.ZoneKey() })
			if under || zk.GroupKey != next.GroupKey {
				return fmt.Errorf("%s: rollover under way %v, zone key of ceremony %d", m, under, zk.Ceremony)
			}
		}
		return nil
	})

	// The log tells the story, in order.
	var events []string
	lg := f.Nodes["delta"].App().Log()
	for i := range lg.Size() {
		e, err := lg.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := registry.DecodeEvent(e); err == nil && strings.HasPrefix(ev.Event, "key.") {
			events = append(events, fmt.Sprintf("%s/%d", ev.Event, ev.Ceremony))
		}
	}
	want := []string{"key.generated/" + fmt.Sprint(old.Ceremony), "key.generated/" + fmt.Sprint(next.Ceremony), "key.published/" + fmt.Sprint(next.Ceremony),
		"key.switched/" + fmt.Sprint(next.Ceremony), "key.active/" + fmt.Sprint(next.Ceremony), "key.retired/" + fmt.Sprint(old.Ceremony)}
	if !slices.Equal(events, want) {
		t.Errorf("key events in the log %v, want %v", events, want)
	}

	// Every node destroyed its share of the retired key and keeps the new.
	eventually(t, "the old shares are destroyed", 30*time.Second, func() error {
		for _, m := range MemberNames[:4] {
			home := setup.NodeHome(dir, m)
			if _, err := os.Stat(node.ZoneSharePath(home, old.Ceremony)); !os.IsNotExist(err) {
				return fmt.Errorf("%s still has its share of the retired key (%v)", m, err)
			}
			if _, err := os.Stat(node.ZoneSharePath(home, next.Ceremony)); err != nil {
				return fmt.Errorf("%s: its share of the new key: %v", m, err)
			}
		}
		return nil
	})
	sameAppHash(t, f)
}
