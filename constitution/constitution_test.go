package constitution

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// sample returns a valid constitution document with n members and the
// verifier key of a TLD operator.
func sample(t testing.TB, n int) map[string]any {
	t.Helper()
	var members []Member
	for i := 0; i < n; i++ {
		name := string(rune('a'+i)) + "-member"
		_, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		members = append(members, Member{Name: name, Key: vkey, Validator: base64.StdEncoding.EncodeToString(pub)})
	}
	_, opkey, _ := note.GenerateKey(rand.Reader, "op.example")
	c := Default("example.org/test", ".", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), members,
		[]Host{{Name: "a.ns.example.", Addrs: []string{"192.0.2.1"}}, {Name: "b.ns.example.", Addrs: []string{"2001:db8::1"}}})
	c.TLDs = []TLD{
		{Name: "aa.", Owner: members[0].Name, NS: []string{"ns1.aa.", "ns2.aa."}, Glue: []Host{{Name: "ns1.aa.", Addrs: []string{"192.0.2.10"}}}},
		{Name: "example.", Operator: opkey, NS: []string{"a.ns.example.", "b.ns.example."}, DS: []string{"2371 13 2 C988EC423E3880EB8DD8A46FE06CA230EE23F35B578D64E2A5C8BB8FF9C2EB48"}},
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t testing.TB, m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseValid(t *testing.T) {
	doc := encode(t, sample(t, 4))
	c, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Members) != 4 || c.Apex != "." || len(c.TLDs) != 2 {
		t.Fatalf("parsed %d members, apex %q, %d TLDs", len(c.Members), c.Apex, len(c.TLDs))
	}
	if got := c.Rules[TLDCreate].Threshold; got != 666_666 {
		t.Errorf("threshold = %d ppm, want 666666", got)
	}
	if !c.Rules[TLDCreate].Threshold.AtLeast(2, 3) || c.Rules[TLDCreate].Threshold.AtLeast(1, 2) {
		t.Error("2 of 3 must pass a two-thirds threshold and 1 of 2 must not")
	}
	again, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(again)
	if err != nil {
		t.Fatalf("re-parse of Marshal output: %v", err)
	}
	if got := c2.SigningPolicy(); got != DefaultSigning {
		t.Errorf("signing policy without a signing section = %+v, want the default %+v", got, DefaultSigning)
	}
	m := sample(t, 4)
	m["signing"] = map[string]any{"validity": "2h", "refresh": "30m", "timeout": "10s"}
	c3, err := Parse(encode(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c3.SigningPolicy(), (Signing{Validity: Duration(2 * time.Hour), Refresh: Duration(30 * time.Minute), Timeout: Duration(10 * time.Second),
		RolloverPublish: DefaultSigning.RolloverPublish, RolloverRetire: DefaultSigning.RolloverRetire, Batch: MaxSigningBatch}); got != want {
		t.Errorf("signing policy without rollover times and batch = %+v, want %+v", got, want)
	}
	m["signing"] = map[string]any{"validity": "2h", "refresh": "30m", "timeout": "10s", "rollover_publish": "20s", "rollover_retire": "15s", "batch": 100}
	c4, err := Parse(encode(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if got := c4.SigningPolicy(); got.RolloverPublish != Duration(20*time.Second) || got.RolloverRetire != Duration(15*time.Second) || got.Batch != 100 {
		t.Errorf("signing policy = %+v, want rollover times 20s and 15s, batch 100", got)
	}
	if c2.ChainID() == "" || len(c2.ChainID()) > 50 {
		t.Errorf("chain ID %q must be 1..50 characters", c2.ChainID())
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		want   string // a part of the error that names the field
	}{
		{"duplicate member", func(m map[string]any) {
			ms := m["members"].([]any)
			m["members"] = append(ms, ms[0])
		}, "members[4].name: duplicate member"},
		{"TLD owned twice", func(m map[string]any) {
			ts := m["tlds"].([]any)
			dup := map[string]any{}
			for k, v := range ts[0].(map[string]any) {
				dup[k] = v
			}
			dup["owner"] = "b-member"
			m["tlds"] = append(ts, dup)
		}, "tlds[2].name: \"aa.\" is listed twice"},
		{"threshold above 1", func(m map[string]any) {
			m["rules"].(map[string]any)["tld.create"].(map[string]any)["threshold"] = 1.5
		}, `rules["tld.create"].threshold: 1.5 is outside (0,1]`},
		{"threshold zero", func(m map[string]any) {
			m["rules"].(map[string]any)["tld.delete"].(map[string]any)["threshold"] = 0
		}, `rules["tld.delete"].threshold: 0 is outside (0,1]`},
		{"negative quorum", func(m map[string]any) {
			m["rules"].(map[string]any)["tld.delete"].(map[string]any)["quorum"] = -0.5
		}, "fraction -0.5"},
		{"no apex name server", func(m map[string]any) { m["nameservers"] = []any{} }, "nameservers: the apex needs at least one name server"},
		{"name server without address", func(m map[string]any) {
			m["nameservers"] = []any{map[string]any{"name": "a.ns.example.", "addrs": []any{}}}
		}, "nameservers[0].addrs"},
		{"missing rule", func(m map[string]any) { delete(m["rules"].(map[string]any), "member.admit") }, `rules["member.admit"]: missing`},
		{"unknown rule", func(m map[string]any) {
			m["rules"].(map[string]any)["tld.rename"] = m["rules"].(map[string]any)["tld.create"]
		}, `rules["tld.rename"]: unknown proposal kind`},
		{"veto by a stranger", func(m map[string]any) {
			m["rules"].(map[string]any)["tld.create"].(map[string]any)["veto"] = []any{"mallory"}
		}, `rules["tld.create"].veto: "mallory" is not a member`},
		{"restriction without maximum", func(m map[string]any) {
			delete(m["rules"].(map[string]any)["restriction.impose"].(map[string]any), "max_duration")
		}, `rules["restriction.impose"].max_duration`},
		{"bad voting period", func(m map[string]any) {
			m["rules"].(map[string]any)["tld.create"].(map[string]any)["voting_period"] = "soon"
		}, `duration "soon"`},
		{"unknown field", func(m map[string]any) { m["president"] = "alice" }, `unknown field "president"`},
		{"bad member key", func(m map[string]any) {
			m["members"].([]any)[1].(map[string]any)["key"] = "b-member+00000000+AAAA"
		}, "members[1].key"},
		{"key of another name", func(m map[string]any) {
			ms := m["members"].([]any)
			ms[1].(map[string]any)["key"] = ms[0].(map[string]any)["key"]
		}, "members[1].key: key is named \"a-member\""},
		{"bad validator", func(m map[string]any) {
			m["members"].([]any)[0].(map[string]any)["validator"] = "AAAA"
		}, "members[0].validator"},
		{"TLD not a child", func(m map[string]any) {
			m["tlds"].([]any)[0].(map[string]any)["name"] = "x.aa."
		}, "tlds[0].name: \"x.aa.\" is not a child"},
		{"owner not a member", func(m map[string]any) {
			m["tlds"].([]any)[0].(map[string]any)["owner"] = "zed"
		}, "tlds[0].owner: \"zed\" is not a member"},
		{"shared TLD without operator", func(m map[string]any) {
			delete(m["tlds"].([]any)[1].(map[string]any), "operator")
		}, "tlds[1].operator: a shared TLD needs an operator key"},
		{"bad DS length", func(m map[string]any) {
			m["tlds"].([]any)[1].(map[string]any)["ds"] = []any{"2371 13 2 C988"}
		}, "tlds[1].ds[0]: DS \"2371 13 2 C988\": digest type 2 needs 32 octets, got 2"},
		{"upper-case apex", func(m map[string]any) { m["apex"] = "CORP." }, "apex: name \"CORP.\""},
		{"version", func(m map[string]any) { m["version"] = 2 }, "version: 2 is not supported"},
		{"origin with space", func(m map[string]any) { m["origin"] = "a b" }, "origin"},
		{"policy", func(m map[string]any) { m["policy"].(map[string]any)["min_ns"] = 0 }, "policy: need 1 <= min_ns"},
		{"signing validity too short", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "30s", "refresh": "10s", "timeout": "1s"}
		}, "signing.validity: 30s is outside 1m..8760h"},
		{"signing refresh not below validity", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "1h", "timeout": "1s"}
		}, "signing.refresh: 1h0m0s must be positive and less than the validity 1h0m0s"},
		{"signing timeout too long", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "10m", "timeout": "6m"}
		}, "signing.timeout: 6m0s is outside 1s..half the refresh (5m0s)"},
		{"rollover publish too long", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "10m", "timeout": "10s", "rollover_publish": "9000h"}
		}, "signing.rollover_publish: 9000h0m0s is outside 1s..8760h"},
		{"rollover retire too short", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "10m", "timeout": "10s", "rollover_retire": "1ms"}
		}, "signing.rollover_retire: 1ms is outside 1s..8760h"},
		{"signing batch too large", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "10m", "timeout": "10s", "batch": 4097}
		}, "signing.batch: 4097 is outside 1..4096 (0: the default)"},
		{"signing batch negative", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "10m", "timeout": "10s", "batch": -1}
		}, "signing.batch: -1 is outside 1..4096 (0: the default)"},
		{"signing unknown field", func(m map[string]any) {
			m["signing"] = map[string]any{"validity": "1h", "refresh": "10m", "timeout": "10s", "algorithm": 13}
		}, `unknown field "algorithm"`},
		{"removed member TLDs", func(m map[string]any) { m["removed_member_tlds"] = "seize" }, "removed_member_tlds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample(t, 4)
			tt.mutate(m)
			_, err := Parse(encode(t, m))
			if err == nil {
				t.Fatalf("Parse accepted it; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseRefusesTrailingData(t *testing.T) {
	doc := encode(t, sample(t, 1))
	if _, err := Parse(append(doc, []byte(` {}`)...)); err == nil || !strings.Contains(err.Error(), "trailing data") {
		t.Errorf("error = %v, want trailing data", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encode(f, sample(f, 2)))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"rules":{"tld.create":{"quorum":0.0000001}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		b, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("accepted document does not survive Marshal/Parse: %v", err)
		}
	})
}

// TestTLDChecks pins the errors for genesis TLDs that no zone could hold:
// no NS, a name server that is not a name, out-of-bailiwick glue, too many
// name servers; and a non-ASCII member name shown as its character.
func TestTLDChecks(t *testing.T) {
	base := func() *Constitution {
		c := Default("example.org/test", ".", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), nil, []Host{{Name: "a.root.fed.", Addrs: []string{"192.0.2.53"}}})
		_, vkey, err := note.GenerateKey(rand.Reader, "alpha")
		if err != nil {
			t.Fatal(err)
		}
		c.Members = []Member{{Name: "alpha", Key: vkey, Validator: base64.StdEncoding.EncodeToString(make([]byte, 32))}}
		c.TLDs = []TLD{{Name: "aa.", Owner: "alpha", NS: []string{"ns1.aa.", "ns.example.net."}, Glue: []Host{{Name: "ns1.aa.", Addrs: []string{"192.0.2.1"}}}}}
		return c
	}
	many := make([]string, 65)
	for i := range many {
		many[i] = fmt.Sprintf("ns%d.example.net.", i)
	}
	tests := []struct {
		name string
		edit func(c *Constitution)
		want string
	}{
		{"valid", func(*Constitution) {}, ""},
		{"no NS", func(c *Constitution) { c.TLDs[0].NS = nil }, "constitution: tlds[0].ns: a delegation needs at least one name server"},
		{"NS not a name", func(c *Constitution) { c.TLDs[0].NS[1] = "ns..net." }, `constitution: tlds[0].ns[1]: name "ns..net.": empty label`},
		{"NS twice", func(c *Constitution) { c.TLDs[0].NS[1] = "ns1.aa." }, `constitution: tlds[0].ns[1]: "ns1.aa." is listed twice`},
		{"65 NS", func(c *Constitution) { c.TLDs[0].NS = many }, "constitution: tlds[0].ns: 65 name servers, more than 64"},
		{"glue outside the TLD", func(c *Constitution) { c.TLDs[0].Glue[0].Name = "ns.example.net." },
			`constitution: tlds[0].glue[0].name: "ns.example.net." is not below "aa." (a TLD gives addresses only to hosts under it)`},
		{"Cyrillic member name", func(c *Constitution) { c.Members[0].Name = "аlpha" }, `constitution: members[0].name: name "аlpha" must start with a lower-case letter`},
		{"member name with é", func(c *Constitution) { c.Members[0].Name = "alphé" }, `constitution: members[0].name: name "alphé" has 'é': use lower-case letters, digits, '-' and '.'`},
	}
	for _, tt := range tests {
		c := base()
		tt.edit(c)
		got := ""
		if err := c.Validate(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: Validate() = %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
