package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// compactZones are the zones the compact form is checked on: the real
// root zone with and without its DNSSEC records, and a signed zone with
// empty non-terminals, a wildcard, in-domain glue and a big RRset.
func compactZones(t *testing.T) map[string]*testZone {
	signed, _ := signZone(t, newTestZone(t, "example.", exampleZone+inDomainGlue()+bigTXT()))
	return map[string]*testZone{
		"root":           rootZone(t, false),
		"root unsigned":  rootZone(t, true),
		"example signed": signed,
	}
}

// TestCompactRoundTrip: the arena gives back every record of the zone in
// its order, each node's RRsets hold exactly the zone's records of that
// owner and type in zone order followed by the RRSIGs covering them, and
// every owner is found whatever its case.
func TestCompactRoundTrip(t *testing.T) {
	for name, z := range compactZones(t) {
		t.Run(name, func(t *testing.T) {
			v, err := newVersion(z, nil, 16)
			if err != nil {
				t.Fatal(err)
			}
			var got []dns.RR
			for off := uint32(0); off < v.zoneEnd; off = v.recEnd(off) {
				got = append(got, v.rr(off))
			}
			if gs, ws := rrStrings(got), z.strings(); !slices.Equal(gs, ws) {
				t.Fatalf("arena holds %d records, zone %d; %s", len(gs), len(ws), firstDiff(gs, ws))
			}
			if v.nrecords != len(z.rrs) {
				t.Errorf("nrecords = %d, want %d", v.nrecords, len(z.rrs))
			}

			type setKey struct {
				owner string
				typ   uint16
			}
			want := map[setKey][]dns.RR{}
			sigs := map[setKey][]dns.RR{}
			for _, rr := range z.rrs {
				k := setKey{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
				want[k] = append(want[k], rr)
				if sig, ok := rr.(*dns.RRSIG); ok {
					c := setKey{k.owner, sig.TypeCovered}
					sigs[c] = append(sigs[c], rr)
				}
			}
			seen := 0
			r := rand.New(rand.NewPCG(3, 4))
			for k := range v.nodes {
				k := uint32(k)
				owner := lowerName(v.name(k))
				if got, ok := v.find(lowerName(randomCase(r, owner))); !ok || got != k {
					t.Errorf("find(%q) = %d, %v; want node %d", owner, got, ok, k)
				}
				n := &v.nodes[k]
				for i := n.sets; i < n.sets+uint32(n.nsets); i++ {
					s := &v.sets[i]
					sk := setKey{owner, s.typ}
					wantAll := want[sk]
					if s.typ != dns.TypeRRSIG {
						wantAll = slices.Concat(wantAll, sigs[sk])
					}
					gotAll := v.appendRRs(nil, v.withSigs(s))
					if gs, ws := rrStrings(gotAll), rrStrings(wantAll); !slices.Equal(gs, ws) {
						t.Errorf("%s %s: set holds\n%q\nwant\n%q", owner, dns.TypeToString[s.typ], gs, ws)
					}
					if int(s.n) != len(want[sk]) {
						t.Errorf("%s %s: %d records, want %d", owner, dns.TypeToString[s.typ], s.n, len(want[sk]))
					}
					seen++
				}
			}
			if seen != len(want) {
				t.Errorf("%d RRsets in the index, %d in the zone", seen, len(want))
			}
			if _, ok := v.find("no-such-name.invalid."); ok {
				t.Errorf("found a name that is not in the zone")
			}
		})
	}
}

// TestNegativeSOA: negative answers carry the SOA and its RRSIGs with the
// TTL capped at MINIMUM.
func TestNegativeSOA(t *testing.T) {
	z, _ := signZone(t, newTestZone(t, "example.", exampleZone))
	v, err := newVersion(z, nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	soa := z.rrs[0].(*dns.SOA)
	ttl := min(soa.Hdr.Ttl, soa.Minttl)
	rrs := v.appendRRs(nil, v.negSOADO)
	if len(rrs) < 2 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[1].Header().Rrtype != dns.TypeRRSIG {
		t.Fatalf("negSOADO = %v, want the SOA and its RRSIGs", rrs)
	}
	for _, rr := range rrs {
		if rr.Header().Ttl != ttl {
			t.Errorf("%v: TTL %d, want %d", rr, rr.Header().Ttl, ttl)
		}
	}
	if got := rrStrings(v.appendRRs(nil, v.negSOA[:1])); len(got) != 1 || got[0] != rrStrings(rrs[:1])[0] {
		t.Errorf("negSOA = %v, want %v", got, rrs[:1])
	}
}

// unpackAll decodes records in uncompressed wire form, one after the other.
func unpackAll(t *testing.T, b []byte) []dns.RR {
	t.Helper()
	var out []dns.RR
	for off := 0; off < len(b); {
		rr, next, err := dns.UnpackRR(b, off)
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		out = append(out, rr)
		off = next
	}
	return out
}

// TestDiffWire: the IXFR step computed from two versions' arenas is what
// comparing the zones' records as text gives (wantIXFR), for each kind of
// change, duplicates and TTL changes included.
func TestDiffWire(t *testing.T) {
	base := newTestZone(t, "example.", exampleZone)
	dup := &testZone{origin: "example.", rrs: append(slices.Clone(base.rrs), base.rrs[len(base.rrs)-1])}
	cases := []struct {
		name string
		next func(s uint32) *testZone
	}{
		{"nothing changed but the serial", func(s uint32) *testZone { return base.with(t, s, "") }},
		{"record added", func(s uint32) *testZone { return base.with(t, s, "new.example. 3600 A 192.0.2.99\n") }},
		{"delegation removed", func(s uint32) *testZone { return base.with(t, s, "", "a.example.\t") }},
		{"TTL changed", func(s uint32) *testZone {
			return base.with(t, s, "a.example. 7200 NS ns1.a.example.\n", "a.example.\t3600\tIN\tNS\tns1.a.example.")
		}},
		{"duplicate record kept", func(s uint32) *testZone {
			n := dup.with(t, s, "")
			return n
		}},
		{"signed", func(s uint32) *testZone { z, _ := signZone(t, base.with(t, s, "")); return z }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prev := base
			if c.name == "duplicate record kept" {
				prev = dup
			}
			next := c.next(base.Serial() + uint32(i) + 1)
			pv, err := newVersion(prev, nil, 16)
			if err != nil {
				t.Fatal(err)
			}
			nv, err := newVersion(next, pv, 16)
			if err != nil {
				t.Fatal(err)
			}
			if len(nv.history) != 1 {
				t.Fatalf("history of %d diffs, want 1", len(nv.history))
			}
			d := nv.history[0]
			if d.fromSerial != prev.Serial() {
				t.Errorf("fromSerial = %d, want %d", d.fromSerial, prev.Serial())
			}
			var got []dns.RR
			got = append(got, nv.soa)
			for _, part := range [][]byte{d.from, d.del, d.to, d.add} {
				got = append(got, unpackAll(t, part)...)
			}
			got = append(got, nv.soa)
			if gs, ws := rrStrings(got), wantIXFR(prev, next); !slices.Equal(gs, ws) {
				t.Errorf("diff gives %d records, want %d; %s", len(gs), len(ws), firstDiff(gs, ws))
			}
		})
	}
}

// TestHistoryBounded: a version keeps the diffs of at most IXFRHistory
// steps, the newest.
func TestHistoryBounded(t *testing.T) {
	z := newTestZone(t, "example.", exampleZone)
	var v *version
	for i := range 5 {
		next, err := newVersion(z.with(t, z.Serial()+uint32(i), fmt.Sprintf("n%d.example. 3600 A 192.0.2.%d\n", i, i)), v, 3)
		if err != nil {
			t.Fatal(err)
		}
		v = next
	}
	if len(v.history) != 3 {
		t.Fatalf("%d diffs kept, want 3", len(v.history))
	}
	for i, d := range v.history {
		if want := z.Serial() + uint32(i+1); d.fromSerial != want {
			t.Errorf("diff %d from serial %d, want %d", i, d.fromSerial, want)
		}
	}
}
