// Package witness implements C2SP transparency-log witnessing for
// commonroot: a client that submits a log's checkpoints to witnesses
// (c2sp.org/tlog-witness v1.0.0, POST add-checkpoint), a small witness
// server, and Ed25519 cosignatures (c2sp.org/tlog-cosignature, signed-note
// signature type 0x04) as note.Signer and note.Verifier, so that
// golang.org/x/mod/sumdb/note opens, signs and verifies notes carrying them.
//
// A cosignature is the 8-byte big-endian POSIX timestamp followed by the
// Ed25519 signature of "cosignature/v1\ntime <T>\n" and the checkpoint body.
// Its key ID is SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]; its keys are
// written as signed-note keys with type byte 0x04
// ("<name>+<hex key ID>+base64(0x04 ‖ key)"; private keys with the
// "PRIVATE+KEY+" prefix and the 32-byte seed).
package witness

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note signature type of Ed25519
// cosignatures.
const algCosignatureV1 = 0x04

// maxTimestamp is the largest timestamp a cosignature may carry.
const maxTimestamp = 1<<63 - 1

// cosignedMessage returns the message an Ed25519 cosignature signs.
func cosignedMessage(t uint64, checkpoint []byte) []byte {
	msg := fmt.Appendf(nil, "cosignature/v1\ntime %d\n", t)
	return append(msg, checkpoint...)
}

// keyHash is the signed-note key ID of an Ed25519 cosigner key.
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validName reports whether name may be a signed-note key name: non-empty
// UTF-8 with no '+' and no whitespace or control characters.
func validName(name string) bool {
	if name == "" || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r == '+' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// GenerateKey makes a fresh cosigner key named name (a schema-less URL
// that identifies the witness, such as "witness.example/w1") and returns it
// as a private key (for [NewCosigner]) and a verifier key (for
// [NewVerifier]).
func GenerateKey(rand io.Reader, name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("witness: key name %q: want a non-empty name without '+' or spaces", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return "", "", fmt.Errorf("witness: generating key %q: %v", name, err)
	}
	h := keyHash(name, pub)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...)))
	vkey = VerifierKey(name, pub)
	return skey, vkey, nil
}

// VerifierKey encodes an Ed25519 cosigner public key as a verifier key.
func VerifierKey(name string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, keyHash(name, pub), base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, pub...)))
}

// splitKey splits "name+hash+base64" and checks the hash's form.
func splitKey(s string) (name string, hash uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(s, "+")
	hex, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validName(name) || len(hex) != 8 {
		return "", 0, nil, errors.New("want name+hash+key")
	}
	h, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return "", 0, nil, fmt.Errorf("key ID %q is not 8 hex digits", hex)
	}
	key, err = base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", 0, nil, fmt.Errorf("key %q is not base64", b64)
	}
	return name, uint32(h), key, nil
}

// A Verifier verifies Ed25519 cosignatures (type 0x04) of one cosigner.
// It implements note.Verifier: note.Open calls Verify with the note's text,
// the checkpoint body.
type Verifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

var _ note.Verifier = (*Verifier)(nil)

// NewVerifier parses a cosigner verifier key (signature type 0x04).
func NewVerifier(vkey string) (*Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	name, h, key, err := splitKey(vkey)
	if err != nil {
		return nil, fmt.Errorf("witness: malformed verifier key %q: %v", vkey, err)
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("witness: verifier key %q is not an Ed25519 cosignature key (type 0x04)", vkey)
	}
	pub := ed25519.PublicKey(key[1:])
	if keyHash(name, pub) != h {
		return nil, fmt.Errorf("witness: verifier key %q: wrong key ID", vkey)
	}
	return &Verifier{name: name, hash: h, pub: pub}, nil
}

// Name returns the cosigner's name.
func (v *Verifier) Name() string { return v.name }

// KeyHash returns the cosigner's key ID.
func (v *Verifier) KeyHash() uint32 { return v.hash }

// Verify reports whether sig is a cosignature by this cosigner of the
// checkpoint body msg.
func (v *Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > maxTimestamp {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(t, msg), sig[8:])
}

// A Cosigner makes Ed25519 cosignatures (type 0x04). It implements
// note.Signer; every signature carries the time of Now (the current time
// if Now is nil), so two signatures of the same checkpoint differ when
// made at different seconds.
type Cosigner struct {
	Now  func() time.Time
	name string
	hash uint32
	priv ed25519.PrivateKey
}

var _ note.Signer = (*Cosigner)(nil)

// NewCosigner parses a cosigner private key made by [GenerateKey].
func NewCosigner(skey string) (*Cosigner, error) {
	skey = strings.TrimSpace(skey)
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, errors.New("witness: malformed private key: want PRIVATE+KEY+name+hash+key")
	}
	name, h, key, err := splitKey(rest)
	if err != nil {
		return nil, fmt.Errorf("witness: malformed private key of %q: %v", name, err)
	}
	if len(key) != 1+ed25519.SeedSize || key[0] != algCosignatureV1 {
		return nil, fmt.Errorf("witness: private key of %q is not an Ed25519 cosignature key (type 0x04)", name)
	}
	priv := ed25519.NewKeyFromSeed(key[1:])
	if keyHash(name, priv.Public().(ed25519.PublicKey)) != h {
		return nil, fmt.Errorf("witness: private key of %q: wrong key ID", name)
	}
	return &Cosigner{name: name, hash: h, priv: priv}, nil
}

// Name returns the cosigner's name.
func (s *Cosigner) Name() string { return s.name }

// KeyHash returns the cosigner's key ID.
func (s *Cosigner) KeyHash() uint32 { return s.hash }

// VerifierKey returns the cosigner's verifier key.
func (s *Cosigner) VerifierKey() string {
	return VerifierKey(s.name, s.priv.Public().(ed25519.PublicKey))
}

// Sign returns a timestamped cosignature of the checkpoint body msg.
func (s *Cosigner) Sign(msg []byte) ([]byte, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("witness: clock before 1970: %d", t)
	}
	sig := binary.BigEndian.AppendUint64(nil, uint64(t))
	return append(sig, ed25519.Sign(s.priv, cosignedMessage(uint64(t), msg))...), nil
}

// Timestamp returns the time at which the cosignature sig was made.
func Timestamp(sig note.Signature) (time.Time, error) {
	raw, err := base64.StdEncoding.DecodeString(sig.Base64)
	if err != nil || len(raw) != 4+8+ed25519.SignatureSize {
		return time.Time{}, fmt.Errorf("witness: signature of %q is not an Ed25519 cosignature", sig.Name)
	}
	t := binary.BigEndian.Uint64(raw[4:])
	if t > maxTimestamp {
		return time.Time{}, fmt.Errorf("witness: cosignature of %q has timestamp %d beyond 2^63-1", sig.Name, t)
	}
	return time.Unix(int64(t), 0).UTC(), nil
}

// Verifiers parses cosigner verifier keys into a note.Verifiers.
func Verifiers(vkeys []string) (note.Verifiers, error) {
	var vs []note.Verifier
	for _, k := range vkeys {
		v, err := NewVerifier(k)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}
