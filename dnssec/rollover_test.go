package dnssec

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestRolloverKeySets signs the real root in the three states of a CSK
// rollover (RFC 7583 §3.3) and has ldns-verify-zone judge each with the
// old and the new key as trust anchor: the pre-published new key is in the
// DNSKEY RRset but validates nothing until it signs; after the switch the
// old key is still published but validates nothing; retired, it is gone.
// Updating a version across a change of the DNSKEY RRset re-signs that
// RRset and keeps the others' signatures while the signing key stays.
func TestRolloverKeySets(t *testing.T) {
	oldKey, oldSigner := testKey("old")
	newKey, newSigner := testKey("new")
	z := rootZone(t)
	pre := Key{Public: oldKey.Public, Others: []ed25519.PublicKey{newKey.Public}}
	switched := Key{Public: newKey.Public, Others: []ed25519.PublicKey{oldKey.Public}}
	tests := []struct {
		name    string
		key     Key
		signer  Signer
		anchors map[string]bool // trust anchor → validates
	}{
		{"old key alone", oldKey, oldSigner, map[string]bool{"old": true, "new": false}},
		{"new key pre-published", pre, oldSigner, map[string]bool{"old": true, "new": false}},
		{"switched, old key published", switched, newSigner, map[string]bool{"old": false, "new": true}},
		{"old key retired", newKey, newSigner, map[string]bool{"old": false, "new": true}},
	}
	for _, tt := range tests {
		sz := signWith(t, z, tt.key, tt.signer, testPolicy)
		var keys []string
		for _, rr := range sz.Records() {
			if k, ok := rr.(*dns.DNSKEY); ok {
				keys = append(keys, k.PublicKey)
			}
		}
		if want := 1 + len(tt.key.Others); len(keys) != want {
			t.Errorf("%s: %d DNSKEY records, want %d", tt.name, len(keys), want)
		}
		text := zoneText(t, sz)
		for name, anchor := range map[string]Key{"old": oldKey, "new": newKey} {
			out, err := ldnsVerify(t, text, anchor, ".")
			if got := err == nil; got != tt.anchors[name] {
				t.Errorf("%s: with the %s key as trust anchor, ldns-verify-zone passes = %v, want %v\n%s", tt.name, name, got, tt.anchors[name], lastLines(out, 3))
			}
		}
	}

	// Pre-publishing re-signs the DNSKEY RRset (and the SOA), not the rest.
	first := signWith(t, z, oldKey, oldSigner, testPolicy)
	p, err := PlanUpdate(first, z, pre, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	var signed []string
	for _, in := range p.Inputs() {
		signed = append(signed, p.describe(in))
	}
	if got, want := strings.Join(signed, ", "), ". DNSKEY"; got != want {
		t.Errorf("pre-publishing signs %q again, want %q", got, want)
	}
	// Switching signs everything again.
	if p, err = PlanUpdate(first, z, switched, testPolicy); err != nil || p.Reused() != 0 {
		t.Errorf("switching keys reuses %d signatures (%v), want none", p.Reused(), err)
	}

	// Restore needs the same DNSKEY RRset.
	sz := signWith(t, z, pre, oldSigner, testPolicy)
	if _, err := Restore(z, pre, sz.Export()); err != nil {
		t.Errorf("restoring with the same key set: %v", err)
	}
	if _, err := Restore(z, oldKey, sz.Export()); err == nil {
		t.Error("restoring a version with a pre-published key without it succeeds")
	}
	if !pre.Equal(Key{Public: bytes.Clone(oldKey.Public), Others: []ed25519.PublicKey{bytes.Clone(newKey.Public)}}) || pre.Equal(oldKey) || pre.Equal(switched) {
		t.Error("Key.Equal does not compare the signing key and the published ones")
	}
	for _, bad := range []Key{
		{Public: oldKey.Public, Others: []ed25519.PublicKey{oldKey.Public}},
		{Public: oldKey.Public, Others: []ed25519.PublicKey{newKey.Public, newKey.Public}},
		{Public: oldKey.Public, Others: []ed25519.PublicKey{newKey.Public[:31]}},
	} {
		if _, err := NewPlan(z, bad, testPolicy); err == nil {
			t.Errorf("a plan with DNSKEY set %v is accepted", bad.Others)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
