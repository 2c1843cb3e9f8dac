package threshold

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/edwards25519"
)

// Pedersen DKG (FROST paper, Komlo & Goldberg 2020, Fig. 1 "KeyGen";
// "SimplPedPop" in Chu et al. 2023), in these steps for participant i:
//
//  1. DKGRound1: pick a random polynomial f_i of degree t-1, publish
//     Round1Package{C_i = [a_ik]B, a proof of knowledge of a_i0 bound to i,
//     the parameters and the session context, a fresh X25519 encryption key}.
//  2. When all n packages are in (over a broadcast channel that prevents
//     equivocation, e.g. the consensus log), check them all (VerifyRound1Package,
//     or Round2 does it) and agree on TranscriptHash.
//  3. Send f_i(j) to each j ≠ i: Share (plaintext) or Round2 (sealed to j's
//     encryption key, see seal.go); sealed shares should travel in messages
//     signed by the sender so that complaints can be judged.
//  4. Finish: check every received share against its sender's commitment
//     (a failure names the sender), s_i = Σ_j f_j(i), Y = Σ_j C_j0.
//
// On any failure, abort and start again with fresh polynomials and keys (a
// new Context); blame is attributed with *BlameError and complaints.

// DKGParams are the parameters every participant agrees on before round 1.
type DKGParams struct {
	// Context identifies this DKG attempt (e.g. federation origin, ceremony
	// name and attempt number). It must never repeat: proofs of knowledge,
	// sealed shares and the transcript are bound to it.
	Context   []byte
	Threshold int // t, 1 ≤ t ≤ N
	N         int // n, participants have identifiers 1..n
}

func (p DKGParams) check() error {
	if len(p.Context) == 0 {
		return errors.New("threshold: DKG context is empty")
	}
	if len(p.Context) > 1<<16 {
		return fmt.Errorf("threshold: DKG context is %d bytes, too long", len(p.Context))
	}
	return checkTN(p.Threshold, p.N)
}

// encode returns an unambiguous encoding of the parameters for hashing.
func (p DKGParams) encode() []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(p.Context)))
	b = append(b, p.Context...)
	b = appendID(b, uint16(p.Threshold))
	return appendID(b, uint16(p.N))
}

// BlameError names participants proven to have misbehaved in a DKG.
type BlameError struct {
	Culprits []uint16 // ascending
	Reason   string
}

func (e *BlameError) Error() string {
	s := make([]string, len(e.Culprits))
	for i, id := range e.Culprits {
		s[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("threshold: DKG participant(s) %s: %s", strings.Join(s, ", "), e.Reason)
}

func blame(id uint16, format string, args ...any) *BlameError {
	return &BlameError{Culprits: []uint16{id}, Reason: fmt.Sprintf(format, args...)}
}

// Round1Package is a participant's public round-one message.
type Round1Package struct {
	ID            uint16
	Commitment    VSSCommitment       // [a_0]B .. [a_{t-1}]B
	ProofR        *edwards25519.Point // Schnorr proof of knowledge of a_0: R = [k]B
	ProofZ        *edwards25519.Scalar
	EncryptionKey [32]byte // X25519 public key for sealed round-two shares
}

// Round1PackageSize returns the encoded size of a package for threshold t.
func Round1PackageSize(t int) int { return 2*IDSize + (t+1)*PointSize + ScalarSize + 32 }

// Encode returns ID (2) || t (2) || C_0..C_{t-1} || R || z || EncryptionKey.
func (r *Round1Package) Encode() []byte {
	b := make([]byte, 0, Round1PackageSize(len(r.Commitment)))
	b = appendID(b, r.ID)
	b = appendID(b, uint16(len(r.Commitment)))
	for _, c := range r.Commitment {
		b = append(b, c.Bytes()...)
	}
	b = append(b, r.ProofR.Bytes()...)
	b = append(b, r.ProofZ.Bytes()...)
	return append(b, r.EncryptionKey[:]...)
}

// DecodeRound1Package decodes a received round-one package, checking every
// point and scalar encoding. It does not check the proof of knowledge or the
// parameters: call VerifyRound1Package.
func DecodeRound1Package(b []byte) (*Round1Package, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("threshold: round-one package is %d bytes, too short", len(b))
	}
	id, t := readID(b), int(readID(b[2:]))
	if id == 0 {
		return nil, fmt.Errorf("threshold: round-one package identifier 0: %w", ErrInvalidID)
	}
	if t == 0 || len(b) != Round1PackageSize(t) {
		return nil, fmt.Errorf("threshold: round-one package of %d is %d bytes, want %d for t=%d", id, len(b), Round1PackageSize(t), t)
	}
	r := &Round1Package{ID: id}
	off := 4
	for k := range t {
		c, err := DecodePoint(b[off : off+PointSize])
		if err != nil {
			return nil, fmt.Errorf("threshold: round-one package of %d, commitment %d: %w", id, k, err)
		}
		r.Commitment = append(r.Commitment, c)
		off += PointSize
	}
	var err error
	if r.ProofR, err = DecodePoint(b[off : off+PointSize]); err != nil {
		return nil, fmt.Errorf("threshold: round-one package of %d, proof R: %w", id, err)
	}
	off += PointSize
	if r.ProofZ, err = DecodeScalar(b[off : off+ScalarSize]); err != nil {
		return nil, fmt.Errorf("threshold: round-one package of %d, proof z: %w", id, err)
	}
	off += ScalarSize
	copy(r.EncryptionKey[:], b[off:])
	return r, nil
}

// pokChallenge is the proof-of-knowledge challenge: it binds the
// parameters (with the session context), the identifier, C_0, R and the
// encryption key.
func pokChallenge(p DKGParams, id uint16, c0, r *edwards25519.Point, encKey []byte) *edwards25519.Scalar {
	return hdkg(p.encode(), idScalar(id).Bytes(), c0.Bytes(), r.Bytes(), encKey)
}

// DKGSecret is a participant's secret DKG state between round one and
// Finish: its polynomial and its encryption key. Keep it only as long as the
// DKG runs; Finish zeroes the polynomial.
type DKGSecret struct {
	params   DKGParams
	id       uint16
	coeffs   []*edwards25519.Scalar
	encKey   *ecdh.PrivateKey
	package1 *Round1Package
}

// ID returns the participant's identifier.
func (s *DKGSecret) ID() uint16 { return s.id }

// Package returns the participant's own round-one package.
func (s *DKGSecret) Package() *Round1Package { return s.package1 }

// Zero erases the polynomial (best effort). The encryption key is kept, so
// that a complaint can still be made.
func (s *DKGSecret) Zero() {
	for _, a := range s.coeffs {
		zeroScalar(a)
	}
	s.coeffs = nil
}

// DKGRound1 is participant id's round one: a random polynomial of degree
// t-1, its commitment, a proof of knowledge of its constant term and a fresh
// X25519 encryption key, all drawn from rand.
func DKGRound1(rand io.Reader, p DKGParams, id uint16) (*DKGSecret, *Round1Package, error) {
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	if id == 0 || int(id) > p.N {
		return nil, nil, fmt.Errorf("threshold: DKG identifier %d not in 1..%d: %w", id, p.N, ErrInvalidID)
	}
	s := &DKGSecret{params: p, id: id}
	for range p.Threshold {
		a, err := randomScalar(rand)
		if err != nil {
			return nil, nil, err
		}
		s.coeffs = append(s.coeffs, a)
	}
	var kb [32]byte
	if _, err := io.ReadFull(rand, kb[:]); err != nil {
		return nil, nil, fmt.Errorf("threshold: reading randomness: %w", err)
	}
	encKey, err := ecdh.X25519().NewPrivateKey(kb[:])
	clear(kb[:])
	if err != nil {
		return nil, nil, err
	}
	s.encKey = encKey
	k, err := randomScalar(rand)
	if err != nil {
		return nil, nil, err
	}
	defer zeroScalar(k)
	pkg := &Round1Package{
		ID:         id,
		Commitment: commitPolynomial(s.coeffs),
		ProofR:     new(edwards25519.Point).ScalarBaseMult(k),
	}
	copy(pkg.EncryptionKey[:], encKey.PublicKey().Bytes())
	c := pokChallenge(p, id, pkg.Commitment[0], pkg.ProofR, pkg.EncryptionKey[:])
	pkg.ProofZ = new(edwards25519.Scalar).MultiplyAdd(s.coeffs[0], c, k) // z = k + a_0·c
	s.package1 = pkg
	return s, pkg, nil
}

// lowOrderProbe is a fixed X25519 key used to detect low-order encryption
// keys (X25519 with any clamped scalar gives all zeros for them).
var lowOrderProbe, _ = ecdh.X25519().NewPrivateKey(make([]byte, 32))

// VerifyRound1Package checks a received round-one package under p: its
// identifier is in 1..n, its commitment has t valid points, its encryption
// key is not of low order, and its proof of knowledge verifies for this
// identifier and context. Any failure is a *BlameError naming pkg.ID.
func VerifyRound1Package(p DKGParams, pkg *Round1Package) error {
	if err := p.check(); err != nil {
		return err
	}
	if pkg == nil {
		return errors.New("threshold: missing round-one package")
	}
	if pkg.ID == 0 || int(pkg.ID) > p.N {
		return blame(pkg.ID, "identifier not in 1..%d", p.N)
	}
	if len(pkg.Commitment) != p.Threshold {
		return blame(pkg.ID, "commitment has %d points, want t=%d", len(pkg.Commitment), p.Threshold)
	}
	for k, c := range pkg.Commitment {
		if err := ValidatePoint(c); err != nil {
			return blame(pkg.ID, "commitment %d: %v", k, err)
		}
	}
	if err := ValidatePoint(pkg.ProofR); err != nil {
		return blame(pkg.ID, "proof R: %v", err)
	}
	if pkg.ProofZ == nil {
		return blame(pkg.ID, "proof z missing")
	}
	pub, err := ecdh.X25519().NewPublicKey(pkg.EncryptionKey[:])
	if err == nil {
		_, err = lowOrderProbe.ECDH(pub)
	}
	if err != nil {
		return blame(pkg.ID, "encryption key %x unusable: %v", pkg.EncryptionKey, err)
	}
	// R = [z]B - [c]C_0
	c := pokChallenge(p, pkg.ID, pkg.Commitment[0], pkg.ProofR, pkg.EncryptionKey[:])
	negC := new(edwards25519.Scalar).Negate(c)
	r := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negC, pkg.Commitment[0], pkg.ProofZ)
	if r.Equal(pkg.ProofR) != 1 {
		return blame(pkg.ID, "proof of knowledge does not verify")
	}
	return nil
}

// VerifyRound1Packages checks a complete set of round-one packages: exactly
// n, in identifier order 1..n, each passing VerifyRound1Package. Every bad
// package is named in the *BlameError.
func VerifyRound1Packages(p DKGParams, packages []*Round1Package) error {
	if err := p.check(); err != nil {
		return err
	}
	if len(packages) != p.N {
		return fmt.Errorf("threshold: %d round-one packages, want n=%d", len(packages), p.N)
	}
	var culprits []uint16
	var reasons []string
	for i, pkg := range packages {
		if pkg == nil || pkg.ID != uint16(i+1) {
			return fmt.Errorf("threshold: round-one package %d is not that of participant %d (packages must be in identifier order)", i, i+1)
		}
		var be *BlameError
		if err := VerifyRound1Package(p, pkg); errors.As(err, &be) {
			culprits = append(culprits, pkg.ID)
			reasons = append(reasons, be.Error())
		} else if err != nil {
			return err
		}
	}
	if len(culprits) > 0 {
		return &BlameError{Culprits: culprits, Reason: "bad round-one package: " + strings.Join(reasons, "; ")}
	}
	return nil
}

// TranscriptHash is a deterministic SHA-256 digest over the parameters and
// all round-one packages (in identifier order, as VerifyRound1Packages
// requires). Participants sign and compare it to detect equivocation before
// they use the key.
func TranscriptHash(p DKGParams, packages []*Round1Package) ([32]byte, error) {
	if err := p.check(); err != nil {
		return [32]byte{}, err
	}
	if len(packages) != p.N {
		return [32]byte{}, fmt.Errorf("threshold: %d round-one packages, want n=%d", len(packages), p.N)
	}
	h := sha256.New()
	h.Write([]byte(ContextString + " DKG transcript v1\x00"))
	h.Write(p.encode())
	for i, pkg := range packages {
		if pkg == nil || pkg.ID != uint16(i+1) || len(pkg.Commitment) != p.Threshold {
			return [32]byte{}, fmt.Errorf("threshold: round-one package %d is not a t=%d package of participant %d", i, p.Threshold, i+1)
		}
		h.Write(pkg.Encode())
	}
	return [32]byte(h.Sum(nil)), nil
}

// DKGPublicKeyPackage computes, from all round-one packages, the group key
// Y = Σ_i C_i0 and every participant's verification share
// PK_j = Σ_i Σ_k [j^k] C_ik, so anyone can check signature shares. It checks
// the packages with VerifyRound1Packages.
func DKGPublicKeyPackage(p DKGParams, packages []*Round1Package) (*PublicKeyPackage, error) {
	if err := VerifyRound1Packages(p, packages); err != nil {
		return nil, err
	}
	// The commitments add up coefficient by coefficient: the sum is the
	// commitment to Σ_i f_i.
	sum := make(VSSCommitment, p.Threshold)
	for k := range sum {
		sum[k] = edwards25519.NewIdentityPoint()
		for _, pkg := range packages {
			sum[k].Add(sum[k], pkg.Commitment[k])
		}
	}
	if err := ValidatePoint(sum[0]); err != nil {
		return nil, fmt.Errorf("threshold: DKG group key: %w", err)
	}
	return sum.PublicKeyPackage(p.N)
}

// Round2Share is the secret share f_From(To) that participant From sends to
// participant To.
type Round2Share struct {
	From, To uint16
	Value    *edwards25519.Scalar
}

// Round2ShareSize is the length of an encoded Round2Share.
const Round2ShareSize = 2*IDSize + ScalarSize

// Encode returns From (2) || To (2) || Value. The result is secret.
func (r Round2Share) Encode() []byte {
	return append(appendID(appendID(nil, r.From), r.To), r.Value.Bytes()...)
}

// DecodeRound2Share decodes a received round-two share.
func DecodeRound2Share(b []byte) (Round2Share, error) {
	if len(b) != Round2ShareSize {
		return Round2Share{}, fmt.Errorf("threshold: round-two share is %d bytes, want %d", len(b), Round2ShareSize)
	}
	r := Round2Share{From: readID(b), To: readID(b[2:])}
	if r.From == 0 || r.To == 0 || r.From == r.To {
		return Round2Share{}, fmt.Errorf("threshold: round-two share from %d to %d: %w", r.From, r.To, ErrInvalidID)
	}
	v, err := DecodeScalar(b[4:])
	if err != nil {
		return Round2Share{}, fmt.Errorf("threshold: round-two share from %d to %d: %w", r.From, r.To, err)
	}
	r.Value = v
	return r, nil
}

// Share returns the round-two share f_i(to) for participant to ≠ i.
func (s *DKGSecret) Share(to uint16) (Round2Share, error) {
	if s.coeffs == nil {
		return Round2Share{}, errors.New("threshold: DKG polynomial already erased")
	}
	if to == 0 || int(to) > s.params.N || to == s.id {
		return Round2Share{}, fmt.Errorf("threshold: round-two share from %d to %d: %w", s.id, to, ErrInvalidID)
	}
	return Round2Share{From: s.id, To: to, Value: evalPolynomial(s.coeffs, to)}, nil
}

// VerifyRound2Share checks a received share against its sender's round-one
// package: [Value]B = Σ_k [To^k] C_From,k. A mismatch is a *BlameError
// naming the sender.
func VerifyRound2Share(sender *Round1Package, share Round2Share) error {
	if sender == nil || sender.ID != share.From {
		return fmt.Errorf("threshold: round-two share from %d checked against another participant's package", share.From)
	}
	if share.Value == nil || share.To == 0 {
		return blame(share.From, "empty round-two share to %d", share.To)
	}
	got := new(edwards25519.Point).ScalarBaseMult(share.Value)
	if got.Equal(sender.Commitment.Evaluate(share.To)) != 1 {
		return blame(share.From, "round-two share to %d does not match its commitment", share.To)
	}
	return nil
}

// Finish completes the DKG for this participant from all n round-one
// packages (identifier order, own package unchanged) and the n-1 round-two
// shares sent to it (any order). Every share that fails its check is named
// in a *BlameError. On success it returns the key share, the public key
// package, and erases the polynomial.
func (s *DKGSecret) Finish(packages []*Round1Package, shares []Round2Share) (*KeyShare, *PublicKeyPackage, error) {
	if s.coeffs == nil {
		return nil, nil, errors.New("threshold: DKG polynomial already erased")
	}
	pkp, err := DKGPublicKeyPackage(s.params, packages)
	if err != nil {
		return nil, nil, err
	}
	if string(packages[s.id-1].Encode()) != string(s.package1.Encode()) {
		return nil, nil, fmt.Errorf("threshold: round-one package of %d differs from the one this participant made", s.id)
	}
	if len(shares) != s.params.N-1 {
		return nil, nil, fmt.Errorf("threshold: %d round-two shares, want n-1=%d", len(shares), s.params.N-1)
	}
	seen := make([]bool, s.params.N+1)
	var bad []uint16
	var reasons []string
	secret := evalPolynomial(s.coeffs, s.id)
	for _, sh := range shares {
		if sh.To != s.id || sh.From == 0 || int(sh.From) > s.params.N || sh.From == s.id {
			return nil, nil, fmt.Errorf("threshold: round-two share from %d to %d given to participant %d", sh.From, sh.To, s.id)
		}
		if seen[sh.From] {
			return nil, nil, fmt.Errorf("threshold: two round-two shares from %d", sh.From)
		}
		seen[sh.From] = true
		if err := VerifyRound2Share(packages[sh.From-1], sh); err != nil {
			bad = append(bad, sh.From)
			reasons = append(reasons, err.Error())
			continue
		}
		secret.Add(secret, sh.Value)
	}
	if len(bad) > 0 {
		zeroScalar(secret)
		slices.Sort(bad)
		return nil, nil, &BlameError{Culprits: bad, Reason: "bad round-two share: " + strings.Join(reasons, "; ")}
	}
	ks := &KeyShare{
		ID:       s.id,
		Secret:   secret,
		Public:   new(edwards25519.Point).ScalarBaseMult(secret),
		GroupKey: pkp.GroupKey,
	}
	if ks.Public.Equal(pkp.VerificationShare(s.id)) != 1 {
		return nil, nil, fmt.Errorf("threshold: DKG verification share of %d does not match its signing share", s.id)
	}
	s.Zero()
	return ks, pkp, nil
}
