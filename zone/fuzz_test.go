package zone

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// FuzzImport feeds arbitrary bytes to Import. It must never panic; what it
// accepts must build, verify, and survive export and re-import unchanged.
func FuzzImport(f *testing.F) {
	f.Add([]byte(importHead + "com. 172800 IN NS a.gtld-servers.net.\ncom. 86400 IN DS 1 8 2 ABCD\na.gtld-servers.net. 172800 IN A 192.5.6.30\n"))
	f.Add([]byte(importHead + "com. 172800 IN CNAME x.\n"))
	f.Add([]byte(importHead + "com. 172800 IN NS ( a.b. )\n$TTL 5\nx. IN NS y.\n"))
	for _, name := range []string{"rfc8976-a1-simple.zone", "rfc8976-a2-complex.zone"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile(rootFile); err == nil {
		f.Add(b[:4096])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		imp, err := Import(bytes.NewReader(data), ".")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Import error %v does not wrap ErrInvalid", err)
			}
			return
		}
		z, err := Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts)
		if err != nil {
			t.Fatalf("Import accepted what Build refuses: %v", err)
		}
		if err := VerifyDigest(z.Records()); err != nil {
			t.Fatal(err)
		}
		out := exportBytes(t, z)
		imp2, err := Import(bytes.NewReader(out), ".")
		if err != nil {
			t.Fatalf("Import of the export: %v\n%s", err, out)
		}
		z2, err := Build(imp2.Params, imp2.Serial, imp2.Delegations, imp2.Hosts)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(exportBytes(t, z2), out) {
			t.Fatalf("export, import, build changes the zone:\n%s", out)
		}
	})
}

// FuzzUpdate reads change sets from the bytes, applies each with Update and
// checks the result against Build of a model of the content.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{0, 1, 0, 0, 1, 0, 3, 1, 0, 2, 1, 0, 255, 5, 1})
	f.Add(bytes.Repeat([]byte{7, 3, 9, 1}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		defer setChunkSize(2)()
		names := []string{"a.", "b.", "ns.a.", "ns.b.", "x.ns.a.", "c.", "a.b.", "ns.example."}
		m := model{dels: map[string]Delegation{}, hosts: map[string]Host{}}
		z := m.build(t, 0)
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for serial := uint32(1); len(data) > 0; serial++ {
			var set []Delegation
			var remove, removeHosts []string
			var setHosts []Host
			for n := next() % 4; n > 0; n-- {
				op, arg := next(), next()
				name := names[int(arg)%len(names)]
				switch op % 4 {
				case 0:
					d := Delegation{Name: name, NS: []string{names[int(arg>>3)%len(names)], names[int(op>>2)%len(names)]}}
					if arg&0x80 != 0 {
						d.DS = []DS{{KeyTag: uint16(op), Algorithm: 8, DigestType: 2, Digest: fmt.Sprintf("%02X", arg)}}
					}
					set = append(set, d)
				case 1:
					remove = append(remove, name)
				case 2:
					setHosts = append(setHosts, Host{Name: name, Addrs: []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, op}), netip.AddrFrom16([16]byte{0x20, 1, 15: arg})}[:1+int(op>>7)]})
				case 3:
					removeHosts = append(removeHosts, name)
				}
			}
			nz, err := z.Update(serial, set, remove, setHosts, removeHosts)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Update error %v does not wrap ErrInvalid", err)
				}
				continue
			}
			for _, n := range remove {
				delete(m.dels, n)
			}
			for _, d := range set {
				m.dels[d.Name] = d
			}
			for _, n := range removeHosts {
				delete(m.hosts, n)
			}
			merged := map[string]Host{}
			for _, h := range setHosts {
				old := merged[h.Name]
				merged[h.Name] = Host{Name: h.Name, Addrs: append(slices.Clone(old.Addrs), h.Addrs...)}
			}
			maps.Copy(m.hosts, merged)
			sameZone(t, nz, m.build(t, serial))
			// The content read back from the zone builds the same zone.
			sameZone(t, nz, mustBuild(t, testParams, serial, nz.Delegations(), nz.Hosts()))
			z = nz
		}
	})
}

// FuzzVerifyDigest parses arbitrary bytes as a zone with miekg/dns and
// hands the records to VerifyDigest, which must not panic, and must agree
// with Digest384 when it succeeds on a SHA-384 ZONEMD.
func FuzzVerifyDigest(f *testing.F) {
	for _, name := range []string{"rfc8976-a1-simple.zone", "rfc8976-a2-complex.zone", "rfc8976-a3-multiple.zone"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		zp := dns.NewZoneParser(bytes.NewReader(data), "example.", "")
		var rrs []dns.RR
		for rr, ok := zp.Next(); ok && len(rrs) < 1000; rr, ok = zp.Next() {
			rrs = append(rrs, rr)
		}
		if VerifyDigest(rrs) != nil {
			return
		}
		if _, err := Digest384(rrs); err != nil {
			t.Fatalf("VerifyDigest accepted what Digest384 refuses: %v", err)
		}
	})
}
