package setup

// The founding ceremony across machines:
//
//  1. On its own host, each founder runs InitMember (`commonroot init
//     --member NAME --dir DIR`): its member key and CometBFT node and
//     validator keys are made in DIR and never leave it; DIR/public.json
//     holds the public part.
//  2. Anyone assembles the public parts into the constitution
//     (Assemble, `commonroot constitution assemble`).
//  3. Each founder signs the constitution's hash (SignConstitution) and the
//     signatures are merged into one signed note, constitution.sigs
//     (MergeConstitutionSigs).
//  4. A node starts only on a constitution that every founder signed
//     (CheckConstitutionSigs).

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/consensus"
	"github.com/commonroot/commonroot/internal/strictjson"
)

// Public is the public part of a founding member, as `commonroot init
// --member` prints it and writes to DIR/public.json: what the others need
// to put the member in the constitution and to peer with its node.
type Public struct {
	Name string `json:"name"`
	// Key is the member's signed-note verifier key.
	Key string `json:"key"`
	// Validator is the base64 Ed25519 public key of its CometBFT validator.
	Validator string `json:"validator"`
	// NodeID is its CometBFT node ID; P2P its consensus address (host:port),
	// empty when not yet known.
	NodeID string `json:"node_id"`
	P2P    string `json:"p2p,omitempty"`
}

// Peer is the member's CometBFT peer address "ID@host:port", or "" without
// a P2P address.
func (p Public) Peer() string {
	if p.P2P == "" {
		return ""
	}
	return p.NodeID + "@" + p.P2P
}

// Layout of a member directory (made by InitMember on the member's host):
//
//	keys/<member>.key   the member's signed-note private key (0600)
//	node/               the node home: CometBFT's node and validator keys
//	                    (config/), its data and the store (data/)
//	public.json         the public part (Public)

// MemberDirKey, MemberDirHome and MemberDirPublic name the files of a
// member directory.
func MemberDirKey(dir, member string) string { return MemberKeyPath(dir, member) }
func MemberDirHome(dir string) string        { return filepath.Join(dir, "node") }
func MemberDirPublic(dir string) string      { return filepath.Join(dir, "public.json") }

// InitMember makes a founding member's keys in dir and writes its public
// part to dir/public.json. p2p is the address the node will listen on for
// its peers (it may be empty and filled into public.json later). It
// refuses a directory that already holds the member's key.
func InitMember(dir, name, p2p string) (*Public, error) {
	if err := constitution.CheckSignerName(name); err != nil {
		return nil, fmt.Errorf("setup: member: %v", err)
	}
	if _, err := os.Stat(MemberDirKey(dir, name)); err == nil {
		return nil, fmt.Errorf("setup: %s exists: member %q is already initialised here (its public part is %s)", MemberDirKey(dir, name), name, MemberDirPublic(dir))
	}
	k, err := NewKey(name)
	if err != nil {
		return nil, err
	}
	if err := WriteKey(MemberDirKey(dir, name), k); err != nil {
		return nil, err
	}
	id, err := consensus.InitHome(MemberDirHome(dir))
	if err != nil {
		return nil, err
	}
	p := &Public{Name: name, Key: k.Verifier, Validator: base64.StdEncoding.EncodeToString(id.Validator), NodeID: id.NodeID, P2P: p2p}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(MemberDirPublic(dir), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("setup: %v", err)
	}
	return p, nil
}

// ParsePublic reads a member's public part strictly and checks its keys.
func ParsePublic(b []byte) (*Public, error) {
	p := new(Public)
	if err := strictjson.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("setup: public part: %v", err)
	}
	if err := constitution.CheckSignerName(p.Name); err != nil {
		return nil, fmt.Errorf("setup: public part: %v", err)
	}
	v, err := note.NewVerifier(p.Key)
	if err != nil {
		return nil, fmt.Errorf("setup: public part of %q: key %q: %v", p.Name, p.Key, err)
	}
	if v.Name() != p.Name {
		return nil, fmt.Errorf("setup: public part of %q: its key is named %q", p.Name, v.Name())
	}
	if k, err := base64.StdEncoding.DecodeString(p.Validator); err != nil || len(k) != 32 {
		return nil, fmt.Errorf("setup: public part of %q: validator %q is not a base64 Ed25519 public key", p.Name, p.Validator)
	}
	if id, err := hex.DecodeString(p.NodeID); err != nil || len(id) != 20 {
		return nil, fmt.Errorf("setup: public part of %q: node_id %q is not 40 hex digits", p.Name, p.NodeID)
	}
	return p, nil
}

// AssembleOptions describe a constitution made from founders' public parts.
type AssembleOptions struct {
	Origin      string
	Apex        string
	Genesis     time.Time
	NameServers []constitution.Host
	// TLDs are the genesis delegations (may be empty).
	TLDs []constitution.TLD
	// Rules, when set, replace constitution.Default's rules (all kinds).
	Rules map[string]constitution.Rule
	// VotingPeriod, when set, replaces every rule's voting period.
	VotingPeriod time.Duration
}

// Assemble makes the constitution of the founders (in the order given,
// which is the members' order) and returns it parsed and as its document.
func Assemble(o AssembleOptions, founders []Public) (*constitution.Constitution, error) {
	if len(founders) == 0 {
		return nil, errors.New("setup: a federation needs at least one founder")
	}
	var members []constitution.Member
	seen := map[string]bool{}
	for _, p := range founders {
		if seen[p.Name] {
			return nil, fmt.Errorf("setup: founder %q is listed twice", p.Name)
		}
		seen[p.Name] = true
		members = append(members, constitution.Member{Name: p.Name, Key: p.Key, Validator: p.Validator})
	}
	c := constitution.Default(o.Origin, o.Apex, o.Genesis, members, o.NameServers)
	if o.Rules != nil {
		c.Rules = o.Rules
	}
	if o.VotingPeriod > 0 {
		for k, r := range c.Rules {
			r.VotingPeriod = constitution.Duration(o.VotingPeriod)
			c.Rules[k] = r
		}
	}
	c.TLDs = o.TLDs
	doc, err := constitution.Marshal(c)
	if err != nil {
		return nil, err
	}
	parsed, err := constitution.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("setup: the assembled constitution is invalid: %v", err)
	}
	return parsed, nil
}

// SigsPath is the founders' signatures file in a federation directory.
func SigsPath(dir string) string { return filepath.Join(dir, "constitution.sigs") }

// ConstitutionSigText is the text every founder signs: the constitution's
// origin and the SHA-256 of its exact document.
func ConstitutionSigText(c *constitution.Constitution) string {
	return "commonroot/constitution/v1\n" + c.Origin + "\n" + hex.EncodeToString(c.Hash[:]) + "\n"
}

// SignConstitution returns a signed note of c's signature text by one
// founder's key.
func SignConstitution(c *constitution.Constitution, k note.Signer) ([]byte, error) {
	if _, ok := c.Member(k.Name()); !ok {
		return nil, fmt.Errorf("setup: %q is not a founder of this constitution", k.Name())
	}
	msg, err := note.Sign(&note.Note{Text: ConstitutionSigText(c)}, k)
	if err != nil {
		return nil, fmt.Errorf("setup: signing the constitution: %v", err)
	}
	return msg, nil
}

// MissingSignaturesError says which founders have not signed the
// constitution (in the constitution's member order).
type MissingSignaturesError struct {
	Founders []string
}

func (e *MissingSignaturesError) Error() string {
	q := make([]string, len(e.Founders))
	for i, f := range e.Founders {
		q[i] = fmt.Sprintf("%q", f)
	}
	if len(q) == 1 {
		return "the constitution lacks the signature of founder " + q[0]
	}
	return "the constitution lacks the signatures of founders " + strings.Join(q, ", ")
}

func founderVerifiers(c *constitution.Constitution) (note.Verifiers, error) {
	var vs []note.Verifier
	for _, m := range c.Members {
		v, err := note.NewVerifier(m.Key)
		if err != nil {
			return nil, fmt.Errorf("founder %q: key: %v", m.Name, err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// openSigs opens a signatures note of c and returns its founders'
// signatures; a note that signs another text, or carries an invalid
// signature of a founder's key, is an error.
func openSigs(c *constitution.Constitution, msg []byte) ([]note.Signature, error) {
	vs, err := founderVerifiers(c)
	if err != nil {
		return nil, err
	}
	want := ConstitutionSigText(c)
	n, err := note.Open(msg, vs)
	var unverified *note.UnverifiedNoteError
	switch {
	case errors.As(err, &unverified):
		n = unverified.Note
	case err != nil:
		var bad *note.InvalidSignatureError
		if errors.As(err, &bad) {
			return nil, fmt.Errorf("the signature of %q does not verify", bad.Name)
		}
		return nil, fmt.Errorf("not a signed note: %v", err)
	}
	if n.Text != want {
		got := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
		return nil, fmt.Errorf("the signatures are for another document (%q), not this constitution (hash %x)", got[len(got)-1], c.Hash)
	}
	return n.Sigs, nil
}

// MergeConstitutionSigs merges notes of founders' signatures on c into one
// note holding each founder's signature once, in member order. Every note
// must sign c; signatures of keys that are not founders' are dropped.
func MergeConstitutionSigs(c *constitution.Constitution, notes ...[]byte) ([]byte, error) {
	byHash := map[uint32]note.Signature{}
	for i, msg := range notes {
		sigs, err := openSigs(c, msg)
		if err != nil {
			return nil, fmt.Errorf("setup: signatures %d: %v", i+1, err)
		}
		for _, s := range sigs {
			byHash[s.Hash] = s
		}
	}
	var merged []note.Signature
	for _, m := range c.Members {
		v, _ := note.NewVerifier(m.Key)
		if s, ok := byHash[v.KeyHash()]; ok && s.Name == m.Name {
			merged = append(merged, s)
		}
	}
	if len(merged) == 0 {
		return nil, errors.New("setup: no founder's signature to merge")
	}
	out, err := note.Sign(&note.Note{Text: ConstitutionSigText(c), Sigs: merged})
	if err != nil {
		return nil, fmt.Errorf("setup: merging signatures: %v", err)
	}
	return out, nil
}

// CheckConstitutionSigs checks that sigs (the constitution.sigs note)
// holds a valid signature of every founder of c (the members of the
// genesis document). A missing signature is a *MissingSignaturesError
// naming whose; the other errors say what is wrong with the note. The
// errors carry no package prefix: callers add their own.
func CheckConstitutionSigs(c *constitution.Constitution, sigs []byte) error {
	got, err := openSigs(c, bytes.TrimLeft(sigs, "\n"))
	if err != nil {
		return fmt.Errorf("constitution signatures: %v", err)
	}
	var missing []string
	for _, m := range c.Members {
		v, _ := note.NewVerifier(m.Key)
		if !slices.ContainsFunc(got, func(s note.Signature) bool { return s.Hash == v.KeyHash() && s.Name == m.Name }) {
			missing = append(missing, m.Name)
		}
	}
	if len(missing) > 0 {
		return &MissingSignaturesError{Founders: missing}
	}
	return nil
}
