package badinput

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/setup"
)

// doc returns the running federation's constitution as a JSON object,
// after edit changes it.
func doc(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(fed.f.Constitution.Bytes, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstTLD(m map[string]any) map[string]any {
	return m["tlds"].([]any)[0].(map[string]any)
}

func ttls(v any) func(m map[string]any) {
	return func(m map[string]any) { m["ttls"].(map[string]any)["ns"] = v }
}

// TestConstitution feeds hostile constitutions to constitution.Parse, the
// parser every node and `commonroot constitution` run.
func TestConstitution(t *testing.T) {
	edit := func(f func(m map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return doc(t, f) }
	}
	raw := func(b []byte) func(t *testing.T) []byte { return func(*testing.T) []byte { return b } }
	many := make([]any, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("ns%d.example.net.", i)
	}
	cases := []struct {
		name string
		doc  func(t *testing.T) []byte
		want string
	}{
		{"over 16 MiB", raw(bytes.Repeat([]byte(" "), constitution.MaxSize+1)), "constitution: 16777217 bytes, more than the 16777216 allowed"},
		{"deep nesting", raw([]byte(`{"rules":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`)), "constitution: JSON nested deeper than 32 levels"},
		{"duplicate key", raw([]byte(`{"version":1,"version":1}`)), `constitution: duplicate key "version"`},
		{"trailing data", func(t *testing.T) []byte { return append(doc(t, func(map[string]any) {}), "{}"...) }, "constitution: trailing data after the JSON value"},
		{"unknown field", edit(func(m map[string]any) { m["superuser"] = "alpha" }), `constitution: json: unknown field "superuser"`},
		{"invalid UTF-8 in the origin", func(t *testing.T) []byte {
			return bytes.Replace(doc(t, func(map[string]any) {}), []byte(`"origin":"`), []byte("\"origin\":\"\xff"), 1)
		}, "constitution: origin"},
		{"apex with a 64-octet label", edit(func(m map[string]any) { m["apex"] = label64 + "." }),
			`constitution: apex: name "` + label64 + `.": label "` + label64 + `" is 64 octets, more than 63`},
		{"TLD of 256 octets", edit(func(m map[string]any) { firstTLD(m)["name"] = name256 }),
			`constitution: tlds[0].name: name "` + name256[:77] + `..." is 256 octets long, more than 253 before the final dot`},
		{"Cyrillic look-alike TLD", edit(func(m map[string]any) { firstTLD(m)["name"] = "соm." }),
			`constitution: tlds[0].name: name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
		{"invalid A-label TLD", edit(func(m map[string]any) { firstTLD(m)["name"] = "xn--zz." }),
			`constitution: tlds[0].name: name "xn--zz.": label "xn--zz" is not a valid A-label: idna: invalid label "zz"`},
		{"NS that is not a name", edit(func(m map[string]any) { firstTLD(m)["ns"] = []any{"ns1..example."} }),
			`constitution: tlds[0].ns[0]: name "ns1..example.": empty label`},
		{"no NS", edit(func(m map[string]any) { firstTLD(m)["ns"] = []any{} }), "constitution: tlds[0].ns: a delegation needs at least one name server"},
		{"10,000 NS", edit(func(m map[string]any) { firstTLD(m)["ns"] = many }), "constitution: tlds[0].ns: 10000 name servers, more than 64"},
		{"glue outside the bailiwick", edit(func(m map[string]any) {
			t := firstTLD(m)
			t["glue"] = []any{map[string]any{"name": "ns.example.net.", "addrs": []any{"192.0.2.1"}}}
		}), `constitution: tlds[0].glue[0].name: "ns.example.net." is not below "aaa." (a TLD gives addresses only to hosts under it)`},
		{"negative TTL", edit(ttls(-1)), "constitution: json: cannot unmarshal number -1 into Go struct field TTLs.ttls.ns of type uint32"},
		{"TTL of 2^32", edit(ttls(4294967296)), "constitution: json: cannot unmarshal number 4294967296 into Go struct field TTLs.ttls.ns of type uint32"},
		{"TTL of 2^31", edit(ttls(2147483648)), "constitution: ttls.ns: 2147483648 is outside 1..2147483647"},
		{"TTL of 0", edit(ttls(0)), "constitution: ttls.ns: 0 is outside 1..2147483647"},
		{"origin with a space", edit(func(m map[string]any) { m["origin"] = "evil fed" }), `constitution: origin: "evil fed" must be a non-empty log origin without spaces or '+'`},
		{"member key named for another", edit(func(m map[string]any) {
			mem := m["members"].([]any)[0].(map[string]any)
			mem["name"] = "mallory"
		}), `constitution: members[0].key: key is named "alpha", member is "mallory"`},
		{"veto by a stranger", edit(func(m map[string]any) {
			m["rules"].(map[string]any)["tld.delete"].(map[string]any)["veto"] = []any{"mallory"}
		}), `constitution: rules["tld.delete"].veto: "mallory" is not a member`},
		{"restriction of no maximum", edit(func(m map[string]any) {
			m["rules"].(map[string]any)["restriction.impose"].(map[string]any)["max_duration"] = "0s"
		}), `constitution: rules["restriction.impose"].max_duration: a restriction needs a positive maximum duration`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := constitution.Parse(c.doc(t))
			if got != nil || err == nil {
				t.Fatalf("Parse accepted it")
			}
			if err.Error() != c.want && !(strings.HasSuffix(c.want, "origin") && strings.HasPrefix(err.Error(), c.want)) {
				t.Errorf("got  %s\nwant %s", err, c.want)
			}
		})
	}
}

// TestZoneImport feeds hostile master files to setup.Create, as `commonroot
// dev` does with the root zone: each is refused, and the directory gets no
// constitution.
func TestZoneImport(t *testing.T) {
	const head = ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2026082201 1800 900 604800 86400\n" +
		". 518400 IN NS a.root-servers.net.\n" +
		"a.root-servers.net. 518400 IN A 198.41.0.4\n" +
		"aa. 172800 IN NS ns.aa.\n" +
		"ns.aa. 172800 IN A 192.0.2.1\n" +
		"aa. 86400 IN DS 26755 8 2 F341357809A5954311CCB82ADE114C6C1D724A75C0395137AA3978035425E78D\n"
	many := new(strings.Builder)
	many.WriteString("corp. 86400 IN SOA ns.example.net. hostmaster.example.net. 1 1800 900 604800 86400\ncorp. 86400 IN NS ns.example.net.\n" +
		"x.corp. 172800 IN NS ns.x.corp.\nns.x.corp. 172800 IN A 192.0.2.1\n" +
		"x.corp. 86400 IN DS 26755 8 2 F341357809A5954311CCB82ADE114C6C1D724A75C0395137AA3978035425E78D\n")
	for i := range 10000 {
		fmt.Fprintf(many, "eng.corp. 172800 IN NS ns%d.example.net.\n", i)
	}
	cases := []struct{ name, apex, zone, want string }{
		{"label of 64 octets", "", head + label64 + ". 172800 IN NS a.nic.de.\n", `dns: bad owner name: "` + label64 + `." at line: 7:66`},
		{"name of 256 octets", "", head + "de. 172800 IN NS " + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 62) + ".\n",
			`line 7: NS of "de.": name "` + strings.Repeat("a", 63) + ".bbbbbbbbbbbbb..." + `" is 254 octets long, more than 253 before the final dot`},
		{"NS pointing at itself", "", head + "de. 172800 IN NS de.\n", `line 7: NS "de." of "de." lies inside the zone but has no A or AAAA record (glue)`},
		{"glue outside the bailiwick", "", head + "de. 172800 IN NS a.nic.de.\na.nic.de. 172800 IN A 194.0.0.53\nns.unused.example. 172800 IN A 192.0.2.1\n", `line 9: address record of "ns.unused.example.", which no NS record names (only name servers' addresses are kept)`},
		{"10,000 NS records", "corp.", many.String(), "constitution: tlds[0].ns: 10000 name servers, more than 64"},
		{"negative TTL", "", head + "de. -1 IN NS a.nic.de.\n", `dns: not a TTL`},
		{"huge TTL", "", head + "de. 4294967296 IN NS a.nic.de.\n", `dns: not a TTL`},
		{"TTL of 0", "", head + "de. 0 IN NS ns.example.net.\n", "line 7: NS TTL 0 differs from 172800 on line 4 (the zone has one TTL for each kind of record)"},
		{"wrong origin", "de.", head, `line 1: SOA record of "." is outside the origin "de."`},
		{"second SOA", "", head + head, "line 7: second SOA (the first is on line 1)"},
		{"Cyrillic look-alike TLD", "", head + "соm. 172800 IN NS a.gtld-servers.net.\n", `line 7: NS record: name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
		{"invalid A-label", "", head + "xn--zz. 172800 IN NS a.gtld-servers.net.\n", `line 7: NS record: name "xn--zz.": label "xn--zz" is not a valid A-label: idna: invalid label "zz"`},
		{"invalid UTF-8", "", head + "de\xff. 172800 IN NS a.nic.de.\n", `line 7: NS record: name "de\xff.": label "de\xff" has the octet 0xff, which is not UTF-8`},
		{"class CHAOS", "", head + "de. 172800 CH NS a.nic.de.\n", `line 7: NS record of "de." has class CH, not IN`},
		{"$INCLUDE", "", head + "$INCLUDE /etc/passwd\n", `$INCLUDE directive not allowed`},
		{"CNAME at a delegation", "", head + "de. 172800 IN NS ns.example.net.\nde. 172800 IN CNAME example.net.\n", `line 8: CNAME at delegation "de." (a delegation has only NS, DS and glue)`},
		{"DS without NS", "", head + "de. 86400 IN DS 26755 8 2 F341357809A5954311CCB82ADE114C6C1D724A75C0395137AA397803 5425E78D\n", `line 7: DS at "de.", which has no NS`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			apex := c.apex
			if apex == "" {
				apex = "."
			}
			_, err := setup.Create(setup.Options{Dir: dir, Origin: "example.org/import", Apex: apex, Members: []string{"alpha"},
				Genesis: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Import: []byte(c.zone)})
			if err == nil {
				t.Fatalf("imported")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got  %v\nwant it to contain %s", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "constitution.json")); !os.IsNotExist(err) {
				t.Errorf("a constitution was written (%v)", err)
			}
			if _, err := os.Stat(setup.ConstitutionPath(dir)); !os.IsNotExist(err) {
				t.Errorf("a constitution was written (%v)", err)
			}
		})
	}
}
