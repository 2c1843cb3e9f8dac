package dnssec

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/zone"
	"github.com/miekg/dns"
)

// smallZone is corp. with a signed delegation, an unsigned one, glue below
// them, an apex NS host in the zone (authoritative addresses) and a host
// below an empty non-terminal.
func smallZone(t testing.TB, serial uint32) *zone.Zone {
	t.Helper()
	p := zone.Params{
		Origin: "corp.",
		SOA:    zone.SOA{MName: "ns1.corp.", RName: "hostmaster.corp.", Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 300},
		NS:     []string{"ns1.corp.", "ns.example.net."},
		TTLs:   zone.TTLs{SOA: 3600, ApexNS: 3600, NS: 3600, DS: 3600, Glue: 3600},
	}
	dels := []zone.Delegation{
		{Name: "signed.corp.", NS: []string{"ns.signed.corp."}, DS: []zone.DS{{KeyTag: 1, Algorithm: 15, DigestType: 2, Digest: strings.Repeat("AB", 32)}}},
		{Name: "plain.corp.", NS: []string{"ns.plain.corp.", "ns.example.net."}},
	}
	hosts := []zone.Host{
		{Name: "ns1.corp.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}},
		{Name: "ns.signed.corp.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.2")}},
		{Name: "ns.plain.corp.", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::3")}},
		{Name: "x.ent.corp.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.4")}},
	}
	z, err := zone.Build(p, serial, dels, hosts)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestSmallZone checks which RRsets are signed and the NSEC chain of a zone
// with every kind of name, and has ldns-verify-zone and named-checkzone
// judge it.
func TestSmallZone(t *testing.T) {
	k, s := testKey("corp")
	sz := signWith(t, smallZone(t, 7), k, s, testPolicy)
	var nsec, covered []string
	for _, rr := range sz.Records() {
		switch x := rr.(type) {
		case *dns.NSEC:
			var types []string
			for _, t := range x.TypeBitMap {
				types = append(types, dns.TypeToString[t])
			}
			nsec = append(nsec, x.Hdr.Name+" "+x.NextDomain+" "+strings.Join(types, " "))
		case *dns.RRSIG:
			covered = append(covered, x.Hdr.Name+" "+dns.TypeToString[x.TypeCovered])
		}
	}
	// Canonical order: x.ent.corp. (label "ent") before ns1.corp.; glue
	// below delegations and the empty non-terminal ent.corp. have no NSEC.
	wantNSEC := []string{
		"corp. x.ent.corp. NS SOA RRSIG NSEC DNSKEY ZONEMD",
		"x.ent.corp. ns1.corp. A RRSIG NSEC",
		"ns1.corp. plain.corp. A AAAA RRSIG NSEC",
		"plain.corp. signed.corp. NS RRSIG NSEC",
		"signed.corp. corp. NS DS RRSIG NSEC",
	}
	wantCovered := []string{
		"corp. NS", "corp. SOA", "corp. NSEC", "corp. DNSKEY", "corp. ZONEMD",
		"x.ent.corp. A", "x.ent.corp. NSEC",
		"ns1.corp. A", "ns1.corp. AAAA", "ns1.corp. NSEC",
		"plain.corp. NSEC",
		"signed.corp. DS", "signed.corp. NSEC",
	}
	if !slices.Equal(nsec, wantNSEC) {
		t.Errorf("NSEC chain\n%q\nwant\n%q", nsec, wantNSEC)
	}
	if !slices.Equal(covered, wantCovered) {
		t.Errorf("RRSIGs cover\n%q\nwant\n%q", covered, wantCovered)
	}
	if err := zone.VerifyDigest(sz.Records()); err != nil {
		t.Error(err)
	}
	text := zoneText(t, sz)
	if out, err := ldnsVerify(t, text, k, "corp."); err != nil {
		t.Errorf("ldns-verify-zone: %v\n%s\n%s", err, out, text)
	}
	f := filepath.Join(t.TempDir(), "corp.zone")
	if err := os.WriteFile(f, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(testtool.Path(t, "named-checkzone"), "-i", "local", "-k", "fail", "corp.", f).CombinedOutput(); err != nil {
		t.Errorf("named-checkzone: %v\n%s", err, out)
	}
}

// TestPlanDeterministic: the same zone, whether built at once or reached by
// Update, key and policy give byte-identical inputs.
func TestPlanDeterministic(t *testing.T) {
	k, _ := testKey("root")
	imp := rootImport(t)
	a, err := zone.Build(imp.Params, 5, imp.Delegations, imp.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	half := len(imp.Delegations) / 2
	b, err := zone.Build(imp.Params, 4, imp.Delegations[:half], imp.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if b, err = b.Update(5, imp.Delegations[half:], nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	pa, err := NewPlan(a, k, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := NewPlan(b, k, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(pa.Inputs(), pb.Inputs(), bytes.Equal) {
		t.Fatal("plans of the same zone differ")
	}
	if n := len(pa.Inputs()); n != 4+len(imp.Delegations)+countDS(imp.Delegations) {
		t.Errorf("%d inputs, want apex 4 + one NSEC per delegation + one per DS RRset", n)
	}
}

func countDS(ds []zone.Delegation) int {
	n := 0
	for _, d := range ds {
		if len(d.DS) > 0 {
			n++
		}
	}
	return n
}

// TestAttachRefuses: Attach and Finish refuse any signature that does not
// verify, and a wrong number of them.
func TestAttachRefuses(t *testing.T) {
	k, s := testKey("corp")
	_, other := testKey("other")
	pl, err := NewPlan(smallZone(t, 1), k, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	in := pl.Inputs()
	good, _ := s.SignBatch(in)
	bad, _ := other.SignBatch(in)
	edit := func(f func(sigs [][]byte) [][]byte) [][]byte {
		c := make([][]byte, len(good))
		for i := range good {
			c[i] = bytes.Clone(good[i])
		}
		return f(c)
	}
	tests := []struct {
		name    string
		sigs    [][]byte
		wantBad bool // ErrBadSignature, else another error
	}{
		{"one missing", good[1:], false},
		{"one extra", append(slices.Clone(good), good[0]), false},
		{"another key", bad, true},
		{"flipped bit", edit(func(c [][]byte) [][]byte { c[3][10] ^= 1; return c }), true},
		{"swapped", edit(func(c [][]byte) [][]byte { c[1], c[2] = c[2], c[1]; return c }), true},
		{"short", edit(func(c [][]byte) [][]byte { c[0] = c[0][:63]; return c }), true},
		{"empty", edit(func(c [][]byte) [][]byte { c[len(c)-1] = nil; return c }), true},
		{"S not reduced", edit(func(c [][]byte) [][]byte { c[0][63] |= 0xf0; return c }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := pl.Attach(tt.sigs)
			if err == nil {
				t.Fatalf("Attach accepted the signatures (digest %x)", d.Digest())
			}
			if got := errors.Is(err, ErrBadSignature); got != tt.wantBad {
				t.Errorf("Attach error %q: ErrBadSignature %v, want %v", err, got, tt.wantBad)
			}
		})
	}
	d, err := pl.Attach(good)
	if err != nil {
		t.Fatal(err)
	}
	zsig := ed25519.Sign(other.Key, d.Input())
	if _, err := d.Finish(zsig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Finish with another key's ZONEMD signature: %v, want ErrBadSignature", err)
	}
	if _, err := d.Finish(ed25519.Sign(s.Key, d.Input())); err != nil {
		t.Errorf("Finish with a good signature: %v", err)
	}
}

// FuzzAttach replaces one signature of a plan by arbitrary bytes: Attach
// and Finish never panic, and accept only signatures that verify.
func FuzzAttach(f *testing.F) {
	k, s := testKey("corp")
	pl, err := NewPlan(smallZone(f, 1), k, testPolicy)
	if err != nil {
		f.Fatal(err)
	}
	in := pl.Inputs()
	good, _ := s.SignBatch(in)
	d, err := pl.Attach(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), good[0])
	f.Add(uint8(3), good[4])
	f.Add(uint8(255), ed25519.Sign(s.Key, d.Input()))
	f.Add(uint8(1), make([]byte, 64))
	f.Add(uint8(2), []byte{1})
	f.Fuzz(func(t *testing.T, i uint8, sig []byte) {
		if int(i) >= len(in) {
			_, err := d.Finish(sig)
			if valid := ed25519.Verify(k.Public, d.Input(), sig); (err == nil) != valid {
				t.Fatalf("Finish error %v for a signature whose validity is %v", err, valid)
			}
			return
		}
		sigs := slices.Clone(good)
		sigs[i] = sig
		_, err := pl.Attach(sigs)
		if valid := ed25519.Verify(k.Public, in[i], sig); (err == nil) != valid {
			t.Fatalf("Attach error %v for a signature whose validity is %v", err, valid)
		}
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Attach error %v does not wrap ErrBadSignature", err)
		}
	})
}
