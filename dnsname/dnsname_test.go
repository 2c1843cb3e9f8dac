package dnsname

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct {
		name string
		ok   bool
	}{
		{".", true},
		{"com.", true},
		{"a.gtld-servers.net.", true},
		{"xn--p1ai.", true},
		{"com", false},
		{"Com.", false},
		{"-a.com.", false},
		{"a-.com.", false},
		{"a..com.", false},
		{"a_b.com.", false},
		{"ab--c.com.", false},
		{long + ".com.", true},
		{long + "a.com.", false},
		{strings.Repeat(long+".", 4), false},
		{"é.com.", false},
		{"xn--p1ai.", true},         // рф
		{"xn--80ak6aa92e.", true},   // a Cyrillic label
		{"xn--zz.", false},          // not Punycode of anything permitted
		{"xn--a.", false},           // decodes to U+0080, a control
		{"xn--55555555555.", false}, // overflows
	}
	for _, tt := range tests {
		err := Check(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("Check(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if err := CheckTLD("123."); err == nil {
		t.Error("CheckTLD accepted an all-digit TLD")
	}
}

func TestRelations(t *testing.T) {
	tests := []struct {
		name, apex, child string
		below, isChild    bool
	}{
		{"com.", ".", "com.", true, true},
		{"a.gtld-servers.net.", ".", "net.", true, false},
		{".", ".", "", true, false},
		{"eng.corp.", "corp.", "eng.corp.", true, true},
		{"ns.eng.corp.", "corp.", "eng.corp.", true, false},
		{"ns.example.com.", "corp.", "", false, false},
		{"xcorp.", "corp.", "", false, false},
	}
	for _, tt := range tests {
		if got := IsBelow(tt.name, tt.apex); got != tt.below {
			t.Errorf("IsBelow(%q, %q) = %v, want %v", tt.name, tt.apex, got, tt.below)
		}
		if got := IsChild(tt.name, tt.apex); got != tt.isChild {
			t.Errorf("IsChild(%q, %q) = %v, want %v", tt.name, tt.apex, got, tt.isChild)
		}
		if got := ChildOf(tt.name, tt.apex); got != tt.child {
			t.Errorf("ChildOf(%q, %q) = %q, want %q", tt.name, tt.apex, got, tt.child)
		}
	}
}

func TestParseDS(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"31852 8 2 89F7670AFC091B199B47900E4CE4135B9463B7F74D3D19A1C732E78C 345D4DE6", "31852 8 2 89F7670AFC091B199B47900E4CE4135B9463B7F74D3D19A1C732E78C345D4DE6", ""},
		{"1 15 2 " + strings.Repeat("ab", 32), "1 15 2 " + strings.Repeat("AB", 32), ""},
		{"1 15 2 abcd", "", "digest type 2 needs 32 octets, got 2"},
		{"1 15 3 " + strings.Repeat("ab", 32), "", "digest type \"3\" is not 1, 2 or 4"},
		{"1 99 2 " + strings.Repeat("ab", 32), "", "algorithm \"99\""},
		{"70000 8 2 " + strings.Repeat("ab", 32), "", "key tag \"70000\""},
		{"1 8 2 zz", "", "not hex"},
		{"1 8", "", "want \"KEYTAG"},
	}
	for _, tt := range tests {
		ds, err := ParseDS(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDS(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || ds.String() != tt.want {
			t.Errorf("ParseDS(%q) = %q, %v; want %q", tt.in, ds, err, tt.want)
		}
	}
}

func FuzzParseDS(f *testing.F) {
	f.Add("31852 8 2 89F7670AFC091B199B47900E4CE4135B9463B7F74D3D19A1C732E78C345D4DE6")
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDS(s)
		if err != nil {
			return
		}
		again, err := ParseDS(ds.String())
		if err != nil || again != ds {
			t.Fatalf("round trip of %q: %v, %v", ds, again, err)
		}
	})
}

// TestCheckMessages pins the text a user sees for names that are not LDH:
// the character is shown as itself (not one of its UTF-8 octets), an
// octet that is not UTF-8 as hex, an invalid A-label with the reason.
func TestCheckMessages(t *testing.T) {
	tests := []struct{ name, want string }{
		{"\u0441\u043em.", `name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
		{"a\xffb.", `name "a\xffb.": label "a\xffb" has the octet 0xff, which is not UTF-8`},
		{"xn--zz.", `name "xn--zz.": label "xn--zz" is not a valid A-label: idna: invalid label "zz"`},
	}
	for _, tt := range tests {
		err := Check(tt.name)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Check(%q) = %v\nwant %s", tt.name, err, tt.want)
		}
	}
}

// FuzzCheck: Check never panics, and a name it accepts is lower-case
// ASCII of at most 254 octets whose A-labels are valid.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{".", "com.", "xn--p1ai.", "xn--zz.", "соm.", "a\xffb.", strings.Repeat("a", 64) + "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if Check(name) != nil {
			return
		}
		if len(name) > 254 || strings.ToLower(name) != name {
			t.Fatalf("Check(%q) accepted", name)
		}
		for i := 0; i < len(name); i++ {
			if name[i] >= 0x80 {
				t.Fatalf("Check(%q) accepted a non-ASCII name", name)
			}
		}
	})
}
