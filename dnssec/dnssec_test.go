package dnssec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/zone"
)

// TestRootLdnsVerify signs the real root zone with a plain Ed25519 key and
// has ldns-verify-zone check every signature, the NSEC chain and the
// ZONEMD; an altered record must then fail it.
func TestRootLdnsVerify(t *testing.T) {
	k, s := testKey("root")
	sz := signWith(t, rootZone(t), k, s, testPolicy)
	text := zoneText(t, sz)
	if out, err := ldnsVerify(t, text, k, "."); err != nil {
		t.Fatalf("ldns-verify-zone rejects the signed root: %v\n%s", err, out)
	}
	bad := strings.Replace(string(text), "a.nic.aaa.", "a.nic.aab.", 1)
	if bad == string(text) {
		t.Fatal("test zone has no a.nic.aaa.")
	}
	if out, err := ldnsVerify(t, []byte(bad), k, "."); err == nil {
		t.Fatalf("ldns-verify-zone accepts a zone with an altered NS:\n%s", out)
	}
}

// TestRootNamedCheckzone has BIND's named-checkzone load the signed root.
func TestRootNamedCheckzone(t *testing.T) {
	bin := testtool.Path(t, "named-checkzone")
	k, s := testKey("root")
	text := zoneText(t, signWith(t, rootZone(t), k, s, testPolicy))
	f := filepath.Join(t.TempDir(), "root.zone")
	if err := os.WriteFile(f, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-i", "local", "-k", "fail", ".", f).CombinedOutput(); err != nil {
		t.Fatalf("named-checkzone rejects the signed root: %v\n%s", err, out)
	}
}

// TestRootZONEMD checks the signed zone's ZONEMD with zone.VerifyDigest.
func TestRootZONEMD(t *testing.T) {
	k, s := testKey("root")
	sz := signWith(t, rootZone(t), k, s, testPolicy)
	if err := zone.VerifyDigest(sz.Records()); err != nil {
		t.Fatal(err)
	}
	if got, want := sz.Records()[0].String(), sz.Zone().SOA().String(); got != want {
		t.Errorf("first record %q, want the SOA %q", got, want)
	}
}
