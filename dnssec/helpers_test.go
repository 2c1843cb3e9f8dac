package dnssec

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/internal/devzone"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/zone"
)

// testKey is a fixed Ed25519 key derived from label.
func testKey(label string) (Key, Ed25519Signer) {
	seed := sha256.Sum256([]byte("commonroot dnssec test key " + label))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return Key{Public: priv.Public().(ed25519.PublicKey)}, Ed25519Signer{Key: priv}
}

// testPolicy is a fixed two-week validity period from the devzone's day.
var testPolicy = Policy{
	Inception:  time.Date(2026, 8, 22, 0, 0, 0, 0, time.UTC),
	Expiration: time.Date(2026, 9, 5, 0, 0, 0, 0, time.UTC),
	Refresh:    3 * 24 * time.Hour,
}

// verifyTime is a time within testPolicy, as ldns-verify-zone's -t wants it.
const verifyTime = "20260825000000"

func rootImport(t testing.TB) *zone.Imported {
	t.Helper()
	imp, err := zone.Import(bytes.NewReader(devzone.Root), ".")
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

func rootZone(t testing.TB) *zone.Zone {
	t.Helper()
	imp := rootImport(t)
	z, err := zone.Build(imp.Params, imp.Serial, imp.Delegations, imp.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func signWith(t testing.TB, z *zone.Zone, k Key, s Signer, p Policy) *Signed {
	t.Helper()
	pl, err := NewPlan(z, k, p)
	if err != nil {
		t.Fatal(err)
	}
	sz, err := pl.Sign(s)
	if err != nil {
		t.Fatal(err)
	}
	return sz
}

func zoneText(t testing.TB, s *Signed) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := s.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// ldnsVerify runs ldns-verify-zone (with the ZONEMD check) on the zone
// text, with the DNSKEY of k as the trust anchor, and returns its error
// and output.
func ldnsVerify(t testing.TB, text []byte, k Key, origin string) (string, error) {
	t.Helper()
	bin := testtool.Path(t, "ldns-verify-zone")
	dir := t.TempDir()
	zf, kf := filepath.Join(dir, "zone"), filepath.Join(dir, "key")
	if err := os.WriteFile(zf, text, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, []byte(k.DNSKEY(origin).String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-Z", "-k", kf, "-t", verifyTime, zf).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
