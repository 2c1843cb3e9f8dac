package dnssec

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/dnsname"
	"github.com/commonroot/commonroot/zone"
)

// randomChanges changes about n delegations of z at random: removals (with
// or without their glue, which then becomes authoritative data), new NS,
// new or dropped DS, and new delegations with and without DS.
func randomChanges(t testing.TB, rng *rand.Rand, z *zone.Zone, n int) *zone.Zone {
	t.Helper()
	if rng == nil {
		rng = rand.New(rand.NewPCG(uint64(z.Serial()), 2))
	}
	dels := z.Delegations()
	hosts := z.Hosts()
	picked := map[string]bool{}
	var set []zone.Delegation
	var remove, removeHosts []string
	var setHosts []zone.Host
	for range n {
		d := dels[rng.IntN(len(dels))]
		if picked[d.Name] {
			continue
		}
		picked[d.Name] = true
		switch rng.IntN(4) {
		case 0:
			remove = append(remove, d.Name)
			if rng.IntN(2) == 0 {
				for _, h := range hosts {
					if dnsname.IsBelow(h.Name, d.Name) {
						removeHosts = append(removeHosts, h.Name)
					}
				}
			}
		case 1:
			d.NS = append(d.NS[:1:1], "ns9.example.net.")
			set = append(set, d)
		case 2:
			sum := sha256.Sum256([]byte(d.Name + fmt.Sprint(rng.Int())))
			d.DS = append(d.DS[:0:0], zone.DS{KeyTag: uint16(rng.IntN(65536)), Algorithm: 13, DigestType: 2, Digest: strings.ToUpper(fmt.Sprintf("%x", sum))})
			set = append(set, d)
		case 3:
			d.DS = nil
			set = append(set, d)
		}
	}
	for i := range n / 2 {
		name := fmt.Sprintf("new%d-%d.", z.Serial(), i)
		d := zone.Delegation{Name: name, NS: []string{"ns1." + name, "ns.example.org."}}
		if i%2 == 0 {
			sum := sha256.Sum256([]byte(name))
			d.DS = []zone.DS{{KeyTag: uint16(i), Algorithm: 15, DigestType: 2, Digest: strings.ToUpper(fmt.Sprintf("%x", sum))}}
		}
		set = append(set, d)
		setHosts = append(setHosts, zone.Host{Name: "ns1." + name, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})}})
	}
	nz, err := z.Update(z.Serial()+1, set, remove, setHosts, removeHosts)
	if err != nil {
		t.Fatal(err)
	}
	return nz
}

// TestPlanUpdateEqualsFull applies rounds of random delegation changes to
// the root and checks that signing each version incrementally gives the
// same zone, byte for byte, as signing it from scratch (Ed25519 is
// deterministic), that only a few RRsets are signed again, and that
// ldns-verify-zone accepts the last version.
func TestPlanUpdateEqualsFull(t *testing.T) {
	k, s := testKey("root")
	z := rootZone(t)
	prev := signWith(t, z, k, s, testPolicy)
	rng := rand.New(rand.NewPCG(4, 1))
	for round := range 5 {
		z = randomChanges(t, rng, z, 12)
		pl, err := PlanUpdate(prev, z, k, testPolicy)
		if err != nil {
			t.Fatal(err)
		}
		full, err := NewPlan(z, k, testPolicy)
		if err != nil {
			t.Fatal(err)
		}
		// With one policy, an RRset is signed again exactly when its
		// signing input is not one of the previous version's.
		old := map[string]bool{}
		for _, in := range prev.ins {
			old[string(in)] = true
		}
		var want []string
		for _, in := range full.ins {
			if !old[string(in)] {
				want = append(want, pl.describe(in))
			}
		}
		var got []string
		for _, in := range pl.Inputs() {
			got = append(got, pl.describe(in))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: incremental plan signs\n%q\nwant\n%q", round, got, want)
		}
		if len(got) < 2 || len(got) > full.Len()/10 {
			t.Errorf("round %d: %d RRsets to sign of %d", round, len(got), full.Len())
		}
		if pl.Len() != full.Len() {
			t.Errorf("round %d: incremental plan has %d RRsets, full %d", round, pl.Len(), full.Len())
		}
		inc, err := pl.Sign(s)
		if err != nil {
			t.Fatal(err)
		}
		fullSigned, err := full.Sign(s)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := zoneText(t, inc), zoneText(t, fullSigned); !bytes.Equal(a, b) {
			t.Fatalf("round %d: incremental and full signing differ:\n%s", round, firstDiff(a, b))
		}
		prev = inc
	}
	if out, err := ldnsVerify(t, zoneText(t, prev), k, "."); err != nil {
		t.Fatalf("ldns-verify-zone rejects the incrementally signed root: %v\n%s", err, out)
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}

// TestPlanUpdateRefresh checks the refresh rule: a signature is kept while
// it expires Refresh or more after the new inception, and replaced after;
// a new key replaces every signature.
func TestPlanUpdateRefresh(t *testing.T) {
	k, s := testKey("root")
	z := rootZone(t)
	prev := signWith(t, z, k, s, testPolicy)
	day := 24 * time.Hour
	shift := func(d time.Duration) Policy {
		p := testPolicy
		p.Inception, p.Expiration = p.Inception.Add(d), p.Expiration.Add(d)
		return p
	}
	k2, _ := testKey("other")
	tests := []struct {
		name       string
		key        Key
		pol        Policy
		wantReused int // -1: all but the SOA
	}{
		{"same window", k, testPolicy, -1},
		{"a day later", k, shift(day), -1},
		{"ten days later: 4 left, refresh 3", k, shift(10 * day), -1},
		{"eleven days later: 3 left", k, shift(11 * day), 0},
		{"twelve days later", k, shift(12 * day), 0},
		{"other key", k2, testPolicy, 0},
	}
	nz, err := z.Update(z.Serial()+1, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := PlanUpdate(prev, nz, tt.key, tt.pol)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.wantReused
			if want < 0 {
				want = pl.Len() - 1
			}
			if got := pl.Reused(); got != want {
				t.Errorf("Reused() = %d of %d, want %d", got, pl.Len(), want)
			}
		})
	}
	// Kept signatures keep their window and still validate.
	pl, err := PlanUpdate(prev, nz, k, shift(day))
	if err != nil {
		t.Fatal(err)
	}
	sz, err := pl.Sign(s)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := ldnsVerify(t, zoneText(t, sz), k, "."); err != nil {
		t.Fatalf("ldns-verify-zone rejects a zone with kept signatures: %v\n%s", err, out)
	}
	if got, want := sz.Expires(testPolicy.Inception), testPolicy.Expiration; !got.Equal(want) {
		t.Errorf("Expires = %s, want %s (the kept signatures')", got, want)
	}
}

// TestRetime: a plan retimed after it was made signs the RRsets it planned
// with the new validity period, keeps the taken-over signatures' own, and
// the result verifies; a retime to an earlier inception or a bad window is
// refused and changes nothing.
func TestRetime(t *testing.T) {
	k, s := testKey("root")
	z := rootZone(t)
	prev := signWith(t, z, k, s, testPolicy)
	z = randomChanges(t, rand.New(rand.NewPCG(6, 1)), z, 12)
	pl, err := PlanUpdate(prev, z, k, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	planned := pl.Inputs()
	before := make([][]byte, len(planned))
	for i, in := range planned {
		before[i] = bytes.Clone(in)
	}
	for _, bad := range []Policy{
		{Inception: testPolicy.Inception.Add(-time.Second), Expiration: testPolicy.Expiration},
		{Inception: testPolicy.Inception.Add(time.Hour), Expiration: testPolicy.Inception},
	} {
		if err := pl.Retime(bad); err == nil {
			t.Errorf("Retime(%s – %s) accepted", bad.Inception, bad.Expiration)
		}
		for i, in := range pl.Inputs() {
			if !bytes.Equal(in, before[i]) {
				t.Fatalf("a refused Retime changed input %d (%s)", i, pl.describe(in))
			}
		}
	}
	later := Policy{Inception: testPolicy.Inception.Add(90 * time.Minute), Expiration: testPolicy.Expiration.Add(90 * time.Minute)}
	if err := pl.Retime(later); err != nil {
		t.Fatal(err)
	}
	if len(pl.Inputs()) != len(planned) {
		t.Fatalf("retimed plan signs %d RRsets, planned %d", len(pl.Inputs()), len(planned))
	}
	signed, err := pl.Sign(s)
	if err != nil {
		t.Fatal(err)
	}
	resigned := map[string]bool{}
	for _, in := range planned {
		resigned[pl.describe(in)] = true
	}
	var newWindow, oldWindow int
	for rr := range signed.All {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		what := fmt.Sprintf("%s %s", sig.Hdr.Name, dns.TypeToString[sig.TypeCovered])
		want := testPolicy
		if resigned[what] || sig.TypeCovered == dns.TypeZONEMD {
			want, newWindow = later, newWindow+1
		} else {
			oldWindow++
		}
		if int64(sig.Inception) != want.Inception.Unix() || int64(sig.Expiration) != want.Expiration.Unix() {
			t.Fatalf("RRSIG over %s valid %d – %d, want %s – %s", what, sig.Inception, sig.Expiration, want.Inception, want.Expiration)
		}
	}
	if newWindow != len(planned)+1 || oldWindow == 0 {
		t.Errorf("%d signatures with the new window (want %d), %d with the old", newWindow, len(planned)+1, oldWindow)
	}
	if out, err := ldnsVerify(t, zoneText(t, signed), k, "."); err != nil {
		t.Fatalf("ldns-verify-zone rejects the retimed version: %v\n%s", err, out)
	}
}
