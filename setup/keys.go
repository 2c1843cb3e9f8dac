// Package setup creates and opens federations on disk: member and operator
// key files, CometBFT node homes, the constitution, and the import of an
// existing zone (such as the real root) as the federation's genesis TLDs.
//
// Layout of a federation directory:
//
//	constitution.json            the genesis document (see package constitution)
//	constitution.sigs            every founder's signature on it (one signed note)
//	keys/<member>.key            a member's signed-note private key
//	keys/operators/<tld>.key     a TLD operator's signed-note private key ("com.key")
//	nodes/<member>/              the member's node home (CometBFT config and data, the store)
//
// Key files hold one line, the C2SP signed-note private key
// ("PRIVATE+KEY+name+hash+base64"); they are written 0600 and never
// overwritten.
package setup

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is a signed-note key pair.
type Key struct {
	Signer   note.Signer
	Verifier string // the verifier key, "name+hash+base64"
	private  string
}

// NewKey makes a fresh Ed25519 key named name.
func NewKey(name string) (*Key, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, fmt.Errorf("setup: key %q: %v", name, err)
	}
	return ParseKey(skey)
}

// ParseKey reads a private key in signed-note form.
func ParseKey(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("setup: not a signed-note private key: %v", err)
	}
	// PRIVATE+KEY+name+hash+base64(0x01 || seed)
	parts := strings.SplitN(skey, "+", 5) // the base64 key may itself hold '+'
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("setup: only Ed25519 signed-note keys are supported")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: s, Verifier: vkey, private: skey}, nil
}

// LoadKey reads a key file.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("setup: reading key: %v", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("setup: %s: %v", path, err)
	}
	return k, nil
}

// WriteKey writes k to path (mode 0600), refusing to overwrite a file.
func WriteKey(path string, k *Key) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("setup: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("setup: writing key: %v", err)
	}
	if _, err := f.WriteString(k.private + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("setup: writing key %s: %v", path, err)
	}
	return f.Close()
}

// MemberKeyPath and OperatorKeyPath name the key files in a federation directory.
func MemberKeyPath(dir, member string) string { return filepath.Join(dir, "keys", member+".key") }
func OperatorKeyPath(dir, tld string) string {
	return filepath.Join(dir, "keys", "operators", strings.TrimSuffix(tld, ".")+".key")
}

// NodeHome is a member's node home in a federation directory.
func NodeHome(dir, member string) string { return filepath.Join(dir, "nodes", member) }

// ConstitutionPath is the constitution's file in a federation directory.
func ConstitutionPath(dir string) string { return filepath.Join(dir, "constitution.json") }

// OperatorName is the key name of a TLD's operator: "op-" and the TLD's labels.
func OperatorName(tld string) string {
	return "op-" + strings.ReplaceAll(strings.TrimSuffix(tld, "."), ".", "-")
}
