package threshold

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"filippo.io/edwards25519"
)

// testRand returns a deterministic randomness source for tests.
func testRand(seed uint64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(s)
}

// round1 runs round one for the signers in ids and returns their nonces and
// the sorted commitment list.
func round1(t testing.TB, rng io.Reader, shares []*KeyShare, ids []uint16) (map[uint16]*SigningNonces, []SigningCommitment) {
	t.Helper()
	nonces := map[uint16]*SigningNonces{}
	var list []SigningCommitment
	for _, id := range ids {
		nc, err := Commit(rng, shares[id-1])
		if err != nil {
			t.Fatal(err)
		}
		nonces[id] = nc
		list = append(list, nc.Commitment())
	}
	return nonces, list
}

// round2 has each signer of list sign msg.
func round2(t testing.TB, shares []*KeyShare, nonces map[uint16]*SigningNonces, msg []byte, list []SigningCommitment) []SignatureShare {
	t.Helper()
	var out []SignatureShare
	for _, c := range list {
		sh, err := Sign(shares[c.ID-1], nonces[c.ID], msg, list)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sh)
	}
	return out
}

// signerSets returns a few signer subsets of 1..n of size k, deterministic.
func signerSets(n, k int) [][]uint16 {
	var sets [][]uint16
	first := make([]uint16, k) // lowest ids
	last := make([]uint16, k)  // highest ids
	spread := make([]uint16, k)
	for i := range k {
		first[i] = uint16(i + 1)
		last[i] = uint16(n - k + i + 1)
		spread[i] = uint16(1 + i*(n-1)/max(k-1, 1))
	}
	sets = append(sets, first, last, spread)
	all := make([]uint16, n)
	for i := range n {
		all[i] = uint16(i + 1)
	}
	return append(sets, all)
}

var tnCases = []struct{ t, n int }{{2, 3}, {3, 4}, {3, 5}, {5, 7}}

// TestDealerSigning signs with t-of-n dealer keys for several (t, n) and
// signer sets; crypto/ed25519.Verify must accept every signature.
func TestDealerSigning(t *testing.T) {
	for i, tc := range tnCases {
		t.Run(fmt.Sprintf("%d-of-%d", tc.t, tc.n), func(t *testing.T) {
			rng := testRand(uint64(100 + i))
			shares, vss, err := DealerKeygen(rng, tc.t, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range shares {
				if err := vss.VerifyShare(s); err != nil {
					t.Fatal(err)
				}
			}
			pkp, err := vss.PublicKeyPackage(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			checkSigning(t, rng, shares, pkp)
		})
	}
}

// checkSigning signs with several signer sets of size t..n and checks the
// signatures with crypto/ed25519.Verify.
func checkSigning(t *testing.T, rng io.Reader, shares []*KeyShare, pkp *PublicKeyPackage) {
	t.Helper()
	for _, set := range signerSets(pkp.N(), pkp.Threshold) {
		msg := fmt.Appendf(nil, "signed by %v", set)
		nonces, list := round1(t, rng, shares, set)
		sig, err := Aggregate(pkp, msg, list, round2(t, shares, nonces, msg, list))
		if err != nil {
			t.Fatalf("signers %v: %v", set, err)
		}
		if !ed25519.Verify(pkp.GroupKey.Bytes(), msg, sig) {
			t.Fatalf("signers %v: crypto/ed25519.Verify rejects the signature", set)
		}
		if err := VerifySignature(pkp.GroupKey, msg, sig); err != nil {
			t.Fatal(err)
		}
		if ed25519.Verify(pkp.GroupKey.Bytes(), append(msg, '!'), sig) {
			t.Fatalf("signers %v: signature verifies for another message", set)
		}
	}
}

// TestTooFewSigners: t-1 signers cannot produce a signature. Aggregate
// refuses the short list; with the threshold in the package lowered to lie,
// it computes the sum, crypto/ed25519.Verify rejects it, and no signature is
// returned.
func TestTooFewSigners(t *testing.T) {
	for i, tc := range tnCases {
		t.Run(fmt.Sprintf("%d-of-%d", tc.t, tc.n), func(t *testing.T) {
			rng := testRand(uint64(200 + i))
			shares, vss, err := DealerKeygen(rng, tc.t, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			pkp, _ := vss.PublicKeyPackage(tc.n)
			set := signerSets(tc.n, tc.t-1)[1]
			msg := []byte("too few")
			nonces, list := round1(t, rng, shares, set)
			sigShares := round2(t, shares, nonces, msg, list)
			if _, err := Aggregate(pkp, msg, list, sigShares); !errors.Is(err, ErrTooFewShares) {
				t.Errorf("Aggregate with %d signers: err = %v, want ErrTooFewShares", len(set), err)
			}
			lying := *pkp
			lying.Threshold = tc.t - 1
			sig, err := Aggregate(&lying, msg, list, sigShares)
			if !errors.Is(err, ErrInvalidSignature) || sig != nil {
				t.Errorf("Aggregate with lowered threshold: sig = %x, err = %v, want ErrInvalidSignature", sig, err)
			}
			// The raw sum, as an aggregator that skipped the check would
			// publish it, does not verify either.
			s, err := newSession(pkp.GroupKey, msg, list, tc.n, false)
			if err != nil {
				t.Fatal(err)
			}
			z := edwards25519.NewScalar()
			for _, sh := range sigShares {
				z.Add(z, sh.Z)
			}
			if ed25519.Verify(pkp.GroupKey.Bytes(), msg, append(s.r.Bytes(), z.Bytes()...)) {
				t.Error("t-1 shares made a valid signature")
			}
		})
	}
}

// TestBadShareIdentified: a tampered signature share is named by ID.
// aggregators are the two ways to aggregate: they differ only in what
// they check again.
var aggregators = map[string]func(*PublicKeyPackage, []byte, []SigningCommitment, []SignatureShare) ([]byte, error){
	"Aggregate": Aggregate, "AggregateChecked": AggregateChecked,
}

// TestAggregateChecked: for commitments decoded from checked bytes,
// SignChecked gives each signer's Sign share (and consumes the nonces),
// AggregateChecked gives Aggregate's signature, which ed25519.Verify
// accepts; DecodeCheckedSigningCommitment decodes what
// DecodeSigningCommitment does and refuses bad lengths, identifier 0,
// non-canonical encodings and the identity.
func TestAggregateChecked(t *testing.T) {
	rng := testRand(310)
	shares, vss, _ := DealerKeygen(rng, 3, 4)
	pkp, _ := vss.PublicKeyPackage(4)
	msg := []byte("checked once")
	nonces, list := round1(t, rng, shares, []uint16{1, 3, 4})
	var stored []SigningCommitment
	for _, c := range list {
		d, err := DecodeCheckedSigningCommitment(c.Encode())
		if err != nil || !d.equal(c) {
			t.Fatalf("DecodeCheckedSigningCommitment(%x) = %v, %v", c.Encode(), d, err)
		}
		stored = append(stored, d)
	}
	saved := map[uint16][]byte{}
	for id, nc := range nonces {
		saved[id], _ = nc.Encode()
	}
	sigShares := round2(t, shares, nonces, msg, list)
	// SignChecked over the decoded list gives each signer's share again.
	for i, c := range stored {
		nc, err := DecodeSigningNonces(saved[c.ID])
		if err != nil {
			t.Fatal(err)
		}
		sh, err := SignChecked(shares[c.ID-1], nc, msg, stored)
		if err != nil || sh.ID != c.ID || sh.Z.Equal(sigShares[i].Z) != 1 {
			t.Fatalf("SignChecked as %d = %v, %v; Sign gave %v", c.ID, sh, err, sigShares[i])
		}
		if _, err := SignChecked(shares[c.ID-1], nc, msg, stored); !errors.Is(err, ErrNonceReused) {
			t.Errorf("SignChecked with used nonces: %v, want ErrNonceReused", err)
		}
	}
	want, err := Aggregate(pkp, msg, list, sigShares)
	if err != nil {
		t.Fatal(err)
	}
	got, err := AggregateChecked(pkp, msg, stored, sigShares)
	if err != nil || !bytes.Equal(got, want) || !ed25519.Verify(pkp.GroupKey.Bytes(), msg, got) {
		t.Fatalf("AggregateChecked = %x, %v; Aggregate gave %x", got, err, want)
	}
	if _, err := AggregateChecked(pkp, []byte("another message"), stored, sigShares); err == nil {
		t.Error("AggregateChecked accepts shares over another message")
	}
	good := list[0].Encode()
	// (0, -1) with the sign bit set: SetBytes takes it, it is not canonical.
	nonCanonical := bytes.Repeat([]byte{0xff}, 32)
	nonCanonical[0] = 0xec
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", good[:65]},
		{"identifier 0", append([]byte{0, 0}, good[2:]...)},
		{"identity hiding", append(append([]byte{0, 1}, identity.Bytes()...), good[34:]...)},
		{"non-canonical binding", append(slices.Clone(good[:34]), nonCanonical...)},
	} {
		if _, err := DecodeCheckedSigningCommitment(tc.b); err == nil {
			t.Errorf("%s: DecodeCheckedSigningCommitment(%x) accepted", tc.name, tc.b)
		}
	}
}

func TestBadShareIdentified(t *testing.T) {
	rng := testRand(300)
	shares, vss, _ := DealerKeygen(rng, 3, 5)
	pkp, _ := vss.PublicKeyPackage(5)
	msg := []byte("blame")
	for _, culprits := range [][]uint16{{2}, {5}, {1, 4}} {
		t.Run(fmt.Sprint(culprits), func(t *testing.T) {
			set := []uint16{1, 2, 4, 5}
			nonces, list := round1(t, rng, shares, set)
			sigShares := round2(t, shares, nonces, msg, list)
			for i := range sigShares {
				if slices.Contains(culprits, sigShares[i].ID) {
					sigShares[i].Z = new(edwards25519.Scalar).Add(sigShares[i].Z, scalarOne)
					if err := VerifySignatureShare(pkp, msg, list, sigShares[i]); err == nil {
						t.Errorf("VerifySignatureShare accepts the tampered share of %d", sigShares[i].ID)
					}
				} else if err := VerifySignatureShare(pkp, msg, list, sigShares[i]); err != nil {
					t.Errorf("VerifySignatureShare(%d): %v", sigShares[i].ID, err)
				}
			}
			for name, agg := range aggregators {
				sig, err := agg(pkp, msg, list, sigShares)
				var ise *InvalidSharesError
				if !errors.As(err, &ise) || sig != nil {
					t.Fatalf("%s: sig = %x, err = %v, want *InvalidSharesError", name, sig, err)
				}
				if !slices.Equal(ise.IDs, culprits) {
					t.Errorf("%s: culprits = %v, want %v", name, ise.IDs, culprits)
				}
			}
		})
	}
}

// A share made with another signer's key share is also caught.
func TestShareFromWrongKey(t *testing.T) {
	rng := testRand(301)
	shares, vss, _ := DealerKeygen(rng, 2, 3)
	pkp, _ := vss.PublicKeyPackage(3)
	msg := []byte("wrong key")
	nonces, list := round1(t, rng, shares, []uint16{1, 3})
	good, err := Sign(shares[0], nonces[1], msg, list)
	if err != nil {
		t.Fatal(err)
	}
	// Participant 3 signs with its own nonces but a forged secret.
	forged := *shares[2]
	forged.Secret = new(edwards25519.Scalar).Add(forged.Secret, scalarOne)
	bad, err := Sign(&forged, nonces[3], msg, list)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Aggregate(pkp, msg, list, []SignatureShare{bad, good})
	var ise *InvalidSharesError
	if !errors.As(err, &ise) || !slices.Equal(ise.IDs, []uint16{3}) {
		t.Errorf("Aggregate: err = %v, want culprit 3", err)
	}
}

// torsion points of order 1, 2, 4 and 8 (RFC 8032 encodings), and their
// well-known encodings.
var smallOrderEncodings = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

func mustPoint(t testing.TB, h string) *edwards25519.Point {
	t.Helper()
	b, _ := hex.DecodeString(h)
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		t.Fatalf("SetBytes(%s): %v", h, err)
	}
	return p
}

// TestDecodePoint: small-order, mixed-torsion and non-canonical points are
// refused; honest points are accepted.
func TestDecodePoint(t *testing.T) {
	for _, h := range smallOrderEncodings {
		b, _ := hex.DecodeString(h)
		if p, err := DecodePoint(b); err == nil || !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("DecodePoint(%s) = %v, %v; want ErrInvalidPoint", h, p, err)
		}
		// Small order: [8]P is the identity.
		p := mustPoint(t, h)
		if new(edwards25519.Point).MultByCofactor(p).Equal(identity) != 1 {
			t.Errorf("%s is not of small order", h)
		}
	}
	B := edwards25519.NewGeneratorPoint()
	if _, err := DecodePoint(B.Bytes()); err != nil {
		t.Errorf("DecodePoint(B): %v", err)
	}
	for _, h := range smallOrderEncodings[1:] {
		mixed := new(edwards25519.Point).Add(B, mustPoint(t, h))
		if _, err := DecodePoint(mixed.Bytes()); !errors.Is(err, ErrInvalidPoint) || !strings.Contains(err.Error(), "torsion") {
			t.Errorf("DecodePoint(B + %s) err = %v, want torsion error", h[:8], err)
		}
	}
	// Non-canonical encodings: y + p for small y, and x = 0 with the sign
	// bit set. SetBytes accepts them; DecodePoint must not.
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	nonCanonical := 0
	for y := int64(0); y < 19; y++ {
		var enc [32]byte
		v := new(big.Int).Add(p, big.NewInt(y)).Bytes()
		for i := range v {
			enc[i] = v[len(v)-1-i]
		}
		for _, sign := range []byte{0, 0x80} {
			e := enc
			e[31] |= sign
			if _, err := new(edwards25519.Point).SetBytes(e[:]); err != nil {
				continue
			}
			nonCanonical++
			if _, err := DecodePoint(e[:]); err == nil || !strings.Contains(err.Error(), "canonical") {
				t.Errorf("DecodePoint(%x) err = %v, want non-canonical error", e, err)
			}
		}
	}
	// The identity with the sign bit set (x = 0, "negative").
	mustPoint(t, "0100000000000000000000000000000000000000000000000000000000000080")
	b, _ := hex.DecodeString("0100000000000000000000000000000000000000000000000000000000000080")
	if _, err := DecodePoint(b); err == nil || !strings.Contains(err.Error(), "canonical") {
		t.Errorf("DecodePoint(identity with sign bit) err = %v, want non-canonical error", err)
	}
	if nonCanonical == 0 {
		t.Fatal("no non-canonical encoding was tested")
	}
	for _, bad := range [][]byte{nil, make([]byte, 31), make([]byte, 33), bytes.Repeat([]byte{0xff}, 32)} {
		if _, err := DecodePoint(bad); err == nil {
			t.Errorf("DecodePoint(%x) accepted", bad)
		}
	}
}

func TestDecodeScalar(t *testing.T) {
	l := "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010" // L
	lMinus1 := "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	tests := []struct {
		in string
		ok bool
	}{
		{lMinus1, true},
		{l, false},
		{"0000000000000000000000000000000000000000000000000000000000000000", true},
		{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff0f", true}, // < 2^252 < L
		{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff10", false},
		{"00", false},
	}
	for _, tc := range tests {
		b, _ := hex.DecodeString(tc.in)
		_, err := DecodeScalar(b)
		if got := err == nil; got != tc.ok {
			t.Errorf("DecodeScalar(%s) ok = %v, want %v (err %v)", tc.in, got, tc.ok, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidScalar) {
			t.Errorf("DecodeScalar(%s) err = %v, want ErrInvalidScalar", tc.in, err)
		}
	}
}

// TestSmallOrderCommitmentRefused: a torsion component slipped into a
// commitment is refused by the decoder, by Sign, by Aggregate and by
// UsedCommitments.Use.
func TestSmallOrderCommitmentRefused(t *testing.T) {
	rng := testRand(400)
	shares, vss, _ := DealerKeygen(rng, 2, 3)
	pkp, _ := vss.PublicKeyPackage(3)
	msg := []byte("torsion")
	for _, h := range smallOrderEncodings {
		for _, which := range []string{"hiding", "binding", "replace"} {
			if h == smallOrderEncodings[0] && which != "replace" {
				continue // adding the identity changes nothing
			}
			t.Run(h[:8]+"/"+which, func(t *testing.T) {
				nonces, list := round1(t, rng, shares, []uint16{1, 2})
				honest := slices.Clone(list)
				T := mustPoint(t, h)
				evil := list[1]
				switch which {
				case "hiding":
					evil.Hiding = new(edwards25519.Point).Add(evil.Hiding, T)
				case "binding":
					evil.Binding = new(edwards25519.Point).Add(evil.Binding, T)
				case "replace":
					evil.Hiding = T
				}
				list[1] = evil
				if _, err := DecodeSigningCommitment(evil.Encode()); !errors.Is(err, ErrInvalidPoint) {
					t.Errorf("DecodeSigningCommitment err = %v, want ErrInvalidPoint", err)
				}
				if _, err := Sign(shares[0], nonces[1], msg, list); !errors.Is(err, ErrInvalidPoint) {
					t.Errorf("Sign err = %v, want ErrInvalidPoint", err)
				}
				// The honest list still works for the other signer.
				if _, err := Sign(shares[1], nonces[2], msg, honest); err != nil {
					t.Errorf("Sign with the honest list: %v", err)
				}
				if _, err := Aggregate(pkp, msg, list, []SignatureShare{{ID: 1, Z: scalarOne}, {ID: 2, Z: scalarOne}}); !errors.Is(err, ErrInvalidPoint) {
					t.Errorf("Aggregate err = %v, want ErrInvalidPoint", err)
				}
				u := &UsedCommitments{}
				if err := u.Use(list, 3); !errors.Is(err, ErrInvalidPoint) || u.Len() != 0 {
					t.Errorf("Use err = %v (len %d), want ErrInvalidPoint and nothing recorded", err, u.Len())
				}
			})
		}
	}
}

// TestCommitmentListChecks: unsorted, duplicate, zero and out-of-range
// identifiers are refused, and Sign refuses a list without its own, or with
// its own commitment changed.
func TestCommitmentListChecks(t *testing.T) {
	rng := testRand(500)
	shares, vss, _ := DealerKeygen(rng, 2, 3)
	pkp, _ := vss.PublicKeyPackage(3)
	msg := []byte("lists")
	_, list := round1(t, rng, shares, []uint16{1, 2, 3})
	zeroID := slices.Clone(list)
	zeroID[0].ID = 0
	outOfRange := slices.Clone(list)
	outOfRange[2].ID = 4
	tests := []struct {
		name string
		list []SigningCommitment
	}{
		{"empty", nil},
		{"unsorted", []SigningCommitment{list[1], list[0]}},
		{"duplicate", []SigningCommitment{list[0], list[0]}},
		{"zero id", zeroID},
		{"out of range", outOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckCommitmentList(tc.list, 3); err == nil {
				t.Error("CheckCommitmentList accepted")
			}
			if _, err := Aggregate(pkp, msg, tc.list, nil); err == nil {
				t.Error("Aggregate accepted")
			}
		})
	}
	// Sign: own commitment missing or altered.
	nonces, list := round1(t, rng, shares, []uint16{1, 2})
	if _, err := Sign(shares[0], nonces[1], msg, list[1:]); err == nil {
		t.Error("Sign accepted a list without its own commitment")
	}
	nonces, list = round1(t, rng, shares, []uint16{1, 2})
	altered := slices.Clone(list)
	altered[0].Binding = altered[1].Binding
	if _, err := Sign(shares[0], nonces[1], msg, altered); err == nil {
		t.Error("Sign accepted a list with its own commitment altered")
	}
	// Nonces of one participant with the key share of another.
	nonces, list = round1(t, rng, shares, []uint16{1, 2})
	if _, err := Sign(shares[1], nonces[1], msg, list); err == nil {
		t.Error("Sign accepted nonces of 1 with the key share of 2")
	}
}

// TestNonceSingleUse: nonces are consumed by Sign (also by a failed Sign)
// and zeroed; a second use returns ErrNonceReused.
func TestNonceSingleUse(t *testing.T) {
	rng := testRand(600)
	shares, _, _ := DealerKeygen(rng, 2, 3)
	nonces, list := round1(t, rng, shares, []uint16{1, 2})
	if _, err := Sign(shares[0], nonces[1], []byte("first"), list); err != nil {
		t.Fatal(err)
	}
	if !nonces[1].Used() || nonces[1].hiding.Equal(edwards25519.NewScalar()) != 1 || nonces[1].binding.Equal(edwards25519.NewScalar()) != 1 {
		t.Error("nonces not zeroed after Sign")
	}
	if _, err := Sign(shares[0], nonces[1], []byte("second"), list); !errors.Is(err, ErrNonceReused) {
		t.Errorf("second Sign err = %v, want ErrNonceReused", err)
	}
	// A failed Sign consumes too.
	if _, err := Sign(shares[1], nonces[2], []byte("x"), list[:1]); err == nil {
		t.Fatal("Sign without own commitment accepted")
	}
	if _, err := Sign(shares[1], nonces[2], []byte("x"), list); !errors.Is(err, ErrNonceReused) {
		t.Errorf("Sign after failed Sign err = %v, want ErrNonceReused", err)
	}
}

// TestUsedCommitments: a commitment used in an earlier session is refused,
// whole or in part, and a refused session records nothing.
func TestUsedCommitments(t *testing.T) {
	rng := testRand(700)
	shares, _, _ := DealerKeygen(rng, 2, 3)
	u := &UsedCommitments{}
	_, first := round1(t, rng, shares, []uint16{1, 2})
	if err := u.Use(first, 3); err != nil {
		t.Fatal(err)
	}
	if u.Len() != 4 || !u.Contains(first[0]) || !u.Contains(first[1]) {
		t.Fatalf("after Use: len %d", u.Len())
	}
	_, fresh := round1(t, rng, shares, []uint16{2, 3})
	half := fresh[1]
	half.Binding = first[0].Binding // reuses one point of 1's old commitment
	tests := []struct {
		name string
		list []SigningCommitment
	}{
		{"same session again", first},
		{"one old commitment", []SigningCommitment{first[0], fresh[1]}},
		{"old point under new id", []SigningCommitment{fresh[0], half}},
		{"point twice in one session", []SigningCommitment{fresh[0], {ID: 3, Hiding: fresh[0].Hiding, Binding: fresh[1].Binding}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := u.Points()
			if err := u.Use(tc.list, 3); !errors.Is(err, ErrCommitmentReused) {
				t.Errorf("Use err = %v, want ErrCommitmentReused", err)
			}
			if !slices.Equal(before, u.Points()) {
				t.Error("refused Use changed the set")
			}
		})
	}
	if err := u.Use(fresh, 3); err != nil {
		t.Fatalf("fresh session refused: %v", err)
	}
	// Deterministic: the same calls in another order give the same points,
	// sorted, and restoring gives an equal set.
	v := &UsedCommitments{}
	if err := v.Use(fresh, 3); err != nil {
		t.Fatal(err)
	}
	if err := v.Use(first, 3); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Points(), v.Points()) {
		t.Error("same sessions in another order give another set")
	}
	pts := u.Points()
	if !slices.IsSortedFunc(pts, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }) {
		t.Error("Points not sorted")
	}
	w := NewUsedCommitments(append(pts, pts[0]))
	if !slices.Equal(w.Points(), pts) || !w.Contains(first[1]) {
		t.Error("NewUsedCommitments does not restore the set")
	}
}

func TestEncodingsRoundTrip(t *testing.T) {
	rng := testRand(800)
	shares, vss, _ := DealerKeygen(rng, 3, 4)
	pkp, _ := vss.PublicKeyPackage(4)
	nonces, list := round1(t, rng, shares, []uint16{1, 2, 4})
	sigShares := round2(t, shares, nonces, []byte("m"), list)
	for _, c := range list {
		got, err := DecodeSigningCommitment(c.Encode())
		if err != nil || !got.equal(c) {
			t.Errorf("commitment %d round trip: %v", c.ID, err)
		}
	}
	for _, s := range sigShares {
		got, err := DecodeSignatureShare(s.Encode())
		if err != nil || got.ID != s.ID || got.Z.Equal(s.Z) != 1 {
			t.Errorf("signature share %d round trip: %v", s.ID, err)
		}
	}
	for _, k := range shares {
		got, err := DecodeKeyShare(k.Encode())
		if err != nil || !bytes.Equal(got.Encode(), k.Encode()) {
			t.Errorf("key share %d round trip: %v", k.ID, err)
		}
	}
	got, err := DecodePublicKeyPackage(pkp.Encode())
	if err != nil || !bytes.Equal(got.Encode(), pkp.Encode()) {
		t.Errorf("public key package round trip: %v", err)
	}
	// A key share whose public part does not match its secret is refused.
	bad := shares[0].Encode()
	copy(bad[34:66], shares[1].Public.Bytes())
	if _, err := DecodeKeyShare(bad); err == nil {
		t.Error("DecodeKeyShare accepted a mismatched public share")
	}
	if err := vss.VerifyShare(&KeyShare{ID: 1, Secret: shares[1].Secret, Public: shares[1].Public, GroupKey: shares[1].GroupKey}); err == nil {
		t.Error("VerifyShare accepted share 2 as share 1")
	}
}

func TestSplitSecretArgs(t *testing.T) {
	for _, tc := range []struct{ t, n int }{{0, 3}, {4, 3}, {1, 0}, {2, 70000}} {
		if _, _, err := DealerKeygen(testRand(1), tc.t, tc.n); err == nil {
			t.Errorf("DealerKeygen(t=%d, n=%d) accepted", tc.t, tc.n)
		}
	}
	if _, err := Commit(iotest{}, &KeyShare{ID: 1, Secret: scalarOne}); err == nil {
		t.Error("Commit with failing randomness succeeded")
	}
}

type iotest struct{}

func (iotest) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func FuzzDecodePoint(f *testing.F) {
	f.Add(edwards25519.NewGeneratorPoint().Bytes())
	for _, h := range smallOrderEncodings {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	for _, b := range canonicalEdges() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkCanonical(t, b)
		p, err := DecodePoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Errorf("DecodePoint(%x) re-encodes as %x", b, p.Bytes())
		}
		if ValidatePoint(p) != nil {
			t.Error("decoded point does not validate")
		}
	})
}

// canonicalEdges are encodings around the edges canonical draws: y near
// p, y = ±1 and 0, each with and without the sign bit.
func canonicalEdges() [][]byte {
	var out [][]byte
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	for _, d := range []int64{-21, -20, -2, -1, 0, 1, 2, 18, 19} {
		for _, y := range []*big.Int{new(big.Int).Add(p, big.NewInt(d)), big.NewInt(d + 21)} {
			if y.Sign() < 0 || y.BitLen() > 255 {
				continue
			}
			var enc [32]byte
			v := y.Bytes()
			for i := range v {
				enc[i] = v[len(v)-1-i]
			}
			signed := enc
			signed[31] |= 0x80
			out = append(out, enc[:], signed[:])
		}
	}
	for _, y := range []int64{0, 1} {
		enc := [32]byte{byte(y)}
		signed := enc
		signed[31] |= 0x80
		out = append(out, enc[:], signed[:])
	}
	return out
}

// checkCanonical: for every 32 bytes that SetBytes decodes, canonical
// agrees with re-encoding.
func checkCanonical(t *testing.T, b []byte) {
	t.Helper()
	if len(b) != PointSize {
		return
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return
	}
	if want := bytes.Equal(p.Bytes(), b); canonical(b) != want {
		t.Errorf("canonical(%x) = %v, re-encoding says %v", b, !want, want)
	}
}

// TestCanonical: canonical agrees with re-encoding at its edges (y near p,
// y = ±1 with the sign bit) and for random points and bytes.
func TestCanonical(t *testing.T) {
	decoded := 0
	for _, b := range canonicalEdges() {
		if _, err := new(edwards25519.Point).SetBytes(b); err == nil {
			decoded++
		}
		checkCanonical(t, b)
	}
	if decoded < 10 {
		t.Fatalf("only %d edge encodings decode", decoded)
	}
	rng := testRand(77)
	for range 2000 {
		var b [32]byte
		rng.Read(b[:])
		checkCanonical(t, b[:])
	}
}

func FuzzDecodeScalar(f *testing.F) {
	f.Add(scalarOne.Bytes())
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeScalar(b)
		if err == nil && !bytes.Equal(s.Bytes(), b) {
			t.Errorf("DecodeScalar(%x) re-encodes as %x", b, s.Bytes())
		}
	})
}

func FuzzDecodeSigningCommitment(f *testing.F) {
	shares, _, _ := DealerKeygen(testRand(1), 2, 3)
	nc, _ := Commit(testRand(2), shares[0])
	f.Add(nc.Commitment().Encode())
	bad := nc.Commitment().Encode()
	copy(bad[2:], mustPoint(f, smallOrderEncodings[4]).Bytes())
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeSigningCommitment(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, c.Encode())
		}
	})
}

func FuzzDecodeSignatureShare(f *testing.F) {
	f.Add(SignatureShare{ID: 3, Z: scalarOne}.Encode())
	f.Add(append([]byte{0, 1}, bytes.Repeat([]byte{0xff}, 32)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSignatureShare(b)
		if err == nil && !bytes.Equal(s.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, s.Encode())
		}
	})
}

func FuzzDecodeKeyShare(f *testing.F) {
	shares, _, _ := DealerKeygen(testRand(1), 2, 3)
	f.Add(shares[0].Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKeyShare(b)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, k.Encode())
		}
	})
}

func FuzzDecodePublicKeyPackage(f *testing.F) {
	_, vss, _ := DealerKeygen(testRand(1), 2, 3)
	pkp, _ := vss.PublicKeyPackage(3)
	f.Add(pkp.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePublicKeyPackage(b)
		if err == nil && !bytes.Equal(p.Encode(), b) {
			t.Errorf("round trip of %x gives %x", b, p.Encode())
		}
	})
}

// BenchmarkSign3of4 runs a whole 3-of-4 signing: three round-one commits,
// three signature shares, aggregation with its ed25519.Verify.
func BenchmarkSign3of4(b *testing.B) {
	rng := testRand(900)
	shares, vss, _ := DealerKeygen(rng, 3, 4)
	pkp, _ := vss.PublicKeyPackage(4)
	msg := []byte("benchmark message of a DNSKEY RRset")
	for b.Loop() {
		nonces, list := round1(b, rng, shares, []uint16{1, 2, 4})
		if _, err := Aggregate(pkp, msg, list, round2(b, shares, nonces, msg, list)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignShare measures one signer's share of a message, with the
// commitment list's points checked (Sign) and taken as checked on arrival
// (SignChecked, as the node's signer does with the pool's commitments).
func BenchmarkSignShare(b *testing.B) {
	rng := testRand(902)
	shares, _, _ := DealerKeygen(rng, 3, 4)
	msg := []byte("benchmark message of a DNSKEY RRset")
	for _, bc := range []struct {
		name string
		sign func(*KeyShare, *SigningNonces, []byte, []SigningCommitment) (SignatureShare, error)
	}{{"Sign", Sign}, {"SignChecked", SignChecked}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				nonces, list := round1(b, rng, shares, []uint16{1, 2, 4})
				for i, c := range list {
					list[i], _ = DecodeCheckedSigningCommitment(c.Encode())
				}
				b.StartTimer()
				if _, err := bc.sign(shares[0], nonces[1], msg, list); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAggregate3of4 measures Aggregate (with its ed25519.Verify)
// alone, and AggregateChecked with the commitments decoded from bytes as
// the signing step does.
func BenchmarkAggregate3of4(b *testing.B) {
	rng := testRand(901)
	shares, vss, _ := DealerKeygen(rng, 3, 4)
	pkp, _ := vss.PublicKeyPackage(4)
	msg := []byte("benchmark message of a DNSKEY RRset")
	nonces, list := round1(b, rng, shares, []uint16{1, 2, 4})
	sigShares := round2(b, shares, nonces, msg, list)
	var enc [][]byte
	for _, c := range list {
		enc = append(enc, c.Encode())
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte) (SigningCommitment, error)
		agg    func(*PublicKeyPackage, []byte, []SigningCommitment, []SignatureShare) ([]byte, error)
	}{
		{"Aggregate", DecodeSigningCommitment, Aggregate},
		{"AggregateChecked", DecodeCheckedSigningCommitment, AggregateChecked},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				l := make([]SigningCommitment, len(enc))
				for i, e := range enc {
					var err error
					if l[i], err = bc.decode(e); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := bc.agg(pkp, msg, l, sigShares); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNoncesEncode: encoded nonces sign as the originals would (signing is
// deterministic given the nonces), used nonces cannot be encoded, and
// malformed encodings are refused.
func TestNoncesEncode(t *testing.T) {
	rng := testRand(601)
	shares, vss, _ := DealerKeygen(rng, 2, 3)
	pkp, err := vss.PublicKeyPackage(3)
	if err != nil {
		t.Fatal(err)
	}
	nonces, list := round1(t, rng, shares, []uint16{1, 3})
	b, err := nonces[1].Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeSigningNonces(b)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Commitment().equal(nonces[1].Commitment()) {
		t.Fatal("decoded nonces commit to other points")
	}
	msg := []byte("restarted signer")
	a := round2(t, shares, nonces, msg, list)
	b1, err := Sign(shares[0], again, msg, list)
	if err != nil {
		t.Fatal(err)
	}
	if b1.Z.Equal(a[0].Z) != 1 {
		t.Error("decoded nonces give another share")
	}
	if _, err := Aggregate(pkp, msg, list, a); err != nil {
		t.Fatal(err)
	}
	if _, err := nonces[1].Encode(); !errors.Is(err, ErrNonceReused) {
		t.Errorf("encoding used nonces: err = %v, want ErrNonceReused", err)
	}
	for _, bad := range [][]byte{b[:65], append(bytes.Clone(b), 0), append([]byte{0, 0}, b[2:]...), append(bytes.Clone(b[:2]), bytes.Repeat([]byte{0xff}, 64)...)} {
		if _, err := DecodeSigningNonces(bad); err == nil {
			t.Errorf("DecodeSigningNonces accepted %x", bad)
		}
	}
}
