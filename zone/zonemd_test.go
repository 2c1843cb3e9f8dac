package zone

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// readZone parses a master file with miekg/dns, keeping every record.
func readZone(t testing.TB, path, origin string) []dns.RR {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, origin, path)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return rrs
}

// TestRFC8976Examples checks VerifyDigest and Digest384 against the digests
// published in RFC 8976 Appendix A.
func TestRFC8976Examples(t *testing.T) {
	tests := []struct {
		file string
		want string // the published SHA-384 digest
	}{
		{"rfc8976-a1-simple.zone", "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c"},
		{"rfc8976-a2-complex.zone", "a3b69bad980a3504e1cffcb0fd6397f93848071c93151f552ae2f6b1711d4bd2d8b39808226d7b9db71e34b72077f8fe"},
		{"rfc8976-a3-multiple.zone", "62e6cf51b02e54b9b5f967d547ce43136792901f9f88e637493daaf401c92c279dd10f0edb1c56f8080211f8480ee306"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rrs := readZone(t, "testdata/"+tt.file, "example.")
			if err := VerifyDigest(rrs); err != nil {
				t.Errorf("VerifyDigest: %v", err)
			}
			got, err := Digest384(rrs)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("Digest384 = %x, want %s", got, tt.want)
			}
			// Any change to a digested record must be caught.
			for i, rr := range rrs {
				if rr.Header().Rrtype == dns.TypeA {
					c := dns.Copy(rr).(*dns.A)
					c.A[3]++
					bad := append(append([]dns.RR{}, rrs[:i]...), c)
					bad = append(bad, rrs[i+1:]...)
					if err := VerifyDigest(bad); !errors.Is(err, ErrDigestMismatch) {
						t.Errorf("VerifyDigest after changing %v = %v, want a mismatch", rr, err)
					}
				}
			}
		})
	}
}

func TestVerifyDigestRefuses(t *testing.T) {
	base := readZone(t, "testdata/rfc8976-a1-simple.zone", "example.")
	drop := func(typ uint16) []dns.RR {
		var out []dns.RR
		for _, rr := range base {
			if rr.Header().Rrtype != typ {
				out = append(out, rr)
			}
		}
		return out
	}
	mod := func(f func(*dns.ZONEMD)) []dns.RR {
		var out []dns.RR
		for _, rr := range base {
			if md, ok := rr.(*dns.ZONEMD); ok {
				c := dns.Copy(md).(*dns.ZONEMD)
				f(c)
				rr = c
			}
			out = append(out, rr)
		}
		return out
	}
	otherSOA := dns.Copy(base[0]).(*dns.SOA)
	otherSOA.Serial++
	tests := []struct {
		name string
		rrs  []dns.RR
		want string
	}{
		{"no SOA", drop(dns.TypeSOA), "no SOA"},
		{"no ZONEMD", drop(dns.TypeZONEMD), "no ZONEMD"},
		{"two SOA", append(append([]dns.RR{}, base...), otherSOA), "two different SOA"},
		{"serial", mod(func(m *dns.ZONEMD) { m.Serial++ }), "differs from SOA serial"},
		{"scheme", mod(func(m *dns.ZONEMD) { m.Scheme = 2 }), "no ZONEMD with a supported"},
		{"digest", mod(func(m *dns.ZONEMD) { m.Digest = strings.Repeat("00", 48) }), "mismatch"},
		{"twice", append(append([]dns.RR{}, base...), mod(func(m *dns.ZONEMD) { m.Digest = strings.Repeat("00", 48) })[3]), "two ZONEMD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyDigest(tt.rrs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("VerifyDigest = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// An AXFR repeats the SOA at the end: still valid.
	axfr := append(append([]dns.RR{}, base...), base[0])
	if err := VerifyDigest(axfr); err != nil {
		t.Errorf("VerifyDigest with the SOA twice: %v", err)
	}
}

// TestBuildRFC8976Simple builds the zone of RFC 8976 Appendix A.1 and gets
// the digest the RFC publishes; importing the RFC's file gives it too.
func TestBuildRFC8976Simple(t *testing.T) {
	const want = "c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c"
	p := Params{
		Origin: "example.",
		SOA:    SOA{MName: "ns1.example.", RName: "admin.example.", Refresh: 1800, Retry: 900, Expire: 604800, Minimum: 86400},
		NS:     []string{"ns2.example.", "ns1.example."},
		TTLs:   TTLs{SOA: 86400, ApexNS: 86400, ApexGlue: 3600},
	}
	z, err := Build(p, 2018031900, nil, []Host{
		{Name: "ns1.example.", Addrs: []netip.Addr{netip.MustParseAddr("203.0.113.63")}},
		{Name: "ns2.example.", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8::63")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(z.Digest()); got != want {
		t.Errorf("Build digest = %s, want the RFC's %s", got, want)
	}
	f, err := os.Open("testdata/rfc8976-a1-simple.zone")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp, err := Import(f, "example.")
	if err != nil {
		t.Fatal(err)
	}
	z2, err := Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(z2.Digest()); got != want {
		t.Errorf("Import and Build digest = %s, want the RFC's %s", got, want)
	}
}
