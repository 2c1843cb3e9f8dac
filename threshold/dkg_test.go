package threshold

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

// dkgRound1 runs round one for all n participants.
func dkgRound1(t testing.TB, rng io.Reader, p DKGParams) ([]*DKGSecret, []*Round1Package) {
	t.Helper()
	var secrets []*DKGSecret
	var pkgs []*Round1Package
	for id := 1; id <= p.N; id++ {
		s, pkg, err := DKGRound1(rng, p, uint16(id))
		if err != nil {
			t.Fatal(err)
		}
		// Packages travel encoded.
		dec, err := DecodeRound1Package(pkg.Encode())
		if err != nil {
			t.Fatal(err)
		}
		secrets, pkgs = append(secrets, s), append(pkgs, dec)
	}
	return secrets, pkgs
}

// plainShares returns, for each recipient j, the shares sent to j.
func plainShares(t testing.TB, secrets []*DKGSecret) [][]Round2Share {
	t.Helper()
	n := len(secrets)
	in := make([][]Round2Share, n+1)
	for _, s := range secrets {
		for j := 1; j <= n; j++ {
			if j == int(s.ID()) {
				continue
			}
			sh, err := s.Share(uint16(j))
			if err != nil {
				t.Fatal(err)
			}
			in[j] = append(in[j], sh)
		}
	}
	return in
}

// TestDKGSigning runs the DKG (plaintext shares) for several (t, n); all
// participants agree on the public key package and transcript, and t-of-n
// signing with the resulting shares passes crypto/ed25519.Verify.
func TestDKGSigning(t *testing.T) {
	for i, tc := range tnCases {
		t.Run(fmt.Sprintf("%d-of-%d", tc.t, tc.n), func(t *testing.T) {
			rng := testRand(uint64(1000 + i))
			p := DKGParams{Context: []byte("test federation, key 1, attempt 1"), Threshold: tc.t, N: tc.n}
			secrets, pkgs := dkgRound1(t, rng, p)
			in := plainShares(t, secrets)
			shares, pkp := finishAll(t, p, secrets, pkgs, in)
			checkSigning(t, rng, shares, pkp)
		})
	}
}

// finishAll finishes every participant and checks that they agree.
func finishAll(t *testing.T, p DKGParams, secrets []*DKGSecret, pkgs []*Round1Package, in [][]Round2Share) ([]*KeyShare, *PublicKeyPackage) {
	t.Helper()
	want, err := DKGPublicKeyPackage(p, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	wantHash, err := TranscriptHash(p, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	var shares []*KeyShare
	for _, s := range secrets {
		ks, pkp, err := s.Finish(pkgs, in[s.ID()])
		if err != nil {
			t.Fatalf("Finish(%d): %v", s.ID(), err)
		}
		if !bytes.Equal(pkp.Encode(), want.Encode()) {
			t.Errorf("participant %d has another public key package", s.ID())
		}
		if !bytes.Equal(ks.GroupKey.Bytes(), want.GroupKey.Bytes()) {
			t.Errorf("participant %d has another group key", s.ID())
		}
		h, _ := TranscriptHash(p, pkgs)
		if h != wantHash {
			t.Error("transcript hash is not deterministic")
		}
		if _, err := DecodeKeyShare(ks.Encode()); err != nil {
			t.Errorf("key share %d: %v", s.ID(), err)
		}
		shares = append(shares, ks)
	}
	// The group key is the sum of the constant-term commitments.
	y := edwards25519.NewIdentityPoint()
	for _, pkg := range pkgs {
		y.Add(y, pkg.Commitment[0])
	}
	if y.Equal(want.GroupKey) != 1 {
		t.Error("group key is not the sum of the C_i0")
	}
	return shares, want
}

// TestDKGBadShare: among 4, participant 2 sends a bad share to 3. Only 3's
// Finish fails, naming 2.
func TestDKGBadShare(t *testing.T) {
	rng := testRand(1100)
	p := DKGParams{Context: []byte("bad share"), Threshold: 3, N: 4}
	secrets, pkgs := dkgRound1(t, rng, p)
	in := plainShares(t, secrets)
	for i, sh := range in[3] {
		if sh.From == 2 {
			in[3][i].Value = new(edwards25519.Scalar).Add(sh.Value, scalarOne)
			if err := VerifyRound2Share(pkgs[1], in[3][i]); err == nil {
				t.Error("VerifyRound2Share accepts the bad share")
			}
		}
	}
	for _, s := range secrets {
		_, _, err := s.Finish(pkgs, in[s.ID()])
		var be *BlameError
		switch {
		case s.ID() == 3 && (!errors.As(err, &be) || !slices.Equal(be.Culprits, []uint16{2})):
			t.Errorf("Finish(3) err = %v, want blame on 2", err)
		case s.ID() != 3 && err != nil:
			t.Errorf("Finish(%d): %v", s.ID(), err)
		}
	}
}

// TestDKGBadProof: a bad or replayed proof of knowledge, or a rogue C_0,
// is rejected and its sender named.
func TestDKGBadProof(t *testing.T) {
	rng := testRand(1200)
	p := DKGParams{Context: []byte("proofs"), Threshold: 2, N: 3}
	_, pkgs := dkgRound1(t, rng, p)
	other := DKGParams{Context: []byte("another ceremony"), Threshold: 2, N: 3}
	_, otherPkgs := dkgRound1(t, rng, other)
	mutate := func(f func(r *Round1Package)) *Round1Package {
		r, err := DecodeRound1Package(pkgs[1].Encode())
		if err != nil {
			t.Fatal(err)
		}
		f(r)
		return r
	}
	B := edwards25519.NewGeneratorPoint()
	tests := []struct {
		name string
		pkg  *Round1Package
	}{
		{"z+1", mutate(func(r *Round1Package) { r.ProofZ = new(edwards25519.Scalar).Add(r.ProofZ, scalarOne) })},
		{"other R", mutate(func(r *Round1Package) { r.ProofR = new(edwards25519.Point).Add(r.ProofR, B) })},
		// Rogue key: C_0 replaced (e.g. [x]B - Σ others) without knowing its log.
		{"rogue C0", mutate(func(r *Round1Package) { r.Commitment[0] = new(edwards25519.Point).Subtract(B, pkgs[0].Commitment[0]) })},
		{"other encryption key", mutate(func(r *Round1Package) { r.EncryptionKey = pkgs[0].EncryptionKey })},
		// Participant 1's package relabelled as 2's: the proof is bound to 1.
		{"replayed under other ID", func() *Round1Package {
			r, _ := DecodeRound1Package(pkgs[0].Encode())
			r.ID = 2
			return r
		}()},
		// Participant 2's package from another ceremony.
		{"replayed from other context", otherPkgs[1]},
		{"short commitment", mutate(func(r *Round1Package) { r.Commitment = r.Commitment[:1] })},
		{"torsion in commitment", mutate(func(r *Round1Package) {
			r.Commitment[1] = new(edwards25519.Point).Add(r.Commitment[1], mustPoint(t, smallOrderEncodings[4]))
		})},
		{"low-order encryption key", mutate(func(r *Round1Package) { r.EncryptionKey = [32]byte{} })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var be *BlameError
			if err := VerifyRound1Package(p, tc.pkg); !errors.As(err, &be) || !slices.Equal(be.Culprits, []uint16{2}) {
				t.Errorf("VerifyRound1Package err = %v, want blame on 2", err)
			}
			set := []*Round1Package{pkgs[0], tc.pkg, pkgs[2]}
			if _, err := DKGPublicKeyPackage(p, set); !errors.As(err, &be) || !slices.Equal(be.Culprits, []uint16{2}) {
				t.Errorf("DKGPublicKeyPackage err = %v, want blame on 2", err)
			}
		})
	}
	for _, pkg := range pkgs {
		if err := VerifyRound1Package(p, pkg); err != nil {
			t.Errorf("honest package %d: %v", pkg.ID, err)
		}
	}
	// Encoded torsion is refused by the decoder already.
	enc := pkgs[0].Encode()
	copy(enc[4:], mustPoint(t, smallOrderEncodings[4]).Bytes())
	if _, err := DecodeRound1Package(enc); !errors.Is(err, ErrInvalidPoint) {
		t.Errorf("DecodeRound1Package with an order-8 point: err = %v, want ErrInvalidPoint", err)
	}
}

// TestDKGChecks covers the remaining refusals of the DKG functions.
func TestDKGChecks(t *testing.T) {
	rng := testRand(1300)
	p := DKGParams{Context: []byte("checks"), Threshold: 2, N: 3}
	for _, bad := range []DKGParams{{Threshold: 2, N: 3}, {Context: []byte("x"), Threshold: 0, N: 3}, {Context: []byte("x"), Threshold: 4, N: 3}} {
		if _, _, err := DKGRound1(rng, bad, 1); err == nil {
			t.Errorf("DKGRound1(%+v) accepted", bad)
		}
	}
	for _, id := range []uint16{0, 4} {
		if _, _, err := DKGRound1(rng, p, id); err == nil {
			t.Errorf("DKGRound1(id=%d) accepted", id)
		}
	}
	secrets, pkgs := dkgRound1(t, rng, p)
	in := plainShares(t, secrets)
	if _, _, err := secrets[0].Finish([]*Round1Package{pkgs[1], pkgs[0], pkgs[2]}, in[1]); err == nil {
		t.Error("Finish accepted packages out of order")
	}
	if _, _, err := secrets[0].Finish(pkgs, in[1][:1]); err == nil {
		t.Error("Finish accepted a missing share")
	}
	if _, _, err := secrets[0].Finish(pkgs, []Round2Share{in[1][0], in[1][0]}); err == nil {
		t.Error("Finish accepted a duplicate share")
	}
	if _, _, err := secrets[0].Finish(pkgs, in[2]); err == nil {
		t.Error("Finish accepted shares meant for another participant")
	}
	// Own package replaced by another valid one.
	_, alt, _ := DKGRound1(rng, p, 1)
	if _, _, err := secrets[0].Finish([]*Round1Package{alt, pkgs[1], pkgs[2]}, in[1]); err == nil {
		t.Error("Finish accepted a changed own package")
	}
	if _, err := secrets[0].Share(1); err == nil {
		t.Error("Share to self accepted")
	}
	if _, _, err := secrets[0].Finish(pkgs, in[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets[0].Share(2); err == nil {
		t.Error("Share after Finish accepted: the polynomial must be erased")
	}
	if _, err := TranscriptHash(p, pkgs[:2]); err == nil {
		t.Error("TranscriptHash of a partial set accepted")
	}
	h1, _ := TranscriptHash(p, pkgs)
	q := p
	q.Context = []byte("checkt")
	h2, _ := TranscriptHash(q, pkgs)
	if h1 == h2 {
		t.Error("transcript hash does not depend on the context")
	}
}

func FuzzDecodeRound1Package(f *testing.F) {
	p := DKGParams{Context: []byte("fuzz"), Threshold: 2, N: 3}
	_, pkg, _ := DKGRound1(testRand(1), p, 1)
	f.Add(pkg.Encode())
	f.Add(pkg.Encode()[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRound1Package(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, r.Encode())
		}
		_ = VerifyRound1Package(p, r) // must not panic
	})
}

func FuzzDecodeRound2Share(f *testing.F) {
	f.Add(Round2Share{From: 1, To: 2, Value: scalarOne}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRound2Share(b)
		if err == nil && !bytes.Equal(r.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, r.Encode())
		}
	})
}
