package threshold

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

// frostSigner runs a whole FROST session for the given signers each time it
// is asked for a signature: a test stand-in for the interactive ceremony,
// so that miekg/dns can build RRSIGs with the group key.
type frostSigner struct {
	t       *testing.T
	rng     io.Reader
	shares  []*KeyShare
	pkp     *PublicKeyPackage
	signers []uint16
}

func (f *frostSigner) Public() crypto.PublicKey { return ed25519.PublicKey(f.pkp.GroupKey.Bytes()) }

func (f *frostSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != 0 {
		return nil, fmt.Errorf("frostSigner: asked for a pre-hashed signature (%v)", opts.HashFunc())
	}
	nonces, list := round1(f.t, f.rng, f.shares, f.signers)
	return Aggregate(f.pkp, msg, list, round2(f.t, f.shares, nonces, msg, list))
}

// TestDNSSECAlgorithm15 signs a small zone with a 3-of-4 DKG key (signers
// 1, 3, 4) as DNSSEC algorithm 15 and has ldns-verify-zone, an independent
// implementation (OpenSSL's Ed25519), validate it against the DNSKEY.
func TestDNSSECAlgorithm15(t *testing.T) {
	verifier := testtool.Path(t, "ldns-verify-zone")
	rng := testRand(3000)
	p := DKGParams{Context: []byte("dnssec"), Threshold: 3, N: 4}
	secrets, pkgs := dkgRound1(t, rng, p)
	shares, pkp := finishAll(t, p, secrets, pkgs, plainShares(t, secrets))
	signer := &frostSigner{t: t, rng: rng, shares: shares, pkp: pkp, signers: []uint16{1, 3, 4}}

	const zoneText = `example. 3600 IN SOA ns.example. hostmaster.example. 1 7200 3600 1209600 3600
example. 3600 IN NS ns.example.
ns.example. 3600 IN A 192.0.2.53
`
	dnskey := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: "example.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     257,
		Protocol:  3,
		Algorithm: dns.ED25519,
		PublicKey: base64.StdEncoding.EncodeToString(pkp.GroupKey.Bytes()),
	}
	var rrs []dns.RR
	zp := dns.NewZoneParser(strings.NewReader(zoneText), "example.", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	rrs = append(rrs, dnskey,
		&dns.NSEC{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 3600},
			NextDomain: "ns.example.", TypeBitMap: []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY}},
		&dns.NSEC{Hdr: dns.RR_Header{Name: "ns.example.", Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: 3600},
			NextDomain: "example.", TypeBitMap: []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}})

	// Group into RRsets (name, type) and sign each.
	type key struct {
		name string
		typ  uint16
	}
	var order []key
	sets := map[key][]dns.RR{}
	for _, rr := range rrs {
		k := key{rr.Header().Name, rr.Header().Rrtype}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	var out strings.Builder
	for _, k := range order {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Name: k.name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
			Algorithm:  dns.ED25519,
			KeyTag:     dnskey.KeyTag(),
			SignerName: "example.",
			Inception:  1704067200, // 2024-01-01
			Expiration: 1767225600, // 2026-01-01
		}
		if err := sig.Sign(signer, sets[k]); err != nil {
			t.Fatalf("signing %s/%s: %v", k.name, dns.TypeToString[k.typ], err)
		}
		if err := sig.Verify(dnskey, sets[k]); err != nil {
			t.Fatalf("miekg/dns rejects the RRSIG over %s/%s: %v", k.name, dns.TypeToString[k.typ], err)
		}
		for _, rr := range sets[k] {
			fmt.Fprintln(&out, rr.String())
		}
		fmt.Fprintln(&out, sig.String())
	}
	dir := t.TempDir()
	zoneFile := filepath.Join(dir, "example.zone")
	keyFile := filepath.Join(dir, "example.key")
	if err := os.WriteFile(zoneFile, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(dnskey.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(verifier, "-k", keyFile, "-t", "20250101000000", zoneFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ldns-verify-zone rejects the FROST-signed zone: %v\n%s\nzone:\n%s", err, b, out.String())
	}

	// The judge is not a rubber stamp: a flipped bit in one RRSIG fails.
	bad := strings.Replace(out.String(), "hostmaster", "hostmastex", 1)
	if err := os.WriteFile(zoneFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(verifier, "-k", keyFile, "-t", "20250101000000", zoneFile).CombinedOutput(); err == nil {
		t.Fatalf("ldns-verify-zone accepts an altered zone:\n%s", b)
	}
}
