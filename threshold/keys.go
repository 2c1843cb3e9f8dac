package threshold

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// KeyShare is one participant's long-lived signing share. Invariants (kept by
// every constructor in this package and checked by DecodeKeyShare):
// 1 ≤ ID, Secret ≠ 0, Public = [Secret]B, GroupKey is a valid point.
type KeyShare struct {
	ID       uint16               // identifier, 1..n
	Secret   *edwards25519.Scalar // signing share s_i; secret
	Public   *edwards25519.Point  // verification share PK_i = [s_i]B
	GroupKey *edwards25519.Point  // group public key, the Ed25519 public key
}

// KeyShareSize is the length of an encoded KeyShare.
const KeyShareSize = IDSize + ScalarSize + 2*PointSize

// Encode returns ID (2 bytes, big-endian) || Secret || Public || GroupKey.
// The result holds the secret share.
func (k *KeyShare) Encode() []byte {
	b := make([]byte, 0, KeyShareSize)
	b = appendID(b, k.ID)
	b = append(b, k.Secret.Bytes()...)
	b = append(b, k.Public.Bytes()...)
	return append(b, k.GroupKey.Bytes()...)
}

// DecodeKeyShare decodes and checks an encoded KeyShare.
func DecodeKeyShare(b []byte) (*KeyShare, error) {
	if len(b) != KeyShareSize {
		return nil, fmt.Errorf("threshold: key share is %d bytes, want %d", len(b), KeyShareSize)
	}
	id := readID(b)
	if id == 0 {
		return nil, fmt.Errorf("threshold: key share identifier 0: %w", ErrInvalidID)
	}
	s, err := DecodeScalar(b[2:34])
	if err != nil {
		return nil, fmt.Errorf("threshold: key share %d secret: %w", id, err)
	}
	pub, err := DecodePoint(b[34:66])
	if err != nil {
		return nil, fmt.Errorf("threshold: key share %d public: %w", id, err)
	}
	gk, err := DecodePoint(b[66:98])
	if err != nil {
		return nil, fmt.Errorf("threshold: key share %d group key: %w", id, err)
	}
	if new(edwards25519.Point).ScalarBaseMult(s).Equal(pub) != 1 {
		return nil, fmt.Errorf("threshold: key share %d: public share does not match secret share", id)
	}
	return &KeyShare{ID: id, Secret: s, Public: pub, GroupKey: gk}, nil
}

// Zero overwrites the secret share (best effort).
func (k *KeyShare) Zero() { zeroScalar(k.Secret) }

// VSSCommitment is a Feldman VSS commitment: the points [a_k]B for the
// coefficients a_0..a_{t-1} of a sharing polynomial, lowest degree first.
// Its length is the threshold t; element 0 is the (group) public key.
type VSSCommitment []*edwards25519.Point

// Evaluate returns Σ_k [id^k] C_k, which is the verification share [f(id)]B
// of participant id.
func (c VSSCommitment) Evaluate(id uint16) *edwards25519.Point {
	scalars := make([]*edwards25519.Scalar, len(c))
	x := idScalar(id)
	pow := scalarFromUint64(1)
	for k := range c {
		scalars[k] = new(edwards25519.Scalar).Set(pow)
		pow.Multiply(pow, x)
	}
	return new(edwards25519.Point).VarTimeMultiScalarMult(scalars, c)
}

// VerifyShare checks a share against the commitment (RFC 9591 App. C.2,
// vss_verify): [Secret]B = Public = Evaluate(ID), and GroupKey = C_0.
func (c VSSCommitment) VerifyShare(k *KeyShare) error {
	if len(c) == 0 {
		return errors.New("threshold: empty VSS commitment")
	}
	if k.ID == 0 {
		return fmt.Errorf("threshold: key share identifier 0: %w", ErrInvalidID)
	}
	pub := new(edwards25519.Point).ScalarBaseMult(k.Secret)
	if pub.Equal(c.Evaluate(k.ID)) != 1 {
		return fmt.Errorf("threshold: key share %d does not match the VSS commitment", k.ID)
	}
	if k.Public == nil || pub.Equal(k.Public) != 1 {
		return fmt.Errorf("threshold: key share %d: public share does not match secret share", k.ID)
	}
	if k.GroupKey == nil || k.GroupKey.Equal(c[0]) != 1 {
		return fmt.Errorf("threshold: key share %d: group key does not match the VSS commitment", k.ID)
	}
	return nil
}

// PublicKeyPackage is what everyone (signers, coordinator, outside verifiers)
// needs to check signature shares: the threshold, the group key and every
// participant's verification share. VerificationShares[i] belongs to
// identifier i+1; len(VerificationShares) is n.
type PublicKeyPackage struct {
	Threshold          int
	GroupKey           *edwards25519.Point
	VerificationShares []*edwards25519.Point
}

// PublicKeyPackage derives the public key package of an n-participant
// sharing from its commitment.
func (c VSSCommitment) PublicKeyPackage(n int) (*PublicKeyPackage, error) {
	if len(c) == 0 || n < len(c) || n > MaxParticipants {
		return nil, fmt.Errorf("threshold: %d participants for a %d-term VSS commitment", n, len(c))
	}
	p := &PublicKeyPackage{Threshold: len(c), GroupKey: new(edwards25519.Point).Set(c[0])}
	for id := 1; id <= n; id++ {
		p.VerificationShares = append(p.VerificationShares, c.Evaluate(uint16(id)))
	}
	return p, nil
}

// N returns the number of participants.
func (p *PublicKeyPackage) N() int { return len(p.VerificationShares) }

// VerificationShare returns the verification share of id, or nil if id is
// out of range.
func (p *PublicKeyPackage) VerificationShare(id uint16) *edwards25519.Point {
	if id == 0 || int(id) > len(p.VerificationShares) {
		return nil
	}
	return p.VerificationShares[id-1]
}

// Encode returns threshold (2 bytes) || n (2 bytes) || GroupKey || the n
// verification shares in identifier order.
func (p *PublicKeyPackage) Encode() []byte {
	b := appendID(nil, uint16(p.Threshold))
	b = appendID(b, uint16(len(p.VerificationShares)))
	b = append(b, p.GroupKey.Bytes()...)
	for _, v := range p.VerificationShares {
		b = append(b, v.Bytes()...)
	}
	return b
}

// DecodePublicKeyPackage decodes and checks an encoded PublicKeyPackage.
func DecodePublicKeyPackage(b []byte) (*PublicKeyPackage, error) {
	if len(b) < 4+PointSize {
		return nil, fmt.Errorf("threshold: public key package is %d bytes, too short", len(b))
	}
	t, n := int(readID(b)), int(readID(b[2:]))
	if t < 1 || n < t {
		return nil, fmt.Errorf("threshold: public key package threshold %d of %d", t, n)
	}
	if len(b) != 4+PointSize*(n+1) {
		return nil, fmt.Errorf("threshold: public key package is %d bytes, want %d for n=%d", len(b), 4+PointSize*(n+1), n)
	}
	gk, err := DecodePoint(b[4 : 4+PointSize])
	if err != nil {
		return nil, fmt.Errorf("threshold: public key package group key: %w", err)
	}
	p := &PublicKeyPackage{Threshold: t, GroupKey: gk}
	for i := range n {
		off := 4 + PointSize*(i+1)
		v, err := DecodePoint(b[off : off+PointSize])
		if err != nil {
			return nil, fmt.Errorf("threshold: public key package share %d: %w", i+1, err)
		}
		p.VerificationShares = append(p.VerificationShares, v)
	}
	return p, nil
}

// DealerKeygen is RFC 9591 App. C's trusted_dealer_keygen with a fresh random
// group secret: it splits it into n shares with threshold t. It is for tests
// and tools; the federation's key comes from the DKG.
func DealerKeygen(rand io.Reader, t, n int) ([]*KeyShare, VSSCommitment, error) {
	secret, err := randomScalar(rand)
	if err != nil {
		return nil, nil, err
	}
	defer zeroScalar(secret)
	return SplitSecret(rand, secret, t, n)
}

// SplitSecret is RFC 9591 App. C's trusted_dealer_keygen: it shares secret
// among identifiers 1..n with threshold t, drawing the other coefficients from
// rand, and returns the shares and the VSS commitment.
func SplitSecret(rand io.Reader, secret *edwards25519.Scalar, t, n int) ([]*KeyShare, VSSCommitment, error) {
	if err := checkTN(t, n); err != nil {
		return nil, nil, err
	}
	if secret.Equal(edwards25519.NewScalar()) == 1 {
		return nil, nil, errors.New("threshold: group secret is zero")
	}
	coeffs := []*edwards25519.Scalar{new(edwards25519.Scalar).Set(secret)}
	for len(coeffs) < t {
		a, err := randomScalar(rand)
		if err != nil {
			return nil, nil, err
		}
		coeffs = append(coeffs, a)
	}
	defer func() {
		for _, a := range coeffs {
			zeroScalar(a)
		}
	}()
	shares, vss := splitPolynomial(coeffs, n)
	return shares, vss, nil
}

func checkTN(t, n int) error {
	if t < 1 || n < t || n > MaxParticipants {
		return fmt.Errorf("threshold: invalid threshold %d of %d participants", t, n)
	}
	return nil
}

// splitPolynomial evaluates the polynomial with coefficients coeffs (lowest
// degree first) at 1..n and commits to the coefficients.
func splitPolynomial(coeffs []*edwards25519.Scalar, n int) ([]*KeyShare, VSSCommitment) {
	vss := commitPolynomial(coeffs)
	shares := make([]*KeyShare, n)
	for i := range n {
		id := uint16(i + 1)
		s := evalPolynomial(coeffs, id)
		shares[i] = &KeyShare{
			ID:       id,
			Secret:   s,
			Public:   new(edwards25519.Point).ScalarBaseMult(s),
			GroupKey: new(edwards25519.Point).Set(vss[0]),
		}
	}
	return shares, vss
}

func commitPolynomial(coeffs []*edwards25519.Scalar) VSSCommitment {
	vss := make(VSSCommitment, len(coeffs))
	for k, a := range coeffs {
		vss[k] = new(edwards25519.Point).ScalarBaseMult(a)
	}
	return vss
}

// evalPolynomial returns f(id) by Horner's rule, in constant time.
func evalPolynomial(coeffs []*edwards25519.Scalar, id uint16) *edwards25519.Scalar {
	x := idScalar(id)
	v := edwards25519.NewScalar()
	for k := len(coeffs) - 1; k >= 0; k-- {
		v.MultiplyAdd(v, x, coeffs[k])
	}
	return v
}
