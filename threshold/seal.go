package threshold

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealing round-two shares.
//
// Each round-one package carries a fresh X25519 encryption key made for this
// DKG attempt only. A share f_i(j) is sealed to j's key with an ephemeral
// X25519 key: key = HKDF-SHA256(X25519(eph, pk_j), salt = none,
// info = label || eph_pub || pk_j), then ChaCha20-Poly1305 with an all-zero
// nonce (each key encrypts one message) and associated data binding the
// parameters (with the session context), the sender and the recipient.
// Sealed shares must travel in messages signed by their sender (for example
// as actions in the consensus log), so that a sealed share is attributable.
//
// Complaints. When j finds a share from i bad (it does not open, or fails
// the VSS check), j publishes a Complaint holding i's signed sealed share and
// j's per-attempt X25519 private key. Anyone can then judge (JudgeComplaint):
// the key must match j's published encryption key (else j is lying); the
// share must open and pass the check against i's commitment (else i is
// guilty; if it does, j made a false complaint). Revealing j's key discloses
// the shares sent to j in this attempt; that is harmless because any
// complaint aborts the attempt, and the next attempt (new Context) uses new
// polynomials and new encryption keys. This avoids a proof of correct
// decryption at the cost of always aborting, which is the policy anyway.

const sealLabel = ContextString + " DKG share seal v1"

// SealedShareSize is the length of an encoded SealedShare.
const SealedShareSize = 2*IDSize + 32 + ScalarSize + chacha20poly1305.Overhead

// SealedShare is a round-two share encrypted to its recipient.
type SealedShare struct {
	From, To   uint16
	Ephemeral  [32]byte // X25519 ephemeral public key
	Ciphertext []byte   // ScalarSize + 16 bytes
}

// Encode returns From (2) || To (2) || Ephemeral || Ciphertext.
func (s *SealedShare) Encode() []byte {
	b := appendID(appendID(make([]byte, 0, SealedShareSize), s.From), s.To)
	b = append(b, s.Ephemeral[:]...)
	return append(b, s.Ciphertext...)
}

// DecodeSealedShare decodes a received sealed share (it does not open it).
func DecodeSealedShare(b []byte) (*SealedShare, error) {
	if len(b) != SealedShareSize {
		return nil, fmt.Errorf("threshold: sealed share is %d bytes, want %d", len(b), SealedShareSize)
	}
	s := &SealedShare{From: readID(b), To: readID(b[2:])}
	if s.From == 0 || s.To == 0 || s.From == s.To {
		return nil, fmt.Errorf("threshold: sealed share from %d to %d: %w", s.From, s.To, ErrInvalidID)
	}
	copy(s.Ephemeral[:], b[4:36])
	s.Ciphertext = append([]byte(nil), b[36:]...)
	return s, nil
}

func sealAEAD(shared, eph, recipient []byte) (cipherAEAD, error) {
	key, err := hkdf.Key(sha256.New, shared, nil, sealLabel+string(eph)+string(recipient), chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(key)
}

type cipherAEAD interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

func sealAD(p DKGParams, from, to uint16) []byte {
	b := append([]byte(sealLabel+"\x00"), p.encode()...)
	return appendID(appendID(b, from), to)
}

// SealShare encrypts share to the recipient's encryption key (from its
// round-one package), drawing the ephemeral key from rand.
func SealShare(rand io.Reader, p DKGParams, share Round2Share, recipientKey [32]byte) (*SealedShare, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if share.Value == nil || share.From == 0 || share.To == 0 || share.From == share.To {
		return nil, fmt.Errorf("threshold: sealing round-two share from %d to %d: %w", share.From, share.To, ErrInvalidID)
	}
	pub, err := ecdh.X25519().NewPublicKey(recipientKey[:])
	if err != nil {
		return nil, fmt.Errorf("threshold: encryption key of %d: %v", share.To, err)
	}
	var eb [32]byte
	if _, err := io.ReadFull(rand, eb[:]); err != nil {
		return nil, fmt.Errorf("threshold: reading randomness: %w", err)
	}
	eph, err := ecdh.X25519().NewPrivateKey(eb[:])
	clear(eb[:])
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("threshold: encryption key %x of %d: %v", recipientKey, share.To, err)
	}
	s := &SealedShare{From: share.From, To: share.To}
	copy(s.Ephemeral[:], eph.PublicKey().Bytes())
	aead, err := sealAEAD(shared, s.Ephemeral[:], recipientKey[:])
	clear(shared)
	if err != nil {
		return nil, err
	}
	s.Ciphertext = aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), share.Value.Bytes(), sealAD(p, share.From, share.To))
	return s, nil
}

// openShare decrypts s with the recipient's private key; it returns an
// error when it does not open or does not hold a canonical scalar.
func openShare(p DKGParams, priv *ecdh.PrivateKey, s *SealedShare) (Round2Share, error) {
	if len(s.Ciphertext) != ScalarSize+chacha20poly1305.Overhead {
		return Round2Share{}, fmt.Errorf("sealed share from %d to %d has a %d-byte ciphertext", s.From, s.To, len(s.Ciphertext))
	}
	eph, err := ecdh.X25519().NewPublicKey(s.Ephemeral[:])
	if err != nil {
		return Round2Share{}, err
	}
	shared, err := priv.ECDH(eph)
	if err != nil {
		return Round2Share{}, fmt.Errorf("sealed share from %d to %d: ephemeral key %x: %v", s.From, s.To, s.Ephemeral, err)
	}
	aead, err := sealAEAD(shared, s.Ephemeral[:], priv.PublicKey().Bytes())
	clear(shared)
	if err != nil {
		return Round2Share{}, err
	}
	pt, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), s.Ciphertext, sealAD(p, s.From, s.To))
	if err != nil {
		return Round2Share{}, fmt.Errorf("sealed share from %d to %d does not open", s.From, s.To)
	}
	defer clear(pt)
	v, err := DecodeScalar(pt)
	if err != nil {
		return Round2Share{}, fmt.Errorf("sealed share from %d to %d: %v", s.From, s.To, err)
	}
	return Round2Share{From: s.From, To: s.To, Value: v}, nil
}

// Round2 checks all round-one packages (VerifyRound1Packages, own package
// unchanged) and returns this participant's round-two shares, sealed to each
// other participant's encryption key, in recipient order.
func (s *DKGSecret) Round2(rand io.Reader, packages []*Round1Package) ([]*SealedShare, error) {
	if err := VerifyRound1Packages(s.params, packages); err != nil {
		return nil, err
	}
	if string(packages[s.id-1].Encode()) != string(s.package1.Encode()) {
		return nil, fmt.Errorf("threshold: round-one package of %d differs from the one this participant made", s.id)
	}
	var out []*SealedShare
	for _, pkg := range packages {
		if pkg.ID == s.id {
			continue
		}
		sh, err := s.Share(pkg.ID)
		if err != nil {
			return nil, err
		}
		sealed, err := SealShare(rand, s.params, sh, pkg.EncryptionKey)
		zeroScalar(sh.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, sealed)
	}
	return out, nil
}

// Open decrypts the sealed shares addressed to this participant. A share
// that does not open is named in a *BlameError; the participant should then
// Complain, since only a judged complaint proves who is at fault.
func (s *DKGSecret) Open(sealed []*SealedShare) ([]Round2Share, error) {
	var out []Round2Share
	var bad []uint16
	for _, ss := range sealed {
		if ss == nil || ss.To != s.id {
			return nil, fmt.Errorf("threshold: sealed share not addressed to participant %d", s.id)
		}
		sh, err := openShare(s.params, s.encKey, ss)
		if err != nil {
			bad = append(bad, ss.From)
			continue
		}
		out = append(out, sh)
	}
	if len(bad) > 0 {
		for _, sh := range out {
			zeroScalar(sh.Value)
		}
		return nil, &BlameError{Culprits: bad, Reason: "sealed round-two share does not open"}
	}
	return out, nil
}

// FinishSealed is Open followed by Finish.
func (s *DKGSecret) FinishSealed(packages []*Round1Package, sealed []*SealedShare) (*KeyShare, *PublicKeyPackage, error) {
	shares, err := s.Open(sealed)
	if err != nil {
		return nil, nil, err
	}
	return s.Finish(packages, shares)
}

// Complaint is a recipient's public accusation that a sealed share is bad,
// with the evidence needed to judge it.
type Complaint struct {
	Accuser uint16
	Sealed  *SealedShare // exactly as the accused sent (and signed) it
	// EncryptionSecret is the accuser's X25519 private key for this attempt,
	// revealed (see the package comment on complaints).
	EncryptionSecret [32]byte
}

// ComplaintSize is the length of an encoded Complaint.
const ComplaintSize = IDSize + SealedShareSize + 32

// Encode returns Accuser (2) || Sealed.Encode() || EncryptionSecret.
func (c *Complaint) Encode() []byte {
	b := appendID(make([]byte, 0, ComplaintSize), c.Accuser)
	b = append(b, c.Sealed.Encode()...)
	return append(b, c.EncryptionSecret[:]...)
}

// DecodeComplaint decodes a received complaint.
func DecodeComplaint(b []byte) (*Complaint, error) {
	if len(b) != ComplaintSize {
		return nil, fmt.Errorf("threshold: complaint is %d bytes, want %d", len(b), ComplaintSize)
	}
	s, err := DecodeSealedShare(b[2 : 2+SealedShareSize])
	if err != nil {
		return nil, fmt.Errorf("threshold: complaint: %w", err)
	}
	c := &Complaint{Accuser: readID(b), Sealed: s}
	if c.Accuser != s.To {
		return nil, fmt.Errorf("threshold: complaint by %d about a share sent to %d", c.Accuser, s.To)
	}
	copy(c.EncryptionSecret[:], b[2+SealedShareSize:])
	return c, nil
}

// Complain makes a complaint about a sealed share sent to this participant.
// Publishing it reveals this attempt's encryption key: the attempt must be
// abandoned afterwards.
func (s *DKGSecret) Complain(sealed *SealedShare) (*Complaint, error) {
	if sealed == nil || sealed.To != s.id {
		return nil, fmt.Errorf("threshold: complaint by %d about a share not addressed to it", s.id)
	}
	c := &Complaint{Accuser: s.id, Sealed: sealed}
	copy(c.EncryptionSecret[:], s.encKey.Bytes())
	return c, nil
}

// JudgeComplaint decides a complaint from public data: the complete,
// verified set of round-one packages and the complaint (whose sealed share
// the caller has checked to be the one the accused signed). It returns the
// identifier of the participant at fault and the reason: the accused when
// its share does not open or does not match its commitment, the accuser
// when the revealed key is not its published one or the share is good.
func JudgeComplaint(p DKGParams, packages []*Round1Package, c *Complaint) (culprit uint16, reason string, err error) {
	if err := VerifyRound1Packages(p, packages); err != nil {
		return 0, "", err
	}
	if c == nil || c.Sealed == nil {
		return 0, "", errors.New("threshold: empty complaint")
	}
	accuser, accused := c.Accuser, c.Sealed.From
	if c.Sealed.To != accuser || accuser == accused || accuser == 0 || accused == 0 ||
		int(accuser) > p.N || int(accused) > p.N {
		return 0, "", fmt.Errorf("threshold: complaint by %d about a share from %d to %d is malformed", accuser, accused, c.Sealed.To)
	}
	priv, err := ecdh.X25519().NewPrivateKey(c.EncryptionSecret[:])
	if err != nil {
		return 0, "", err
	}
	if string(priv.PublicKey().Bytes()) != string(packages[accuser-1].EncryptionKey[:]) {
		return accuser, "revealed encryption key is not the published one", nil
	}
	sh, err := openShare(p, priv, c.Sealed)
	if err != nil {
		return accused, err.Error(), nil
	}
	defer zeroScalar(sh.Value)
	if err := VerifyRound2Share(packages[accused-1], sh); err != nil {
		return accused, fmt.Sprintf("share to %d does not match the commitment of %d", accuser, accused), nil
	}
	return accuser, fmt.Sprintf("share from %d is valid: false complaint", accused), nil
}
