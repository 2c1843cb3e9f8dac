package dnssec

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"

	"github.com/commonroot/commonroot/threshold"
)

// frostSigner runs one FROST(Ed25519, SHA-512) session per message with t
// of the n dealer shares, a different signing set for each message in
// turn: a stand-in for the federation's signing through consensus.
type frostSigner struct {
	shares []*threshold.KeyShare
	pkp    *threshold.PublicKeyPackage
	t      int
}

func newFrostSigner(t testing.TB, th, n int) (*frostSigner, Key) {
	t.Helper()
	shares, vss, err := threshold.DealerKeygen(rand.Reader, th, n)
	if err != nil {
		t.Fatal(err)
	}
	pkp, err := vss.PublicKeyPackage(n)
	if err != nil {
		t.Fatal(err)
	}
	return &frostSigner{shares: shares, pkp: pkp, t: th}, Key{Public: ed25519.PublicKey(pkp.GroupKey.Bytes())}
}

func (f *frostSigner) SignBatch(msgs [][]byte) ([][]byte, error) {
	out := make([][]byte, len(msgs))
	errs := make([]error, len(msgs))
	parallel(len(msgs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = f.sign(i, msgs[i])
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
	}
	return out, nil
}

func (f *frostSigner) sign(i int, msg []byte) ([]byte, error) {
	n := len(f.shares)
	var signers []*threshold.KeyShare
	for j := range f.t {
		signers = append(signers, f.shares[(i+j)%n])
	}
	slices.SortFunc(signers, func(a, b *threshold.KeyShare) int { return int(a.ID) - int(b.ID) })
	var nonces []*threshold.SigningNonces
	var list []threshold.SigningCommitment
	for _, s := range signers {
		nc, err := threshold.Commit(rand.Reader, s)
		if err != nil {
			return nil, err
		}
		nonces = append(nonces, nc)
		list = append(list, nc.Commitment())
	}
	var zs []threshold.SignatureShare
	for j, s := range signers {
		z, err := threshold.Sign(s, nonces[j], msg, list)
		if err != nil {
			return nil, err
		}
		zs = append(zs, z)
	}
	return threshold.Aggregate(f.pkp, msg, list, zs)
}

// TestRootFROST signs the real root zone with a 3-of-4 FROST dealer key,
// each RRset by a different set of three members, and has ldns-verify-zone
// check it against the group key's DNSKEY.
func TestRootFROST(t *testing.T) {
	f, k := newFrostSigner(t, 3, 4)
	sz := signWith(t, rootZone(t), k, f, testPolicy)
	if out, err := ldnsVerify(t, zoneText(t, sz), k, "."); err != nil {
		t.Fatalf("ldns-verify-zone rejects the FROST-signed root: %v\n%s", err, out)
	}
	// Two members alone cannot sign.
	two := &frostSigner{shares: f.shares, pkp: f.pkp, t: 2}
	pl, err := NewPlan(sz.Zone(), k, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Sign(two); err == nil {
		t.Fatal("2 of a 3-of-4 key signed the zone")
	}
}
