// Package action defines commonroot's signed actions: the only way anything
// changes in a federation.
//
// An action is a C2SP signed note (https://c2sp.org/signed-note) whose text
// is exactly one line of JSON followed by a newline, signed by one Ed25519
// key (signature type 0x01):
//
//	{"origin":"example.org/fed","signer":"alpha","seq":7,"expires":"2026-11-24T10:00:00Z","kind":"vote","body":{"proposal":3,"vote":"yes","rationale":"..."}}
//
//	— alpha Bq0s...
//
// The bytes that were signed are the bytes that are stored and logged:
// nothing is ever re-encoded. Decoding is strict: unknown fields, a second
// signature, trailing data, a body that does not fit its kind, or more than
// MaxSize bytes are refused with an error that says which. The signer, a
// per-signer sequence number, the federation's log origin and an expiry make
// every action replay-proof; the registry checks them against its state and
// the block time.
package action

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/internal/strictjson"
)

// MaxSize is the largest action: a log entry is at most 65,535 bytes
// (C2SP tlog-tiles entry bundles use a 16-bit length).
const MaxSize = 65535

// Kinds of action.
const (
	KindDelegate = "delegate"
	KindPropose  = "propose"
	KindVote     = "vote"
	KindRespond  = "respond"
	KindDKG      = "dkg"
	KindSign     = "sign"
)

// Action is an action's content before signing.
type Action struct {
	Origin string `json:"origin"`
	Signer string `json:"signer"`
	Seq    uint64 `json:"seq"`
	// Expires is an RFC 3339 UTC time ("2026-11-24T10:00:00Z"): the action is
	// refused in any block whose time is later.
	Expires string `json:"expires"`
	Kind    string `json:"kind"`
	// Body is one of *Delegate, *Propose, *Vote, *Respond, *DKG or *Signing,
	// matching Kind.
	Body any `json:"body"`
}

// Signed is a decoded action together with the exact bytes that carried it.
type Signed struct {
	Action
	// Raw is the signed note exactly as received.
	Raw []byte
	// KeyHash is the signed-note key ID of the one signature.
	KeyHash uint32
	// ExpiresAt is Expires parsed.
	ExpiresAt time.Time
}

// Delegate sets a TLD's delegation: its NS set, the addresses of the name
// servers it is the parent of (glue), and its DS set. It replaces what was
// there. Affects names the other TLDs whose delegations use a host whose
// addresses this action changes; such a change is refused unless every one of
// them is named, so no TLD's delegation changes silently.
type Delegate struct {
	TLD     string   `json:"tld"`
	NS      []string `json:"ns"`
	Glue    []Glue   `json:"glue,omitempty"`
	DS      []string `json:"ds,omitempty"`
	Affects []string `json:"affects,omitempty"`
}

// Glue gives a name server host's addresses.
type Glue struct {
	Host  string   `json:"host"`
	Addrs []string `json:"addrs"`
}

// Propose opens a proposal of one kind (see constitution.Kinds). Only the
// fields of that kind may be set.
type Propose struct {
	Proposal  string `json:"proposal"`
	Rationale string `json:"rationale"`
	// TLD is the target of tld.*, restriction.impose.
	TLD string `json:"tld,omitempty"`
	// Operator is a verifier key: the new TLD's manager (tld.create) or the
	// new one (tld.transfer).
	Operator string `json:"operator,omitempty"`
	// Delegation is the initial delegation of a tld.create (its TLD field is
	// left empty).
	Delegation *Delegate `json:"delegation,omitempty"`
	// Member is the member to admit (name, key, validator) or to remove (name).
	Member *Member `json:"member,omitempty"`
	// LegalBasis, Evidence (SHA-256 hex of the evidence file) and Duration
	// (a Go duration, "720h") describe a restriction.impose.
	LegalBasis string `json:"legal_basis,omitempty"`
	Evidence   string `json:"evidence,omitempty"`
	Duration   string `json:"duration,omitempty"`
	// Restriction is the id of the restriction to lift.
	Restriction uint64 `json:"restriction,omitempty"`
	// Constitution is the complete amended constitution (constitution.amend).
	Constitution json.RawMessage `json:"constitution,omitempty"`
	// Threshold is the number of members whose nodes must cooperate to sign
	// with the key a key.generate (or key.roll) makes: 2 or more, at most
	// the number of members.
	Threshold int `json:"threshold,omitempty"`
}

// Member identifies a member to admit or remove.
type Member struct {
	Name      string `json:"name"`
	Key       string `json:"key,omitempty"`
	Validator string `json:"validator,omitempty"`
}

// Vote is a member's vote on an open proposal.
type Vote struct {
	Proposal  uint64 `json:"proposal"`
	Vote      string `json:"vote"`
	Rationale string `json:"rationale,omitempty"`
}

// Votes a member may cast.
const (
	Yes     = "yes"
	No      = "no"
	Abstain = "abstain"
)

// Respond attaches a public response to a restriction, by the restricted
// TLD's owner or operator.
type Respond struct {
	Restriction uint64 `json:"restriction"`
	Text        string `json:"text"`
}

// DKG is a participant's message in a key-generation ceremony (see
// registry's dkg.go for the protocol): Data holds, in standard base64, the
// round's public payload as package threshold encodes it: a round-one
// package ("commit"), the sealed shares for every other participant in
// identifier order ("shares"), a complaint ("complaint") or the 32-byte
// transcript hash ("confirm"). It never holds a key share.
type DKG struct {
	Ceremony uint64 `json:"ceremony"`
	Attempt  int    `json:"attempt"`
	Round    string `json:"round"`
	Data     string `json:"data"`
}

// Rounds of a DKG action.
const (
	RoundCommit    = "commit"
	RoundShares    = "shares"
	RoundComplaint = "complaint"
	RoundConfirm   = "confirm"
)

// Bytes returns Data decoded (Decode has checked that it decodes).
func (d *DKG) Bytes() []byte { return decoded(d.Data) }

// Signing is a member node's message in the threshold signing of zone
// versions (see registry's signing.go): Data holds, in standard base64,
// either a batch of precomputed nonce commitments for the zone key of
// ceremony Ceremony ("nonces": each 64 bytes, hiding then binding point, at
// most MaxNonces), or one chunk of the node's signature shares in session
// Session of signing request Request ("shares": 32-byte scalars, the
// shares of messages Chunk*SharesPerChunk onwards, at most SharesPerChunk).
// It never holds a secret nonce or a key share.
type Signing struct {
	Step     string `json:"step"`
	Ceremony uint64 `json:"ceremony,omitempty"`
	Request  uint64 `json:"request,omitempty"`
	Session  int    `json:"session,omitempty"`
	Chunk    int    `json:"chunk,omitempty"`
	Data     string `json:"data"`
}

// Steps of a sign action, and their bounds: a sign action stays well
// inside MaxSize.
const (
	StepNonces     = "nonces"
	StepShares     = "shares"
	NonceSize      = 64
	MaxNonces      = 600
	ShareSize      = 32
	SharesPerChunk = 1000
)

// Bytes returns Data decoded (Decode has checked that it decodes).
func (s *Signing) Bytes() []byte { return decoded(s.Data) }

// decoded returns data decoded from base64, nil if it does not decode.
func decoded(data string) []byte {
	b, _ := base64.StdEncoding.DecodeString(data)
	return b
}

// checkData checks that a kind's data is non-empty canonical standard
// base64 and returns it decoded.
func checkData(kind, data string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil || len(b) == 0 || base64.StdEncoding.EncodeToString(b) != data {
		return nil, fmt.Errorf("action: %s data %q is not non-empty canonical standard base64", kind, trim(data))
	}
	return b, nil
}

func (s *Signing) check(kind string) error {
	if kind != KindSign {
		return fmt.Errorf("action: kind %q with a sign body", kind)
	}
	b, err := checkData("sign", s.Data)
	if err != nil {
		return err
	}
	switch s.Step {
	case StepNonces:
		if s.Ceremony == 0 || s.Request != 0 || s.Session != 0 || s.Chunk != 0 {
			return errors.New("action: sign nonces name the key's ceremony and nothing else")
		}
		if len(b)%NonceSize != 0 || len(b)/NonceSize > MaxNonces {
			return fmt.Errorf("action: sign nonces hold %d bytes, want a multiple of %d up to %d commitments", len(b), NonceSize, MaxNonces)
		}
	case StepShares:
		if s.Ceremony != 0 || s.Request == 0 || s.Session < 1 || s.Chunk < 0 {
			return fmt.Errorf("action: sign shares need a request id, a session 1 or more and a chunk 0 or more (request %d, session %d, chunk %d)", s.Request, s.Session, s.Chunk)
		}
		if len(b)%ShareSize != 0 || len(b)/ShareSize > SharesPerChunk {
			return fmt.Errorf("action: sign shares hold %d bytes, want a multiple of %d up to %d shares", len(b), ShareSize, SharesPerChunk)
		}
	default:
		return fmt.Errorf("action: sign step %q must be nonces or shares", trim(s.Step))
	}
	return nil
}

// MaxThreshold bounds a key proposal's threshold (FROST identifiers are
// 16-bit).
const MaxThreshold = 65535

// MaxText bounds free text (rationales, legal bases, responses).
const MaxText = 8192

// Encode returns the note text of a (one JSON line and a newline).
func Encode(a Action) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, fmt.Errorf("action: encoding: %v", err)
	}
	return buf.Bytes(), nil
}

// Sign encodes a and signs it with signer, whose name must be a.Signer.
func Sign(a Action, signer note.Signer) ([]byte, error) {
	if signer.Name() != a.Signer {
		return nil, fmt.Errorf("action: signing key is %q but the action's signer is %q", signer.Name(), a.Signer)
	}
	text, err := Encode(a)
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return nil, fmt.Errorf("action: signing: %v", err)
	}
	if len(msg) > MaxSize {
		return nil, fmt.Errorf("action: %d bytes signed, more than the %d a log entry holds", len(msg), MaxSize)
	}
	return msg, nil
}

// ErrMalformed is wrapped by every Decode error.
var ErrMalformed = errors.New("malformed action")

// Decode parses a signed action without checking its signature (the key
// depends on the registry's state): see Verify. It checks everything that
// needs no state.
func Decode(msg []byte) (*Signed, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	if len(msg) > MaxSize {
		return nil, bad("%d bytes, more than the %d allowed", len(msg), MaxSize)
	}
	if !utf8.Valid(msg) {
		return nil, bad("not valid UTF-8")
	}
	_, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return nil, bad("not a signed note: %v", err)
	}
	n := unverified.Note
	if len(n.UnverifiedSigs) != 1 {
		return nil, bad("%d signatures, want exactly one", len(n.UnverifiedSigs))
	}
	sig := n.UnverifiedSigs[0]
	text := n.Text
	if strings.IndexByte(text, '\n') != len(text)-1 {
		return nil, bad("the text must be one line of JSON")
	}
	var raw struct {
		Origin  string          `json:"origin"`
		Signer  string          `json:"signer"`
		Seq     uint64          `json:"seq"`
		Expires string          `json:"expires"`
		Kind    string          `json:"kind"`
		Body    json.RawMessage `json:"body"`
	}
	if err := strictjson.Unmarshal([]byte(text), &raw); err != nil {
		return nil, bad("%v", err)
	}
	a := Action{Origin: raw.Origin, Signer: raw.Signer, Seq: raw.Seq, Expires: raw.Expires, Kind: raw.Kind}
	switch raw.Kind {
	case KindDelegate:
		a.Body = new(Delegate)
	case KindPropose:
		a.Body = new(Propose)
	case KindVote:
		a.Body = new(Vote)
	case KindRespond:
		a.Body = new(Respond)
	case KindDKG:
		a.Body = new(DKG)
	case KindSign:
		a.Body = new(Signing)
	default:
		return nil, bad("unknown kind %q", trim(raw.Kind))
	}
	if len(raw.Body) == 0 || string(raw.Body) == "null" {
		return nil, bad("%s action without a body", raw.Kind)
	}
	if err := strictjson.Unmarshal(raw.Body, a.Body); err != nil {
		return nil, bad("%s body: %v", raw.Kind, err)
	}
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, strings.TrimPrefix(err.Error(), "action: "))
	}
	if sig.Name != a.Signer {
		return nil, bad("signed by key %q but the action's signer is %q", trim(sig.Name), a.Signer)
	}
	exp, _ := time.Parse(time.RFC3339, a.Expires)
	return &Signed{Action: a, Raw: append([]byte(nil), msg...), KeyHash: sig.Hash, ExpiresAt: exp}, nil
}

// Verify checks s's signature against the signer's verifier key vkey.
func (s *Signed) Verify(vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("action: signer %q has an unusable key: %v", s.Signer, err)
	}
	if v.Name() != s.Signer || v.KeyHash() != s.KeyHash {
		return fmt.Errorf("action: signed by a key of %q that is not its registered key", s.Signer)
	}
	if _, err := note.Open(s.Raw, note.VerifierList(v)); err != nil {
		return fmt.Errorf("action: bad signature by %q", s.Signer)
	}
	return nil
}

// check validates what needs no state.
func (a Action) check() error {
	if a.Origin == "" {
		return errors.New("action: missing origin")
	}
	if a.Signer == "" {
		return errors.New("action: missing signer")
	}
	if a.Seq == 0 {
		return errors.New("action: seq must be 1 or more")
	}
	exp, err := time.Parse(time.RFC3339, a.Expires)
	if err != nil || exp.UTC().Format(time.RFC3339) != a.Expires {
		return fmt.Errorf("action: expires %q is not an RFC 3339 UTC time like 2026-11-24T10:00:00Z", trim(a.Expires))
	}
	switch b := a.Body.(type) {
	case *Delegate:
		return b.check(a.Kind, KindDelegate)
	case *Propose:
		return b.check(a.Kind)
	case *Vote:
		if a.Kind != KindVote {
			return fmt.Errorf("action: kind %q with a vote body", a.Kind)
		}
		if b.Proposal == 0 {
			return errors.New("action: vote without a proposal id")
		}
		if b.Vote != Yes && b.Vote != No && b.Vote != Abstain {
			return fmt.Errorf("action: vote %q must be yes, no or abstain", trim(b.Vote))
		}
		return checkText("rationale", b.Rationale)
	case *DKG:
		return b.check(a.Kind)
	case *Signing:
		return b.check(a.Kind)
	case *Respond:
		if a.Kind != KindRespond {
			return fmt.Errorf("action: kind %q with a respond body", a.Kind)
		}
		if b.Restriction == 0 {
			return errors.New("action: response without a restriction id")
		}
		if strings.TrimSpace(b.Text) == "" {
			return errors.New("action: empty response")
		}
		return checkText("text", b.Text)
	default:
		return fmt.Errorf("action: kind %q has no body of a known type", trim(a.Kind))
	}
}

func (d *DKG) check(kind string) error {
	if kind != KindDKG {
		return fmt.Errorf("action: kind %q with a dkg body", kind)
	}
	if d.Ceremony == 0 {
		return errors.New("action: dkg without a ceremony id")
	}
	if d.Attempt < 1 {
		return fmt.Errorf("action: dkg attempt %d must be 1 or more", d.Attempt)
	}
	switch d.Round {
	case RoundCommit, RoundShares, RoundComplaint, RoundConfirm:
	default:
		return fmt.Errorf("action: dkg round %q must be commit, shares, complaint or confirm", trim(d.Round))
	}
	_, err := checkData("dkg", d.Data)
	return err
}

func (d *Delegate) check(kind, want string) error {
	if kind != want {
		return fmt.Errorf("action: kind %q with a delegation body", kind)
	}
	if d.TLD == "" {
		return errors.New("action: delegation without a tld")
	}
	return nil
}

func (p *Propose) check(kind string) error {
	if kind != KindPropose {
		return fmt.Errorf("action: kind %q with a proposal body", kind)
	}
	if err := checkText("rationale", p.Rationale); err != nil {
		return err
	}
	if err := checkText("legal_basis", p.LegalBasis); err != nil {
		return err
	}
	// Which fields each kind takes; any other set field is refused.
	type field struct {
		name string
		set  bool
	}
	fields := []field{
		{"tld", p.TLD != ""},
		{"operator", p.Operator != ""},
		{"delegation", p.Delegation != nil},
		{"member", p.Member != nil},
		{"legal_basis", p.LegalBasis != ""},
		{"evidence", p.Evidence != ""},
		{"duration", p.Duration != ""},
		{"restriction", p.Restriction != 0},
		{"constitution", len(p.Constitution) != 0},
		{"threshold", p.Threshold != 0},
	}
	required, optional := map[string][]string{
		"tld.create":         {"tld", "operator"},
		"tld.delete":         {"tld"},
		"tld.transfer":       {"tld", "operator"},
		"member.admit":       {"member"},
		"member.remove":      {"member"},
		"restriction.impose": {"tld", "legal_basis", "evidence", "duration"},
		"restriction.lift":   {"restriction"},
		"constitution.amend": {"constitution"},
		"key.generate":       {"threshold"},
		"key.roll":           {"threshold"},
	}, map[string][]string{"tld.create": {"delegation"}}
	req, ok := required[p.Proposal]
	if !ok {
		return fmt.Errorf("action: unknown proposal kind %q", trim(p.Proposal))
	}
	for _, f := range fields {
		need, may := slices.Contains(req, f.name), slices.Contains(optional[p.Proposal], f.name)
		switch {
		case need && !f.set:
			return fmt.Errorf("action: a %s proposal needs %s", p.Proposal, f.name)
		case f.set && !need && !may:
			return fmt.Errorf("action: a %s proposal takes no %s", p.Proposal, f.name)
		}
	}
	if p.Delegation != nil && p.Delegation.TLD != "" && p.Delegation.TLD != p.TLD {
		return fmt.Errorf("action: delegation is for %q but the proposal is for %q", trim(p.Delegation.TLD), trim(p.TLD))
	}
	if p.Member != nil && p.Member.Name == "" {
		return errors.New("action: member without a name")
	}
	if p.Proposal == "member.remove" && p.Member != nil && (p.Member.Key != "" || p.Member.Validator != "") {
		return errors.New("action: member.remove takes only the member's name")
	}
	if p.Duration != "" {
		d, err := time.ParseDuration(p.Duration)
		if err != nil || d <= 0 {
			return fmt.Errorf("action: duration %q is not a positive Go duration like 720h", trim(p.Duration))
		}
	}
	if p.Threshold != 0 && (p.Threshold < 2 || p.Threshold > MaxThreshold) {
		return fmt.Errorf("action: threshold %d is outside 2..%d", p.Threshold, MaxThreshold)
	}
	if p.Evidence != "" && !isHex(p.Evidence, 64) {
		return fmt.Errorf("action: evidence %q must be a SHA-256 digest in 64 lower-case hex digits", trim(p.Evidence))
	}
	return nil
}

// DurationValue returns the restriction duration of an impose proposal.
func (p *Propose) DurationValue() time.Duration {
	d, _ := time.ParseDuration(p.Duration)
	return d
}

func checkText(field, s string) error {
	if len(s) > MaxText {
		return fmt.Errorf("action: %s has %d bytes, more than %d", field, len(s), MaxText)
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// trim shortens what an error quotes.
func trim(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
