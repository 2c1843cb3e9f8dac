package setup

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/constitution"
)

// ceremony runs InitMember for each name in its own directory and
// assembles their constitution.
func ceremony(t *testing.T, names ...string) (*constitution.Constitution, map[string]*Key) {
	t.Helper()
	var pubs []Public
	keys := map[string]*Key{}
	for i, name := range names {
		dir := filepath.Join(t.TempDir(), name)
		p, err := InitMember(dir, name, "10.77.0."+string(rune('1'+i))+":26656")
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(MemberDirPublic(dir))
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParsePublic(b)
		if err != nil {
			t.Fatal(err)
		}
		if *q != *p {
			t.Fatalf("public.json = %+v, InitMember returned %+v", q, p)
		}
		keys[name], err = LoadKey(MemberDirKey(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if keys[name].Verifier != p.Key {
			t.Fatalf("public key %q is not the key file's %q", p.Key, keys[name].Verifier)
		}
		pubs = append(pubs, *p)
	}
	c, err := Assemble(AssembleOptions{Origin: "example.org/fed", Apex: "fed.test.", Genesis: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		NameServers: []constitution.Host{{Name: "ns1.fed.test.", Addrs: []string{"192.0.2.1"}}}}, pubs)
	if err != nil {
		t.Fatal(err)
	}
	return c, keys
}

func TestInitMemberRefusesSecondRun(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitMember(dir, "alpha", ""); err != nil {
		t.Fatal(err)
	}
	_, err := InitMember(dir, "alpha", "")
	if err == nil || !strings.Contains(err.Error(), "already initialised") {
		t.Fatalf("second InitMember: %v, want a refusal", err)
	}
	if _, err := InitMember(t.TempDir(), "Alpha", ""); err == nil {
		t.Fatal("InitMember accepted an upper-case name")
	}
}

func TestConstitutionSigs(t *testing.T) {
	c, keys := ceremony(t, "alpha", "bravo", "charlie", "delta")
	sig := func(name string) []byte {
		b, err := SignConstitution(c, keys[name].Signer)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	all, err := MergeConstitutionSigs(c, sig("delta"), sig("alpha"), sig("charlie"), sig("bravo"), sig("alpha"))
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(all, []byte("\n— ")); got != 4 {
		t.Errorf("merged note has %d signatures, want 4:\n%s", got, all)
	}
	two, err := MergeConstitutionSigs(c, sig("alpha"), sig("bravo"))
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := NewKey("zulu")
	other, _ := ceremony(t, "alpha", "bravo", "charlie", "delta")
	foreign, err := SignConstitution(other, keys["alpha"].Signer)
	if err != nil {
		t.Fatal(err)
	}
	// A signature by a key named like a founder but not the founder's.
	impostor, _ := NewKey("charlie")
	impostorLine := strings.SplitAfter(string(mustSign(t, c, impostor)), "\n\n")[1]
	forged := append(bytes.Clone(two), impostorLine...)
	corrupt := bytes.Replace(sig("bravo"), []byte("— bravo "), []byte("— bravo A"), 1)

	tests := []struct {
		name    string
		sigs    []byte
		missing []string // nil: no MissingSignaturesError
		errText string
	}{
		{"all", all, nil, ""},
		{"two", two, []string{"charlie", "delta"}, `the constitution lacks the signatures of founders "charlie", "delta"`},
		{"one", sig("alpha"), []string{"bravo", "charlie", "delta"}, `founders "bravo", "charlie", "delta"`},
		{"impostor", forged, []string{"charlie", "delta"}, `founders "charlie", "delta"`},
		{"another document", foreign, nil, "another document"},
		{"garbage", []byte("hello\n"), nil, "not a signed note"},
		{"corrupt", corrupt, nil, "constitution signatures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckConstitutionSigs(c, tt.sigs)
			var miss *MissingSignaturesError
			switch {
			case tt.errText == "" && err != nil:
				t.Fatalf("CheckConstitutionSigs = %v, want nil", err)
			case tt.errText == "":
				return
			case err == nil || !strings.Contains(err.Error(), tt.errText):
				t.Fatalf("CheckConstitutionSigs = %v, want an error with %q", err, tt.errText)
			case tt.missing != nil && (!errors.As(err, &miss) || strings.Join(miss.Founders, ",") != strings.Join(tt.missing, ",")):
				t.Fatalf("CheckConstitutionSigs = %#v, want founders %q missing", err, tt.missing)
			}
		})
	}
	if _, err := SignConstitution(c, stranger.Signer); err == nil {
		t.Error("a stranger signed the constitution")
	}
	if _, err := MergeConstitutionSigs(c, foreign); err == nil {
		t.Error("merged a signature on another constitution")
	}
}

func mustSign(t *testing.T, c *constitution.Constitution, k *Key) []byte {
	t.Helper()
	b, err := SignConstitution(c, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePublicRefuses(t *testing.T) {
	k, _ := NewKey("alpha")
	good := `{"name":"alpha","key":"` + k.Verifier + `","validator":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","node_id":"0123456789abcdef0123456789abcdef01234567"}`
	if _, err := ParsePublic([]byte(good)); err != nil {
		t.Fatalf("ParsePublic(good) = %v", err)
	}
	tests := []struct{ name, in, want string }{
		{"other name", strings.Replace(good, `"name":"alpha"`, `"name":"bravo"`, 1), `key is named "alpha"`},
		{"short validator", strings.Replace(good, `AAAA=`, `=`, 1), "validator"},
		{"node id", strings.Replace(good, `01234567"`, `0123"`, 1), "node_id"},
		{"unknown field", strings.Replace(good, `{`, `{"x":1,`, 1), "x"},
		{"bad key", strings.Replace(good, k.Verifier, "alpha+00+AA", 1), "key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePublic([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParsePublic = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func FuzzParsePublic(f *testing.F) {
	k, _ := NewKey("alpha")
	f.Add([]byte(`{"name":"alpha","key":"` + k.Verifier + `","validator":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","node_id":"0123456789abcdef0123456789abcdef01234567","p2p":"10.0.0.1:26656"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePublic(b)
		if err == nil && (p.Name == "" || p.Key == "") {
			t.Fatalf("ParsePublic accepted %q as %+v", b, p)
		}
	})
}

func FuzzCheckConstitutionSigs(f *testing.F) {
	dir := f.TempDir()
	var pubs []Public
	var keys []*Key
	for _, name := range []string{"alpha", "bravo"} {
		p, err := InitMember(filepath.Join(dir, name), name, "")
		if err != nil {
			f.Fatal(err)
		}
		pubs = append(pubs, *p)
		k, _ := LoadKey(MemberDirKey(filepath.Join(dir, name), name))
		keys = append(keys, k)
	}
	c, err := Assemble(AssembleOptions{Origin: "example.org/fuzz", Apex: "fed.test.", Genesis: time.Unix(0, 0),
		NameServers: []constitution.Host{{Name: "ns1.fed.test.", Addrs: []string{"192.0.2.1"}}}}, pubs)
	if err != nil {
		f.Fatal(err)
	}
	a, _ := SignConstitution(c, keys[0].Signer)
	b, _ := SignConstitution(c, keys[1].Signer)
	both, _ := MergeConstitutionSigs(c, a, b)
	f.Add(a)
	f.Add(both)
	f.Add([]byte("commonroot/constitution/v1\n"))
	f.Fuzz(func(t *testing.T, sigs []byte) {
		if err := CheckConstitutionSigs(c, sigs); err == nil {
			// Accepted: both founders' signatures must really be there.
			if _, err := MergeConstitutionSigs(c, sigs); err != nil {
				t.Fatalf("accepted %q but cannot merge it: %v", sigs, err)
			}
			if !bytes.Contains(sigs, []byte(ConstitutionSigText(c))) {
				t.Fatalf("accepted %q, which does not hold the signed text", sigs)
			}
		}
	})
}
