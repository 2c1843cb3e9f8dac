package threshold

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// ContextString is the RFC 9591 §6.1 context string of the ciphersuite.
const ContextString = "FROST-ED25519-SHA512-v1"

// Sizes of the encodings.
const (
	ScalarSize = 32 // SerializeScalar: little-endian, < L
	PointSize  = 32 // SerializeElement: RFC 8032 §5.1.2
	IDSize     = 2  // a participant identifier on the wire, big-endian
)

// MaxParticipants is the largest identifier (and n) this package accepts.
const MaxParticipants = 65535

// Errors callers may branch on (errors.Is).
var (
	// ErrInvalidPoint: a point is badly encoded, non-canonical, the identity
	// or outside the prime-order subgroup.
	ErrInvalidPoint = errors.New("invalid point")
	// ErrInvalidScalar: a scalar is badly sized or not canonical (≥ L).
	ErrInvalidScalar = errors.New("invalid scalar")
	// ErrInvalidID: an identifier is 0 or out of range.
	ErrInvalidID = errors.New("invalid participant identifier")
)

var (
	scalarOne      = mustScalar(1)
	scalarMinusOne = new(edwards25519.Scalar).Negate(scalarOne) // L-1
	identity       = edwards25519.NewIdentityPoint()
)

// scalarFromUint64 returns x as a scalar (x < 2^64 < L).
func scalarFromUint64(x uint64) *edwards25519.Scalar {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[:], x)
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b[:])
	if err != nil {
		panic("threshold: small integer not canonical: " + err.Error())
	}
	return s
}

func mustScalar(x uint64) *edwards25519.Scalar { return scalarFromUint64(x) }

// idScalar returns identifier id as a scalar; its Bytes() are the 32-byte
// little-endian encoding RFC 9591 hashes.
func idScalar(id uint16) *edwards25519.Scalar { return scalarFromUint64(uint64(id)) }

// DecodeScalar decodes a 32-byte canonical little-endian scalar (< L).
func DecodeScalar(b []byte) (*edwards25519.Scalar, error) {
	if len(b) != ScalarSize {
		return nil, fmt.Errorf("threshold: scalar is %d bytes, want %d: %w", len(b), ScalarSize, ErrInvalidScalar)
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b)
	if err != nil {
		return nil, fmt.Errorf("threshold: scalar %x is not canonical: %w", b, ErrInvalidScalar)
	}
	return s, nil
}

// DecodePoint is RFC 9591's DeserializeElement for edwards25519, strict: the
// 32 bytes must be the canonical encoding of a point that is not the identity
// and lies in the prime-order subgroup. Points from other parties must only
// ever be obtained through it (or pass ValidatePoint).
func DecodePoint(b []byte) (*edwards25519.Point, error) {
	if len(b) != PointSize {
		return nil, fmt.Errorf("threshold: point is %d bytes, want %d: %w", len(b), PointSize, ErrInvalidPoint)
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return nil, fmt.Errorf("threshold: point %x does not decode: %w", b, ErrInvalidPoint)
	}
	if !canonical(b) {
		return nil, fmt.Errorf("threshold: point %x is not canonically encoded: %w", b, ErrInvalidPoint)
	}
	if err := ValidatePoint(p); err != nil {
		return nil, fmt.Errorf("threshold: point %x: %w", b, err)
	}
	return p, nil
}

// decodeCheckedPoint decodes the canonical encoding of a point that
// DecodePoint accepted before and that was kept since: it refuses what does
// not decode, a non-canonical encoding and the identity, but does not
// repeat the subgroup checks.
func decodeCheckedPoint(b []byte) (*edwards25519.Point, error) {
	if len(b) != PointSize {
		return nil, fmt.Errorf("threshold: point is %d bytes, want %d: %w", len(b), PointSize, ErrInvalidPoint)
	}
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil || !canonical(b) {
		return nil, fmt.Errorf("threshold: point %x is not a canonical encoding: %w", b, ErrInvalidPoint)
	}
	if p.Equal(identity) == 1 {
		return nil, fmt.Errorf("threshold: point %x: identity element: %w", b, ErrInvalidPoint)
	}
	return p, nil
}

// canonical reports whether the 32 bytes that SetBytes decoded are the
// point's canonical encoding, as re-encoding it would give, without the
// field inversion that re-encoding costs. SetBytes accepts two kinds of
// others: y ≥ p = 2^255 − 19 (the 19 values from p to 2^255 − 1), and x = 0
// with the sign bit set, which only y = 1 and y = p − 1 give.
func canonical(b []byte) bool {
	y := [32]byte(b)
	y[31] &= 0x7f
	if y[31] == 0x7f && y[0] >= 0xed && allFF(y[1:31]) {
		return false // y ≥ p
	}
	if b[31]&0x80 != 0 {
		// y = 1 or y = p − 1 = 0x7fff…ffec: x = 0, so no sign.
		one := y[0] == 1 && allZero(y[1:])
		minusOne := y[0] == 0xec && y[31] == 0x7f && allFF(y[1:31])
		return !one && !minusOne
	}
	return true
}

func allFF(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// ValidatePoint reports whether p may be used as a received element: not the
// identity, not of small order, and in the prime-order subgroup.
func ValidatePoint(p *edwards25519.Point) error {
	if p == nil {
		return fmt.Errorf("missing point: %w", ErrInvalidPoint)
	}
	if p.Equal(identity) == 1 {
		return fmt.Errorf("identity element: %w", ErrInvalidPoint)
	}
	// [8]P = identity exactly when P has small order (1, 2, 4 or 8).
	if new(edwards25519.Point).MultByCofactor(p).Equal(identity) == 1 {
		return fmt.Errorf("point of small order: %w", ErrInvalidPoint)
	}
	// Torsion check: P is in the prime-order subgroup exactly when [L]P is
	// the identity. L is not a Scalar, so compute [L-1]P + P. Points are
	// public, so variable time is fine.
	q := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(scalarMinusOne, p, edwards25519.NewScalar())
	if q.Add(q, p).Equal(identity) != 1 {
		return fmt.Errorf("point has a torsion component: %w", ErrInvalidPoint)
	}
	return nil
}

// hashToScalar returns SHA-512(parts...) reduced mod L.
func hashToScalar(parts ...[]byte) *edwards25519.Scalar {
	h := sha512.New()
	for _, p := range parts {
		h.Write(p)
	}
	s, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	if err != nil {
		panic("threshold: SetUniformBytes on a SHA-512 digest: " + err.Error())
	}
	return s
}

func hash64(parts ...[]byte) []byte {
	h := sha512.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// h1 to h5 are RFC 9591 §6.1's hash functions.
func h1(m []byte) *edwards25519.Scalar { return hashToScalar([]byte(ContextString+"rho"), m) }

// h2 has no context string, for RFC 8032 compatibility (RFC 9591 §6.1).
func h2(parts ...[]byte) *edwards25519.Scalar { return hashToScalar(parts...) }
func h3(parts ...[]byte) *edwards25519.Scalar {
	return hashToScalar(append([][]byte{[]byte(ContextString + "nonce")}, parts...)...)
}
func h4(m []byte) []byte { return hash64([]byte(ContextString+"msg"), m) }
func h5(m []byte) []byte { return hash64([]byte(ContextString+"com"), m) }

// hdkg is the DKG proof-of-knowledge challenge hash, domain-separated like
// the RFC 9591 hashes (as other FROST implementations do).
func hdkg(parts ...[]byte) *edwards25519.Scalar {
	return hashToScalar(append([][]byte{[]byte(ContextString + "dkg")}, parts...)...)
}

// randomScalar is RFC 9591 App. D.2: 64 random bytes reduced mod L. It never
// returns zero.
func randomScalar(rand io.Reader) (*edwards25519.Scalar, error) {
	var b [64]byte
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("threshold: reading randomness: %w", err)
		}
		s, err := new(edwards25519.Scalar).SetUniformBytes(b[:])
		if err != nil {
			return nil, err
		}
		clear(b[:])
		if s.Equal(edwards25519.NewScalar()) == 0 {
			return s, nil
		}
	}
}

// zeroScalar overwrites s with zero (best effort: Go may have copied it).
func zeroScalar(s *edwards25519.Scalar) {
	if s != nil {
		s.Set(edwards25519.NewScalar())
	}
}

func appendID(b []byte, id uint16) []byte { return binary.BigEndian.AppendUint16(b, id) }

func readID(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// lagrange returns λ_i for x = id over the identifiers in ids (RFC 9591
// §4.2, derive_interpolating_value); ids must be distinct and contain id.
func lagrange(id uint16, ids []uint16) (*edwards25519.Scalar, error) {
	xi := idScalar(id)
	num := scalarFromUint64(1)
	den := scalarFromUint64(1)
	found := false
	for _, j := range ids {
		if j == id {
			if found {
				return nil, fmt.Errorf("threshold: identifier %d repeated in signer set", id)
			}
			found = true
			continue
		}
		xj := idScalar(j)
		num.Multiply(num, xj)
		den.Multiply(den, new(edwards25519.Scalar).Subtract(xj, xi))
	}
	if !found {
		return nil, fmt.Errorf("threshold: identifier %d not in signer set", id)
	}
	return num.Multiply(num, new(edwards25519.Scalar).Invert(den)), nil
}
