package threshold

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/edwards25519"
)

var (
	// ErrNonceReused: Sign was given nonces that were already used (or
	// discarded). Nonces are single-use: reuse reveals the secret share.
	ErrNonceReused = errors.New("signing nonces already used")
	// ErrTooFewShares: fewer signers than the threshold.
	ErrTooFewShares = errors.New("fewer signers than the threshold")
	// ErrInvalidSignature: the aggregate signature does not verify and no
	// single share could be blamed.
	ErrInvalidSignature = errors.New("aggregate signature does not verify")
	// ErrCommitmentReused: a commitment was already used in an earlier
	// signing session (UsedCommitments).
	ErrCommitmentReused = errors.New("signing commitment already used")
)

// InvalidSharesError names the signers whose signature shares failed
// verification (RFC 9591 §5.4, identifiable abort).
type InvalidSharesError struct {
	IDs []uint16 // ascending
}

func (e *InvalidSharesError) Error() string {
	s := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		s[i] = fmt.Sprint(id)
	}
	return "threshold: invalid signature share from participant(s) " + strings.Join(s, ", ")
}

// SigningCommitment is a signer's round-one output: the commitments to its
// hiding and binding nonces (RFC 9591 §5.1).
type SigningCommitment struct {
	ID      uint16
	Hiding  *edwards25519.Point // D_i = [d_i]B
	Binding *edwards25519.Point // E_i = [e_i]B
	// enc, when not nil, is the encoding of Hiding then Binding, kept by
	// the decoders: encoding a point costs a field inversion, and every
	// session encodes the whole commitment list. Hiding and Binding are
	// not to be changed after decoding.
	enc []byte
}

// SigningCommitmentSize is the length of an encoded SigningCommitment.
const SigningCommitmentSize = IDSize + 2*PointSize

// Encode returns ID (2 bytes, big-endian) || Hiding || Binding.
func (c SigningCommitment) Encode() []byte {
	return c.appendPoints(appendID(make([]byte, 0, SigningCommitmentSize), c.ID))
}

// appendPoints appends the encodings of Hiding and Binding to b.
func (c SigningCommitment) appendPoints(b []byte) []byte {
	if len(c.enc) == 2*PointSize {
		return append(b, c.enc...)
	}
	b = append(b, c.Hiding.Bytes()...)
	return append(b, c.Binding.Bytes()...)
}

// DecodeSigningCommitment decodes a commitment received from a signer,
// checking both points with DecodePoint.
func DecodeSigningCommitment(b []byte) (SigningCommitment, error) {
	return decodeSigningCommitment(b, DecodePoint)
}

// DecodeCheckedSigningCommitment decodes a commitment whose points passed
// DecodePoint when it was received and were kept since, as the registry
// keeps the nonce commitments it checked on their arrival in a pool: it
// checks the encoding and that neither point is the identity, but not again
// the subgroup, which is most of the cost of aggregating. Bytes from
// anywhere else go through DecodeSigningCommitment.
func DecodeCheckedSigningCommitment(b []byte) (SigningCommitment, error) {
	return decodeSigningCommitment(b, decodeCheckedPoint)
}

// DecodeCheckedSigningCommitment is the package's function, taking the
// points from m when it has them (m may be nil).
func (m *PointMemo) DecodeCheckedSigningCommitment(b []byte) (SigningCommitment, error) {
	return decodeSigningCommitment(b, m.DecodeChecked)
}

func decodeSigningCommitment(b []byte, point func([]byte) (*edwards25519.Point, error)) (SigningCommitment, error) {
	if len(b) != SigningCommitmentSize {
		return SigningCommitment{}, fmt.Errorf("threshold: signing commitment is %d bytes, want %d", len(b), SigningCommitmentSize)
	}
	id := readID(b)
	if id == 0 {
		return SigningCommitment{}, fmt.Errorf("threshold: signing commitment identifier 0: %w", ErrInvalidID)
	}
	d, err := point(b[2:34])
	if err != nil {
		return SigningCommitment{}, fmt.Errorf("threshold: signing commitment of %d, hiding: %w", id, err)
	}
	e, err := point(b[34:66])
	if err != nil {
		return SigningCommitment{}, fmt.Errorf("threshold: signing commitment of %d, binding: %w", id, err)
	}
	return SigningCommitment{ID: id, Hiding: d, Binding: e, enc: bytes.Clone(b[2:66])}, nil
}

func (c SigningCommitment) equal(o SigningCommitment) bool {
	return c.ID == o.ID && c.Hiding != nil && o.Hiding != nil && c.Binding != nil && o.Binding != nil &&
		c.Hiding.Equal(o.Hiding) == 1 && c.Binding.Equal(o.Binding) == 1
}

// SigningNonces is a signer's secret round-one state. It is single-use: Sign
// consumes it (zeroes the nonces) whatever the outcome, and so does Zero.
type SigningNonces struct {
	id         uint16
	hiding     *edwards25519.Scalar
	binding    *edwards25519.Scalar
	commitment SigningCommitment
	used       bool
}

// Commitment returns the public commitment to publish for these nonces.
func (n *SigningNonces) Commitment() SigningCommitment { return n.commitment }

// Used reports whether the nonces were consumed.
func (n *SigningNonces) Used() bool { return n.used }

// Zero discards the nonces without signing.
func (n *SigningNonces) Zero() {
	n.used = true
	zeroScalar(n.hiding)
	zeroScalar(n.binding)
}

// SigningNoncesSize is the length of encoded SigningNonces.
const SigningNoncesSize = IDSize + 2*ScalarSize

// Encode returns ID || hiding nonce || binding nonce: a secret, to keep
// only where the key share is kept, so that a signer that restarts can
// still sign with the commitments it published. Used nonces cannot be
// encoded.
func (n *SigningNonces) Encode() ([]byte, error) {
	if n.used {
		return nil, fmt.Errorf("threshold: encoding nonces: %w", ErrNonceReused)
	}
	b := appendID(make([]byte, 0, SigningNoncesSize), n.id)
	b = append(b, n.hiding.Bytes()...)
	return append(b, n.binding.Bytes()...), nil
}

// DecodeSigningNonces parses what Encode wrote and recomputes the
// commitment.
func DecodeSigningNonces(b []byte) (*SigningNonces, error) {
	if len(b) != SigningNoncesSize {
		return nil, fmt.Errorf("threshold: signing nonces of %d bytes, want %d", len(b), SigningNoncesSize)
	}
	id := readID(b)
	if id == 0 {
		return nil, fmt.Errorf("threshold: signing nonces of participant 0: %w", ErrInvalidID)
	}
	d, err := DecodeScalar(b[IDSize : IDSize+ScalarSize])
	if err != nil {
		return nil, fmt.Errorf("threshold: hiding nonce: %w", err)
	}
	e, err := DecodeScalar(b[IDSize+ScalarSize:])
	if err != nil {
		return nil, fmt.Errorf("threshold: binding nonce: %w", err)
	}
	return &SigningNonces{id: id, hiding: d, binding: e, commitment: SigningCommitment{ID: id,
		Hiding: new(edwards25519.Point).ScalarBaseMult(d), Binding: new(edwards25519.Point).ScalarBaseMult(e)}}, nil
}

// Commit is RFC 9591 §5.1 commit(): it draws hedged hiding and binding nonces
// H3(random_bytes(32) || SerializeScalar(secret)), reading 32 bytes from rand
// for the hiding nonce and then 32 for the binding nonce.
func Commit(rand io.Reader, share *KeyShare) (*SigningNonces, error) {
	if share == nil || share.ID == 0 || share.Secret == nil {
		return nil, fmt.Errorf("threshold: commit: incomplete key share")
	}
	d, err := nonceGenerate(rand, share.Secret)
	if err != nil {
		return nil, err
	}
	e, err := nonceGenerate(rand, share.Secret)
	if err != nil {
		return nil, err
	}
	return &SigningNonces{
		id:      share.ID,
		hiding:  d,
		binding: e,
		commitment: SigningCommitment{
			ID:      share.ID,
			Hiding:  new(edwards25519.Point).ScalarBaseMult(d),
			Binding: new(edwards25519.Point).ScalarBaseMult(e),
		},
	}, nil
}

// nonceGenerate is RFC 9591 §4.1 nonce_generate.
func nonceGenerate(rand io.Reader, secret *edwards25519.Scalar) (*edwards25519.Scalar, error) {
	var r [32]byte
	if _, err := io.ReadFull(rand, r[:]); err != nil {
		return nil, fmt.Errorf("threshold: reading nonce randomness: %w", err)
	}
	defer clear(r[:])
	return h3(r[:], secret.Bytes()), nil
}

// SignatureShare is a signer's round-two output z_i.
type SignatureShare struct {
	ID uint16
	Z  *edwards25519.Scalar
}

// SignatureShareSize is the length of an encoded SignatureShare.
const SignatureShareSize = IDSize + ScalarSize

// Encode returns ID (2 bytes, big-endian) || z.
func (s SignatureShare) Encode() []byte { return append(appendID(nil, s.ID), s.Z.Bytes()...) }

// DecodeSignatureShare decodes a signature share received from a signer.
func DecodeSignatureShare(b []byte) (SignatureShare, error) {
	if len(b) != SignatureShareSize {
		return SignatureShare{}, fmt.Errorf("threshold: signature share is %d bytes, want %d", len(b), SignatureShareSize)
	}
	id := readID(b)
	if id == 0 {
		return SignatureShare{}, fmt.Errorf("threshold: signature share identifier 0: %w", ErrInvalidID)
	}
	z, err := DecodeScalar(b[2:])
	if err != nil {
		return SignatureShare{}, fmt.Errorf("threshold: signature share of %d: %w", id, err)
	}
	return SignatureShare{ID: id, Z: z}, nil
}

// CheckCommitmentList checks a commitment list as a signer or coordinator
// must: non-empty, identifiers in 1..n (n = 0: any non-zero) strictly
// ascending, every point valid (ValidatePoint).
func CheckCommitmentList(commitments []SigningCommitment, n int) error {
	if err := checkListIDs(commitments, n); err != nil {
		return err
	}
	for _, c := range commitments {
		if err := ValidatePoint(c.Hiding); err != nil {
			return fmt.Errorf("threshold: hiding commitment of %d: %w", c.ID, err)
		}
		if err := ValidatePoint(c.Binding); err != nil {
			return fmt.Errorf("threshold: binding commitment of %d: %w", c.ID, err)
		}
	}
	return nil
}

// checkListIDs checks a commitment list's identifiers (1..n, sorted, no
// duplicates) and that every point is there.
func checkListIDs(commitments []SigningCommitment, n int) error {
	if len(commitments) == 0 {
		return errors.New("threshold: empty commitment list")
	}
	for i, c := range commitments {
		if c.ID == 0 || (n > 0 && int(c.ID) > n) {
			return fmt.Errorf("threshold: commitment list entry %d has identifier %d, want 1..%d: %w", i, c.ID, n, ErrInvalidID)
		}
		if i > 0 && c.ID <= commitments[i-1].ID {
			return fmt.Errorf("threshold: commitment list is not sorted by identifier without duplicates (%d after %d)", c.ID, commitments[i-1].ID)
		}
		if c.Hiding == nil || c.Binding == nil {
			return fmt.Errorf("threshold: commitment of %d: missing point: %w", c.ID, ErrInvalidPoint)
		}
	}
	return nil
}

// session holds what every party derives from (group key, msg, commitment
// list): binding factors, group commitment R and challenge c.
type session struct {
	commitments []SigningCommitment
	ids         []uint16
	rho         []*edwards25519.Scalar // rho[i] belongs to commitments[i]
	r           *edwards25519.Point
	c           *edwards25519.Scalar
	// gk and rEnc encode the group key and r.
	gk, rEnc []byte
}

// encodeCommitmentList is RFC 9591 §4.3 encode_group_commitment_list.
func encodeCommitmentList(commitments []SigningCommitment) []byte {
	b := make([]byte, 0, len(commitments)*(ScalarSize+2*PointSize))
	for _, c := range commitments {
		b = append(b, idScalar(c.ID).Bytes()...)
		b = c.appendPoints(b)
	}
	return b
}

// bindingFactorInputs returns RFC 9591 §4.4's rho_input for each commitment;
// groupKey is the group key's encoding.
func bindingFactorInputs(groupKey []byte, msg []byte, commitments []SigningCommitment) [][]byte {
	prefix := append(append(slices.Clip(groupKey), h4(msg)...), h5(encodeCommitmentList(commitments))...)
	in := make([][]byte, len(commitments))
	for i, c := range commitments {
		in[i] = append(slices.Clip(prefix), idScalar(c.ID).Bytes()...)
	}
	return in
}

// newSession derives the session of (group key, msg, commitment list) after
// checking the list. With checked, the group key and the commitments'
// points are taken as checked already (see AggregateChecked): only the
// identifiers are.
func newSession(groupKey *edwards25519.Point, msg []byte, commitments []SigningCommitment, n int, checked bool) (*session, error) {
	if checked {
		if groupKey == nil {
			return nil, fmt.Errorf("threshold: group key: missing point: %w", ErrInvalidPoint)
		}
		if err := checkListIDs(commitments, n); err != nil {
			return nil, err
		}
	} else {
		if err := ValidatePoint(groupKey); err != nil {
			return nil, fmt.Errorf("threshold: group key: %w", err)
		}
		if err := CheckCommitmentList(commitments, n); err != nil {
			return nil, err
		}
	}
	s := &session{commitments: commitments, gk: groupKey.Bytes()}
	bindings := make([]*edwards25519.Point, 0, len(commitments))
	hidings := new(edwards25519.Point).Set(identity)
	for i, in := range bindingFactorInputs(s.gk, msg, commitments) {
		c := commitments[i]
		s.ids = append(s.ids, c.ID)
		s.rho = append(s.rho, h1(in))
		bindings = append(bindings, c.Binding)
		hidings.Add(hidings, c.Hiding)
	}
	// compute_group_commitment (§4.5): Σ D_i + Σ [rho_i]E_i, the second a
	// multi-scalar multiplication; public data, so variable time.
	s.r = new(edwards25519.Point).VarTimeMultiScalarMult(s.rho, bindings)
	s.r.Add(s.r, hidings)
	if s.r.Equal(identity) == 1 {
		return nil, fmt.Errorf("threshold: group commitment is the identity: %w", ErrInvalidPoint)
	}
	// compute_challenge (§4.6): H2(R || PK || msg), RFC 8032's k.
	s.rEnc = s.r.Bytes()
	s.c = h2(s.rEnc, s.gk, msg)
	return s, nil
}

func (s *session) index(id uint16) int {
	i, ok := slices.BinarySearch(s.ids, id)
	if !ok {
		return -1
	}
	return i
}

// Sign is RFC 9591 §5.2 sign(): it returns the signature share of share over
// msg for the given commitment list, which must contain the signer's own
// commitment unchanged. The nonces are consumed whatever the outcome; a
// second call with them returns ErrNonceReused. Sign does not know the
// threshold; the caller must have checked msg against its policy (a signer is
// not a signing oracle, RFC 9591 §7.7).
func Sign(share *KeyShare, nonces *SigningNonces, msg []byte, commitments []SigningCommitment) (SignatureShare, error) {
	return sign(share, nonces, msg, commitments, false)
}

// SignChecked is Sign for a commitment list whose points were all checked
// when they were received and kept since (as AggregateChecked): a signer
// whose own replica of the federation's state checked every commitment on
// its arrival in a pool does not check them again for each message, which
// is most of Sign's cost.
func SignChecked(share *KeyShare, nonces *SigningNonces, msg []byte, commitments []SigningCommitment) (SignatureShare, error) {
	return sign(share, nonces, msg, commitments, true)
}

func sign(share *KeyShare, nonces *SigningNonces, msg []byte, commitments []SigningCommitment, checked bool) (SignatureShare, error) {
	if nonces == nil || nonces.used {
		return SignatureShare{}, fmt.Errorf("threshold: sign: %w", ErrNonceReused)
	}
	defer nonces.Zero()
	if share == nil || share.Secret == nil || share.GroupKey == nil {
		return SignatureShare{}, errors.New("threshold: sign: incomplete key share")
	}
	if nonces.id != share.ID {
		return SignatureShare{}, fmt.Errorf("threshold: sign: nonces of participant %d used with key share %d", nonces.id, share.ID)
	}
	s, err := newSession(share.GroupKey, msg, commitments, 0, checked)
	if err != nil {
		return SignatureShare{}, fmt.Errorf("threshold: sign as %d: %w", share.ID, err)
	}
	i := s.index(share.ID)
	if i < 0 {
		return SignatureShare{}, fmt.Errorf("threshold: sign: own identifier %d missing from the commitment list", share.ID)
	}
	if !commitments[i].equal(nonces.commitment) {
		return SignatureShare{}, fmt.Errorf("threshold: sign: commitment of %d in the list differs from the one made", share.ID)
	}
	lambda, err := lagrange(share.ID, s.ids)
	if err != nil {
		return SignatureShare{}, err
	}
	// z = d + e·rho + lambda·s·c
	z := new(edwards25519.Scalar).Multiply(lambda, s.c)
	z.Multiply(z, share.Secret)
	z.MultiplyAdd(nonces.binding, s.rho[i], z)
	z.Add(z, nonces.hiding)
	return SignatureShare{ID: share.ID, Z: z}, nil
}

// verifyShare is RFC 9591 §5.4 verify_signature_share within a session.
func (s *session) verifyShare(pub *edwards25519.Point, share SignatureShare) bool {
	i := s.index(share.ID)
	if i < 0 || pub == nil || share.Z == nil {
		return false
	}
	lambda, err := lagrange(share.ID, s.ids)
	if err != nil {
		return false
	}
	c := s.commitments[i]
	// [z]B - [c·λ]PK_i must equal D_i + [rho]E_i.
	negCL := new(edwards25519.Scalar).Multiply(s.c, lambda)
	negCL.Negate(negCL)
	l := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(negCL, pub, share.Z)
	r := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(s.rho[i], c.Binding, edwards25519.NewScalar())
	r.Add(r, c.Hiding)
	return l.Equal(r) == 1
}

// VerifySignatureShare is RFC 9591 §5.4: it checks share against the
// verification share of its signer in pkp.
func VerifySignatureShare(pkp *PublicKeyPackage, msg []byte, commitments []SigningCommitment, share SignatureShare) error {
	s, err := newSession(pkp.GroupKey, msg, commitments, pkp.N(), false)
	if err != nil {
		return err
	}
	if !s.verifyShare(pkp.VerificationShare(share.ID), share) {
		return &InvalidSharesError{IDs: []uint16{share.ID}}
	}
	return nil
}

// Aggregate is RFC 9591 §5.3 aggregate() followed by verification. It checks
// the commitment list (at least pkp.Threshold signers, identifiers 1..n), that
// there is exactly one share per commitment, computes the signature R || z and
// verifies it with crypto/ed25519.Verify under the group key. It returns only
// a verified 64-byte Ed25519 signature. If verification fails, it checks each
// share and returns an *InvalidSharesError naming the culprits, or an error
// wrapping ErrInvalidSignature when none can be named.
func Aggregate(pkp *PublicKeyPackage, msg []byte, commitments []SigningCommitment, shares []SignatureShare) ([]byte, error) {
	return aggregate(pkp, msg, commitments, shares, false)
}

// AggregateChecked is Aggregate for a public key package and commitment
// list whose points were all checked when they were received (a package
// from DecodePublicKeyPackage or a key ceremony, commitments kept after
// DecodeSigningCommitment or DecodePoint accepted them): it does not check
// those points again, which is most of Aggregate's cost. Everything else is
// as in Aggregate, the final crypto/ed25519.Verify included: what it
// returns is a valid signature under the group key.
func AggregateChecked(pkp *PublicKeyPackage, msg []byte, commitments []SigningCommitment, shares []SignatureShare) ([]byte, error) {
	return aggregate(pkp, msg, commitments, shares, true)
}

func aggregate(pkp *PublicKeyPackage, msg []byte, commitments []SigningCommitment, shares []SignatureShare, checked bool) ([]byte, error) {
	if pkp == nil || pkp.Threshold < 1 {
		return nil, errors.New("threshold: aggregate: missing public key package")
	}
	if len(commitments) < pkp.Threshold {
		return nil, fmt.Errorf("threshold: aggregate: %d signers for threshold %d: %w", len(commitments), pkp.Threshold, ErrTooFewShares)
	}
	s, err := newSession(pkp.GroupKey, msg, commitments, pkp.N(), checked)
	if err != nil {
		return nil, fmt.Errorf("threshold: aggregate: %w", err)
	}
	if len(shares) != len(commitments) {
		return nil, fmt.Errorf("threshold: aggregate: %d signature shares for %d commitments", len(shares), len(commitments))
	}
	byIndex := make([]*SignatureShare, len(commitments))
	for k := range shares {
		sh := &shares[k]
		i := s.index(sh.ID)
		if i < 0 {
			return nil, fmt.Errorf("threshold: aggregate: signature share from %d, which has no commitment in the list", sh.ID)
		}
		if byIndex[i] != nil {
			return nil, fmt.Errorf("threshold: aggregate: two signature shares from %d", sh.ID)
		}
		if sh.Z == nil {
			return nil, fmt.Errorf("threshold: aggregate: empty signature share from %d", sh.ID)
		}
		byIndex[i] = sh
	}
	z := edwards25519.NewScalar()
	for _, sh := range byIndex {
		z.Add(z, sh.Z)
	}
	sig := append(slices.Clip(s.rEnc), z.Bytes()...)
	if ed25519.Verify(ed25519.PublicKey(s.gk), msg, sig) {
		return sig, nil
	}
	var bad []uint16
	for _, sh := range byIndex {
		if !s.verifyShare(pkp.VerificationShare(sh.ID), *sh) {
			bad = append(bad, sh.ID)
		}
	}
	if len(bad) > 0 {
		return nil, &InvalidSharesError{IDs: bad}
	}
	return nil, fmt.Errorf("threshold: aggregate of %d shares: %w", len(shares), ErrInvalidSignature)
}

// VerifySignature checks a 64-byte signature over msg under the group key
// with crypto/ed25519.Verify, exactly as a DNSSEC validator would.
func VerifySignature(groupKey *edwards25519.Point, msg, sig []byte) error {
	if groupKey == nil || len(sig) != ed25519.SignatureSize ||
		!ed25519.Verify(ed25519.PublicKey(groupKey.Bytes()), msg, sig) {
		return fmt.Errorf("threshold: signature %x: %w", sig, ErrInvalidSignature)
	}
	return nil
}
