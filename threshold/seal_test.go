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

// sealedRound2 runs Round2 for everyone and returns, for each recipient j,
// the sealed shares sent to j (after an encode/decode trip).
func sealedRound2(t testing.TB, rng io.Reader, secrets []*DKGSecret, pkgs []*Round1Package) [][]*SealedShare {
	t.Helper()
	in := make([][]*SealedShare, len(secrets)+1)
	for _, s := range secrets {
		out, err := s.Round2(rng, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(secrets)-1 {
			t.Fatalf("Round2(%d) gave %d shares", s.ID(), len(out))
		}
		for _, ss := range out {
			dec, err := DecodeSealedShare(ss.Encode())
			if err != nil {
				t.Fatal(err)
			}
			in[ss.To] = append(in[ss.To], dec)
		}
	}
	return in
}

// TestSealedDKGSigning runs the whole DKG with sealed shares, then signs.
func TestSealedDKGSigning(t *testing.T) {
	for i, tc := range tnCases {
		t.Run(fmt.Sprintf("%d-of-%d", tc.t, tc.n), func(t *testing.T) {
			rng := testRand(uint64(2000 + i))
			p := DKGParams{Context: []byte("sealed"), Threshold: tc.t, N: tc.n}
			secrets, pkgs := dkgRound1(t, rng, p)
			in := sealedRound2(t, rng, secrets, pkgs)
			var shares []*KeyShare
			var pkp *PublicKeyPackage
			for _, s := range secrets {
				ks, pk, err := s.FinishSealed(pkgs, in[s.ID()])
				if err != nil {
					t.Fatalf("FinishSealed(%d): %v", s.ID(), err)
				}
				if pkp != nil && !bytes.Equal(pk.Encode(), pkp.Encode()) {
					t.Fatalf("participant %d has another public key package", s.ID())
				}
				shares, pkp = append(shares, ks), pk
			}
			checkSigning(t, rng, shares, pkp)
		})
	}
}

// TestSealedDKGComplaints: among 4, participant 2 sends a bad (well sealed)
// share to 3; 3 names 2, complains, and the judge blames 2. A false
// complaint, a complaint with a wrong key and an unopenable share are
// judged too.
func TestSealedDKGComplaints(t *testing.T) {
	rng := testRand(2100)
	p := DKGParams{Context: []byte("complaints"), Threshold: 3, N: 4}
	secrets, pkgs := dkgRound1(t, rng, p)
	in := sealedRound2(t, rng, secrets, pkgs)

	// 2 seals a wrong value to 3.
	good, _ := secrets[1].Share(3)
	badShare := Round2Share{From: 2, To: 3, Value: new(edwards25519.Scalar).Add(good.Value, scalarOne)}
	badSealed, err := SealShare(rng, p, badShare, pkgs[2].EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	idx := slices.IndexFunc(in[3], func(s *SealedShare) bool { return s.From == 2 })
	honestFrom2 := in[3][idx]
	in[3][idx] = badSealed

	for _, s := range secrets {
		_, _, err := s.FinishSealed(pkgs, in[s.ID()])
		var be *BlameError
		switch {
		case s.ID() == 3 && (!errors.As(err, &be) || !slices.Equal(be.Culprits, []uint16{2})):
			t.Errorf("FinishSealed(3) err = %v, want blame on 2", err)
		case s.ID() != 3 && err != nil:
			t.Errorf("FinishSealed(%d): %v", s.ID(), err)
		}
	}

	judge := func(c *Complaint) uint16 {
		t.Helper()
		dec, err := DecodeComplaint(c.Encode())
		if err != nil {
			t.Fatal(err)
		}
		culprit, reason, err := JudgeComplaint(p, pkgs, dec)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("judged: %d (%s)", culprit, reason)
		return culprit
	}
	c, err := secrets[2].Complain(badSealed)
	if err != nil {
		t.Fatal(err)
	}
	if got := judge(c); got != 2 {
		t.Errorf("complaint about a bad share: culprit %d, want 2", got)
	}
	// False complaint about the honest share: the accuser is at fault.
	c, _ = secrets[2].Complain(honestFrom2)
	if got := judge(c); got != 3 {
		t.Errorf("false complaint: culprit %d, want 3", got)
	}
	// Revealing another key than the published one.
	c, _ = secrets[2].Complain(badSealed)
	copy(c.EncryptionSecret[:], secrets[0].encKey.Bytes())
	if got := judge(c); got != 3 {
		t.Errorf("complaint with a wrong key: culprit %d, want 3", got)
	}
	// A ciphertext that does not open: the sender is at fault.
	garbled := *honestFrom2
	garbled.Ciphertext = slices.Clone(garbled.Ciphertext)
	garbled.Ciphertext[0] ^= 1
	var be *BlameError
	if _, err := secrets[2].Open([]*SealedShare{&garbled}); !errors.As(err, &be) || !slices.Equal(be.Culprits, []uint16{2}) {
		t.Errorf("Open(garbled) err = %v, want blame on 2", err)
	}
	c, _ = secrets[2].Complain(&garbled)
	if got := judge(c); got != 2 {
		t.Errorf("complaint about an unopenable share: culprit %d, want 2", got)
	}
}

// TestSealBinding: the associated data binds sender, recipient and context.
func TestSealBinding(t *testing.T) {
	rng := testRand(2200)
	p := DKGParams{Context: []byte("binding"), Threshold: 2, N: 3}
	secrets, pkgs := dkgRound1(t, rng, p)
	sh, _ := secrets[0].Share(2)
	sealed, err := SealShare(rng, p, sh, pkgs[1].EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := secrets[1].Open([]*SealedShare{sealed}); err != nil || got[0].Value.Equal(sh.Value) != 1 {
		t.Fatalf("Open: %v", err)
	}
	relabelled := *sealed
	relabelled.From = 3
	otherCtx := p
	otherCtx.Context = []byte("bindinh")
	sealedOtherCtx, _ := SealShare(rng, otherCtx, sh, pkgs[1].EncryptionKey)
	tests := []struct {
		name string
		s    *SealedShare
	}{
		{"sender relabelled", &relabelled},
		{"other context", sealedOtherCtx},
	}
	for _, tc := range tests {
		if _, err := secrets[1].Open([]*SealedShare{tc.s}); err == nil {
			t.Errorf("%s: opened", tc.name)
		}
	}
	// Sealed to 2 but relabelled for 3: 3 cannot open it.
	toOther := *sealed
	toOther.To = 3
	if _, err := secrets[2].Open([]*SealedShare{&toOther}); err == nil {
		t.Error("recipient relabelled: opened")
	}
	if _, err := secrets[2].Open([]*SealedShare{sealed}); err == nil {
		t.Error("Open accepted a share addressed to another participant")
	}
	if _, err := SealShare(rng, p, sh, [32]byte{}); err == nil {
		t.Error("SealShare to a low-order key accepted")
	}
}

func FuzzDecodeSealedShare(f *testing.F) {
	rng := testRand(1)
	p := DKGParams{Context: []byte("fuzz"), Threshold: 2, N: 3}
	secrets, pkgs := dkgRound1(f, rng, p)
	sh, _ := secrets[0].Share(2)
	sealed, _ := SealShare(rng, p, sh, pkgs[1].EncryptionKey)
	f.Add(sealed.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSealedShare(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, s.Encode())
		}
		if s.To == 2 {
			_, _ = secrets[1].Open([]*SealedShare{s}) // must not panic
		}
	})
}

func FuzzDecodeComplaint(f *testing.F) {
	rng := testRand(1)
	p := DKGParams{Context: []byte("fuzz"), Threshold: 2, N: 3}
	secrets, pkgs := dkgRound1(f, rng, p)
	sh, _ := secrets[0].Share(2)
	sealed, _ := SealShare(rng, p, sh, pkgs[1].EncryptionKey)
	c, _ := secrets[1].Complain(sealed)
	f.Add(c.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeComplaint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, c.Encode())
		}
		if _, _, err := JudgeComplaint(p, pkgs, c); err == nil && (c.Accuser > 3 || c.Sealed.From > 3) {
			t.Errorf("judged a complaint between unknown participants %d and %d", c.Accuser, c.Sealed.From)
		}
	})
}
