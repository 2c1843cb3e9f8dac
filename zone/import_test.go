package zone

import (
	"errors"
	"strings"
	"testing"
)

const importHead = `. 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 7 1800 900 604800 86400
. 518400 IN NS a.root-servers.net.
a.root-servers.net. 518400 IN A 198.41.0.4
`

func TestImportRefuses(t *testing.T) {
	tests := []struct {
		name string
		body string // after importHead (3 lines), so its first line is line 4
		want string
	}{
		{"CNAME at delegation", "com. 172800 IN NS a.gtld-servers.net.\ncom. 172800 IN CNAME x.\n", `line 5: CNAME at delegation "com."`},
		{"TXT", "\n\nfoo. 3600 IN TXT \"x\"\n", `line 6: TXT record at "foo." is not supported`},
		{"MX at delegation", "com. 172800 IN NS a.gtld-servers.net.\ncom. 3600 IN MX 10 mail.com.\n", `line 5: MX at delegation`},
		{"class", "com. 172800 CH NS a.gtld-servers.net.\n", "line 4: NS record of \"com.\" has class CH"},
		{"NS below child", "a.com. 172800 IN NS ns.a.com.\n", `line 4: NS at "a.com.", which is not a child`},
		{"DS without NS", "com. 86400 IN DS 1 8 2 ABCD\n", `line 4: DS at "com.", which has no NS`},
		{"DS at apex", ". 86400 IN DS 1 8 2 ABCD\n", `line 4: DS at ".", which is not a child`},
		{"second SOA", ". 86400 IN SOA a. b. 8 1 1 1 1\n", "line 4: second SOA (the first is on line 1)"},
		{"A at apex", ". 86400 IN A 192.0.2.1\n", "line 4: A at the origin"},
		{"bad NS target", "com. 172800 IN NS a_b.example.\n", "line 4: NS of \"com.\""},
		{"bad owner", "a_b. 172800 IN NS a.b.\n", "line 4: NS record: name \"a_b.\""},
		{"NS TTL", "com. 172800 IN NS a.b.\nnet. 3600 IN NS a.b.\n", "line 5: NS TTL 3600 differs from 172800 on line 4"},
		{"glue TTL", "a.b. 172800 IN A 192.0.2.1\nb.b. 3600 IN A 192.0.2.2\n", "line 5: glue TTL 3600 differs from 172800 on line 4"},
		{"host TTL", "a.b. 172800 IN A 192.0.2.1\na.b. 3600 IN AAAA 2001:db8::1\n", "line 5: AAAA of \"a.b.\" has TTL 3600, but line 4"},
		{"apex glue TTL", "a.root-servers.net. 518400 IN AAAA 2001:db8::1\nb.root-servers.net. 172800 IN A 192.0.2.1\n. 518400 IN NS b.root-servers.net.\n", "line 5: glue of apex NS host TTL 172800 differs from 518400 on line 3"},
		{"multi-line record", "com. 172800 IN NS a.b.\ncom. 86400 IN DS ( 1 8 2\n  ABC )\n", "line 5: DS of \"com.\": digest \"ABC\" has an odd number"},
		{"parse error", "com. 172800 IN NS a.b.\nfoo.com. 172800 IN A 999.1.1.1\n", "line: 5"},
		{"empty NS", "com. 172800 IN NS\n", "line 4: NS of \"com.\""},
		{"include", "$INCLUDE /etc/passwd\n", "$INCLUDE"},
		{"zero TTL", "com. 0 IN NS a.b.\na.b. 172800 IN A 192.0.2.1\n", "line 4: a TTL of 0"},
		{"NS at itself without glue", "de. 172800 IN NS de.\n", `line 4: NS "de." of "de." lies inside the zone but has no A or AAAA record (glue)`},
		{"NS inside without glue", "de. 172800 IN NS a.root-servers.net.\nde. 172800 IN NS ns.de.\n", `line 5: NS "ns.de." of "de." lies inside the zone but has no A or AAAA record (glue)`},
		{"address of no name server", "de. 172800 IN NS a.root-servers.net.\nns.other. 172800 IN A 192.0.2.9\n", `line 5: address record of "ns.other.", which no NS record names`},
		{"octet not UTF-8", "de\xff. 172800 IN NS a.b.\n", `line 4: NS record: name "de\xff.": label "de\xff" has the octet 0xff, which is not UTF-8`},
		{"upper case kept ASCII-only", "DE\xff. 172800 IN NS a.b.\n", `label "de\xff" has the octet 0xff`},
		{"Cyrillic look-alike", "соm. 172800 IN NS a.b.\n", `line 4: NS record: name "соm.": label "соm" has 'с' (U+0441)`},
		{"ZONEMD below apex", "com. 86400 IN ZONEMD 1 1 1 " + strings.Repeat("00", 48) + "\n", `line 4: ZONEMD record at "com." is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(strings.NewReader(importHead+tt.body), ".")
			if err == nil {
				t.Fatalf("Import accepted %q", tt.body)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import error = %q, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestImportRefusesWhole(t *testing.T) {
	tests := []struct {
		name, origin, zone, want string
	}{
		{"no SOA", ".", ". 518400 IN NS a.root-servers.net.\n", "no SOA"},
		{"no apex NS", ".", ". 86400 IN SOA a. b. 1 1 1 1 1\n", "no NS records"},
		{"outside origin", "example.", "example. 86400 IN SOA a. b. 1 1 1 1 1\nexample. 86400 IN NS ns.example.\nfoo.test. 3600 IN A 192.0.2.1\n", `line 3: A record of "foo.test." is outside the origin "example."`},
		{"bad origin", "Example.", "", "import origin"},
		{"SOA RNAME escape", ".", ". 86400 IN SOA a. john\\.doe.example. 1 1 1 1 1\n. 518400 IN NS a.b.\n", "line 1: SOA RNAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(strings.NewReader(tt.zone), tt.origin)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Import error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestImportKeeps checks what Import keeps and drops on a small zone that
// is not the root.
func TestImportKeeps(t *testing.T) {
	const zone = `$ORIGIN corp.
$TTL 3600
@ IN SOA ns1.corp. HOSTMASTER.corp. ( 42 ; serial
   7200 900 1209600 300 )
  IN NS ns1
  IN NS NS1.corp.
  IN RRSIG SOA 8 1 3600 20260904170000 20260822160000 1 corp. AAAA
  IN DNSKEY 257 3 8 AwEAAa8=
  IN ZONEMD 42 1 1 ` + "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" + `
ns1 IN A 192.0.2.53
Sales IN NS ns.sales
sales IN DS 1 8 2 abcdef
sales IN NSEC x.corp. NS DS RRSIG NSEC
ns.sales IN AAAA 2001:db8::53
`
	imp, err := Import(strings.NewReader(zone), "corp.")
	if err != nil {
		t.Fatal(err)
	}
	if imp.Serial != 42 || imp.Params.SOA.RName != "hostmaster.corp." || imp.Params.SOA.Minimum != 300 {
		t.Errorf("SOA kept as serial %d %+v", imp.Serial, imp.Params.SOA)
	}
	if got := strings.Join(imp.Params.NS, " "); got != "ns1.corp." {
		t.Errorf("apex NS %q, want ns1.corp. once", got)
	}
	want := TTLs{SOA: 3600, ApexNS: 3600, NS: 3600, DS: 3600, Glue: 3600, ApexGlue: 3600}
	if imp.Params.TTLs != want {
		t.Errorf("TTLs %+v, want %+v", imp.Params.TTLs, want)
	}
	if len(imp.Delegations) != 1 || imp.Delegations[0].Name != "sales.corp." || imp.Delegations[0].DS[0].Digest != "ABCDEF" {
		t.Errorf("delegations %+v", imp.Delegations)
	}
	if len(imp.Hosts) != 2 || imp.Hosts[0].Name != "ns1.corp." || imp.Hosts[1].Name != "ns.sales.corp." {
		t.Errorf("hosts %+v", imp.Hosts)
	}
	z, err := Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyDigest(z.Records()); err != nil {
		t.Error(err)
	}
}
