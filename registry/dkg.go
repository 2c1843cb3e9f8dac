package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// Distributed key generation through consensus (docs/design.md, "Zone key
// generation"). A passed key.generate proposal opens a ceremony whose id is
// the proposal's. Its participants are the members at that time, sorted by
// name; participant i (0-based) has FROST identifier i+1. Each attempt runs
// three rounds, each a set of dkg actions signed by the participants' member
// keys, judged here from public data only:
//
//   - commit: a threshold.Round1Package, verified (proof of knowledge bound
//     to the attempt's context and the sender's identifier) on arrival;
//   - shares: the sender's round-two shares, sealed to every other
//     participant's round-one encryption key, in identifier order (their
//     structure is checked; only the recipient can open one);
//   - confirm: the sender's transcript hash (threshold.TranscriptHash of the
//     round-one packages), sent once its node has finished and stored its
//     key share. In this round a participant whose share is bad sends a
//     complaint instead; it is judged (threshold.JudgeComplaint), the
//     culprit is excluded and the ceremony restarts.
//
// A round moves on when every participant has acted; when its deadline
// (DKGRoundTimeout after it began, in block time) passes first, the silent
// participants are excluded and the ceremony restarts. A restart is a new
// attempt with a new context, so fresh polynomials and encryption keys; with
// fewer than t participants left the ceremony fails. When every participant
// has confirmed, the group key and the verification shares become the
// zone key. Secrets never reach the state: only public packages, sealed
// shares, complaints (which reveal the accuser's per-attempt encryption key
// of an attempt that is then abandoned) and hashes.

// DKGRoundTimeout is how long, in block time, the participants have for each
// round of a ceremony.
const DKGRoundTimeout = 10 * time.Minute

// Ceremony statuses and rounds.
const (
	CeremonyOpen   = "open"
	CeremonyDone   = "done"
	CeremonyFailed = "failed"
)

// Ceremony is a key-generation ceremony and the public messages of its
// current attempt. Commits, Shares and Confirms are indexed like
// Participants; an empty string (false) means the participant has not yet
// acted in that round.
type Ceremony struct {
	ID        uint64 `json:"id"` // the key.generate proposal's id
	Kind      string `json:"kind"`
	Threshold int    `json:"threshold"`
	// Attempt counts from 1; every restart increments it.
	Attempt int `json:"attempt"`
	// Participants of the current attempt, sorted by name.
	Participants []string    `json:"participants"`
	Excluded     []Exclusion `json:"excluded"`
	Status       string      `json:"status"`
	// Round is the current round while open: commit, shares or confirm.
	Round    string    `json:"round,omitempty"`
	Started  time.Time `json:"started"`  // when the current attempt began
	Deadline time.Time `json:"deadline"` // of the current round
	// Commits holds base64 round-one packages; Shares the base64
	// concatenated sealed shares each sender sent.
	Commits  []string `json:"commits"`
	Shares   []string `json:"shares"`
	Confirms []bool   `json:"confirms"`
	// GroupKey (base64, 32 bytes) is set when done.
	GroupKey string    `json:"group_key,omitempty"`
	Reason   string    `json:"reason,omitempty"` // why it failed
	Closed   time.Time `json:"closed,omitempty"`
}

// Exclusion records a participant taken out of a ceremony and why.
type Exclusion struct {
	Member  string    `json:"member"`
	Attempt int       `json:"attempt"`
	Round   string    `json:"round"`
	Reason  string    `json:"reason"`
	Time    time.Time `json:"time"`
	// Action is the log index of the complaint that proved it, or -1 when
	// the participant stayed silent past a deadline.
	Action int64 `json:"action"`
}

// ZoneKey is the zone's signing key made by a ceremony: the group key and
// every participant's verification share (identifier i+1 is
// Participants[i]). The secret shares exist only in the members' nodes.
type ZoneKey struct {
	Ceremony     uint64   `json:"ceremony"`
	Threshold    int      `json:"threshold"`
	Participants []string `json:"participants"`
	// GroupKey is the Ed25519 public key (base64); VerificationShares are
	// base64 points, by identifier.
	GroupKey           string    `json:"group_key"`
	VerificationShares []string  `json:"verification_shares"`
	Since              time.Time `json:"since"`
}

// PublicKeyPackage decodes the key into what FROST signers and
// aggregators need.
func (z ZoneKey) PublicKeyPackage() (*threshold.PublicKeyPackage, error) {
	b := binary.BigEndian.AppendUint16(nil, uint16(z.Threshold))
	b = binary.BigEndian.AppendUint16(b, uint16(len(z.VerificationShares)))
	for _, v := range append([]string{z.GroupKey}, z.VerificationShares...) {
		pt, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(pt) != threshold.PointSize {
			return nil, fmt.Errorf("registry: zone key of ceremony %d: %q is not a base64 point", z.Ceremony, trim(v))
		}
		b = append(b, pt...)
	}
	return threshold.DecodePublicKeyPackage(b)
}

// PublicKey returns the raw 32-byte group key.
func (z ZoneKey) PublicKey() []byte {
	b, _ := base64.StdEncoding.DecodeString(z.GroupKey)
	return b
}

// Keys of the ceremony state.
const (
	prefixCeremony = "dkg/"
	keyZoneKey     = "zonekey"
)

// DKGContext is the context string of a ceremony's attempt: it binds every
// proof, sealed share and transcript to the federation, the ceremony and
// the attempt, so nothing carries over from one to another.
func DKGContext(origin string, ceremony uint64, attempt int) []byte {
	return fmt.Appendf(nil, "commonroot/dkg/v1\n%s\n%d\n%d", origin, ceremony, attempt)
}

// Params returns the DKG parameters of c's current attempt in federation
// origin.
func (c *Ceremony) Params(origin string) threshold.DKGParams {
	return threshold.DKGParams{Context: DKGContext(origin, c.ID, c.Attempt), Threshold: c.Threshold, N: len(c.Participants)}
}

// ParticipantID returns member's FROST identifier in the current attempt,
// or 0 if it does not take part.
func (c *Ceremony) ParticipantID(member string) uint16 {
	i, ok := slices.BinarySearch(c.Participants, member)
	if !ok {
		return 0
	}
	return uint16(i + 1)
}

// Owes reports whether member still has to act in the current round.
func (c *Ceremony) Owes(member string) bool {
	id := c.ParticipantID(member)
	if c.Status != CeremonyOpen || id == 0 {
		return false
	}
	switch c.Round {
	case action.RoundCommit:
		return c.Commits[id-1] == ""
	case action.RoundShares:
		return c.Shares[id-1] == ""
	case action.RoundConfirm:
		return !c.Confirms[id-1]
	}
	return false
}

// Packages returns the round-one packages of the current attempt in
// identifier order; it fails while some are missing.
func (c *Ceremony) Packages() ([]*threshold.Round1Package, error) {
	var out []*threshold.Round1Package
	for i, b64 := range c.Commits {
		if b64 == "" {
			return nil, fmt.Errorf("registry: ceremony %d: %s has not committed", c.ID, c.Participants[i])
		}
		b, _ := base64.StdEncoding.DecodeString(b64)
		p, err := threshold.DecodeRound1Package(b)
		if err != nil {
			return nil, fmt.Errorf("registry: ceremony %d: stored package of %s: %v", c.ID, c.Participants[i], err)
		}
		out = append(out, p)
	}
	return out, nil
}

// SealedFrom returns the sealed shares participant from sent, in recipient
// order, or nil if it has not sent them.
func (c *Ceremony) SealedFrom(from uint16) []*threshold.SealedShare {
	if from == 0 || int(from) > len(c.Shares) || c.Shares[from-1] == "" {
		return nil
	}
	b, _ := base64.StdEncoding.DecodeString(c.Shares[from-1])
	var out []*threshold.SealedShare
	for off := 0; off+threshold.SealedShareSize <= len(b); off += threshold.SealedShareSize {
		s, err := threshold.DecodeSealedShare(b[off : off+threshold.SealedShareSize])
		if err != nil {
			return nil // checked on arrival: cannot happen
		}
		out = append(out, s)
	}
	return out
}

// SealedTo returns the sealed shares sent to participant to by every other
// participant that has sent its shares, in sender order.
func (c *Ceremony) SealedTo(to uint16) []*threshold.SealedShare {
	var out []*threshold.SealedShare
	for from := range uint16(len(c.Participants)) {
		for _, s := range c.SealedFrom(from + 1) {
			if s.To == to {
				out = append(out, s)
			}
		}
	}
	return out
}

// Ceremony returns a ceremony by id.
func (s *State) Ceremony(id uint64) (Ceremony, bool) {
	c, ok := s.ceremonies[id]
	if !ok {
		return Ceremony{}, false
	}
	return *c, true
}

// Ceremonies returns every ceremony, by id.
func (s *State) Ceremonies() []Ceremony {
	out := make([]Ceremony, 0, len(s.ceremonies))
	for _, id := range sortedIDs(s.ceremonies) {
		out = append(out, *s.ceremonies[id])
	}
	return out
}

// OpenCeremony returns the ceremony under way, if any (there is at most one).
func (s *State) OpenCeremony() (Ceremony, bool) {
	for _, id := range sortedIDs(s.ceremonies) {
		if c := s.ceremonies[id]; c.Status == CeremonyOpen {
			return *c, true
		}
	}
	return Ceremony{}, false
}

// ZoneKey returns the zone's key, if a ceremony has made one.
func (s *State) ZoneKey() (ZoneKey, bool) {
	if s.zoneKey == nil {
		return ZoneKey{}, false
	}
	return *s.zoneKey, true
}

// checkKeyProposal checks a key.generate or key.roll proposal.
func (s *State) checkKeyProposal(p *action.Propose) error {
	if c, ok := s.OpenCeremony(); ok {
		return fmt.Errorf("key-generation ceremony %d is under way", c.ID)
	}
	if p.Proposal == constitution.KeyRoll {
		if err := s.checkRoll(); err != nil {
			return err
		}
	} else if s.zoneKey != nil {
		return fmt.Errorf("the zone already has a key (ceremony %d): replace it with key.roll", s.zoneKey.Ceremony)
	}
	if p.Threshold < 2 || p.Threshold > len(s.members) {
		return fmt.Errorf("threshold %d is outside 2..%d (the number of members)", p.Threshold, len(s.members))
	}
	return nil
}

// openCeremony starts the ceremony of a passed key.generate or key.roll
// proposal.
func (s *State) openCeremony(p *Proposal, args *action.Propose, out *Output) {
	c := &Ceremony{ID: p.ID, Kind: p.Kind, Threshold: args.Threshold, Participants: sortedKeys(s.members), Excluded: []Exclusion{}}
	s.ceremonies[c.ID] = c
	s.beginAttempt(c, out)
}

// beginAttempt starts c's next attempt with its current participants, or
// fails c when fewer than its threshold remain.
func (s *State) beginAttempt(c *Ceremony, out *Output) {
	defer s.touch(idKey(prefixCeremony, c.ID))
	if len(c.Participants) < c.Threshold {
		c.Status, c.Round, c.Closed = CeremonyFailed, "", s.meta.Time
		c.Reason = fmt.Sprintf("%d participants left, fewer than the threshold %d", len(c.Participants), c.Threshold)
		c.Commits, c.Shares, c.Confirms = nil, nil, nil
		s.ceremonyFailed(c, out)
		return
	}
	n := len(c.Participants)
	c.Attempt++
	c.Status, c.Round, c.Started = CeremonyOpen, action.RoundCommit, s.meta.Time
	c.Deadline = s.meta.Time.Add(DKGRoundTimeout)
	c.Commits, c.Shares, c.Confirms = make([]string, n), make([]string, n), make([]bool, n)
	s.emit(out, Event{Event: "dkg.attempt", Ceremony: c.ID, Attempt: c.Attempt, Threshold: c.Threshold,
		Participants: slices.Clone(c.Participants)})
}

// nextRound moves c on to round.
func (s *State) nextRound(c *Ceremony, round string) {
	c.Round = round
	c.Deadline = s.meta.Time.Add(DKGRoundTimeout)
}

// exclude takes members out of c's participants and records why; the
// caller restarts c.
func (s *State) exclude(c *Ceremony, members []string, reason string, index int64, out *Output) {
	for _, m := range members {
		c.Excluded = append(c.Excluded, Exclusion{Member: m, Attempt: c.Attempt, Round: c.Round, Reason: reason, Time: s.meta.Time, Action: index})
		c.Participants = slices.DeleteFunc(c.Participants, func(p string) bool { return p == m })
		s.emit(out, Event{Event: "dkg.excluded", Ceremony: c.ID, Attempt: c.Attempt, Member: m, Reason: reason})
	}
}

// dkg judges a dkg action.
func (s *State) dkg(a *action.Signed, d *action.DKG, index int64, out *Output) (func(), error) {
	c, ok := s.ceremonies[d.Ceremony]
	if !ok {
		return nil, reject(CodeInvalid, "no key-generation ceremony %d", d.Ceremony)
	}
	if c.Status != CeremonyOpen {
		return nil, reject(CodeInvalid, "ceremony %d is %s", c.ID, c.Status)
	}
	if d.Attempt != c.Attempt {
		return nil, reject(CodeInvalid, "ceremony %d is at attempt %d, not %d", c.ID, c.Attempt, d.Attempt)
	}
	id := c.ParticipantID(a.Signer)
	if id == 0 {
		return nil, reject(CodeForbidden, "%q does not take part in attempt %d of ceremony %d", a.Signer, c.Attempt, c.ID)
	}
	data, p, key := d.Bytes(), c.Params(s.c.Origin), idKey(prefixCeremony, c.ID)
	i := int(id - 1)
	if d.Round != c.Round && !(d.Round == action.RoundComplaint && c.Round != action.RoundCommit) {
		return nil, reject(CodeInvalid, "ceremony %d is in its %s round, not %s", c.ID, c.Round, d.Round)
	}
	switch d.Round {
	case action.RoundCommit:
		if c.Commits[i] != "" {
			return nil, reject(CodeInvalid, "%q already committed in attempt %d of ceremony %d", a.Signer, c.Attempt, c.ID)
		}
		pkg, err := threshold.DecodeRound1Package(data)
		if err != nil {
			return nil, reject(CodeInvalid, "commit of %q: %v", a.Signer, err)
		}
		if pkg.ID != id {
			return nil, reject(CodeInvalid, "commit of %q is participant %d's package, %q is participant %d", a.Signer, pkg.ID, a.Signer, id)
		}
		if err := threshold.VerifyRound1Package(p, pkg); err != nil {
			return nil, reject(CodeInvalid, "commit of %q: %v", a.Signer, err)
		}
		return func() {
			c.Commits[i] = d.Data
			if !slices.Contains(c.Commits, "") {
				s.nextRound(c, action.RoundShares)
			}
			s.touch(key)
		}, nil
	case action.RoundShares:
		if c.Shares[i] != "" {
			return nil, reject(CodeInvalid, "%q already sent its shares in attempt %d of ceremony %d", a.Signer, c.Attempt, c.ID)
		}
		if err := checkSealed(data, id, len(c.Participants)); err != nil {
			return nil, reject(CodeInvalid, "shares of %q: %v", a.Signer, err)
		}
		return func() {
			c.Shares[i] = d.Data
			if !slices.Contains(c.Shares, "") {
				s.nextRound(c, action.RoundConfirm)
			}
			s.touch(key)
		}, nil
	case action.RoundComplaint:
		return s.complaint(a, c, id, data, p, index, out)
	case action.RoundConfirm:
		if c.Confirms[i] {
			return nil, reject(CodeInvalid, "%q already confirmed attempt %d of ceremony %d", a.Signer, c.Attempt, c.ID)
		}
		pkgs, err := c.Packages()
		if err != nil {
			return nil, reject(CodeInvalid, "%v", err)
		}
		want, err := threshold.TranscriptHash(p, pkgs)
		if err != nil {
			return nil, reject(CodeInvalid, "ceremony %d: %v", c.ID, err)
		}
		if !bytes.Equal(data, want[:]) {
			return nil, reject(CodeInvalid, "confirm of %q: transcript hash %x is not the ceremony's %x", a.Signer, trimBytes(data), want)
		}
		return func() {
			c.Confirms[i] = true
			if !slices.Contains(c.Confirms, false) {
				s.finishCeremony(c, pkgs, p, out)
			}
			s.touch(key)
		}, nil
	}
	return nil, reject(CodeInvalid, "unknown dkg round %q", d.Round)
}

// checkSealed checks the structure of a shares payload: one sealed share
// from sender to every other participant, in identifier order.
func checkSealed(data []byte, sender uint16, n int) error {
	if want := (n - 1) * threshold.SealedShareSize; len(data) != want {
		return fmt.Errorf("%d bytes, want %d (%d sealed shares of %d bytes)", len(data), want, n-1, threshold.SealedShareSize)
	}
	to := uint16(1)
	for off := 0; off < len(data); off += threshold.SealedShareSize {
		if to == sender {
			to++
		}
		sh, err := threshold.DecodeSealedShare(data[off : off+threshold.SealedShareSize])
		if err != nil {
			return fmt.Errorf("sealed share %d: %v", off/threshold.SealedShareSize+1, err)
		}
		if sh.From != sender || sh.To != to {
			return fmt.Errorf("sealed share %d is from %d to %d, want from %d to %d", off/threshold.SealedShareSize+1, sh.From, sh.To, sender, to)
		}
		to++
	}
	return nil
}

// complaint judges a complaint by participant id: the sealed share it
// names must be exactly the one its sender put in the state; then
// threshold.JudgeComplaint names the culprit, who is excluded, and the
// ceremony restarts.
func (s *State) complaint(a *action.Signed, c *Ceremony, id uint16, data []byte, p threshold.DKGParams, index int64, out *Output) (func(), error) {
	comp, err := threshold.DecodeComplaint(data)
	if err != nil {
		return nil, reject(CodeInvalid, "complaint of %q: %v", a.Signer, err)
	}
	if comp.Accuser != id {
		return nil, reject(CodeInvalid, "complaint of %q is made in the name of participant %d, %q is participant %d", a.Signer, comp.Accuser, a.Signer, id)
	}
	accused := comp.Sealed.From
	if accused == 0 || int(accused) > len(c.Participants) {
		return nil, reject(CodeInvalid, "complaint of %q names participant %d, not in 1..%d", a.Signer, accused, len(c.Participants))
	}
	var sent *threshold.SealedShare
	for _, sh := range c.SealedFrom(accused) {
		if sh.To == id {
			sent = sh
		}
	}
	if sent == nil {
		return nil, reject(CodeInvalid, "complaint of %q about participant %d, who has sent no shares", a.Signer, accused)
	}
	if !bytes.Equal(sent.Encode(), comp.Sealed.Encode()) {
		return nil, reject(CodeInvalid, "complaint of %q quotes a sealed share that participant %d did not send", a.Signer, accused)
	}
	pkgs, err := c.Packages()
	if err != nil {
		return nil, reject(CodeInvalid, "%v", err)
	}
	culprit, reason, err := threshold.JudgeComplaint(p, pkgs, comp)
	if err != nil {
		return nil, reject(CodeInvalid, "complaint of %q: %v", a.Signer, err)
	}
	name := c.Participants[culprit-1]
	why := fmt.Sprintf("complaint by %s against %s: %s", a.Signer, c.Participants[accused-1], reason)
	return func() {
		s.exclude(c, []string{name}, why, index, out)
		s.beginAttempt(c, out)
	}, nil
}

// finishCeremony makes the zone key of a ceremony every participant has
// confirmed.
func (s *State) finishCeremony(c *Ceremony, pkgs []*threshold.Round1Package, p threshold.DKGParams, out *Output) {
	pkp, err := threshold.DKGPublicKeyPackage(p, pkgs)
	if err != nil {
		// Every package was verified on arrival: this cannot happen, but
		// if it did, the ceremony must not produce a key.
		c.Status, c.Round, c.Closed, c.Reason = CeremonyFailed, "", s.meta.Time, err.Error()
		s.ceremonyFailed(c, out)
		return
	}
	zk := &ZoneKey{Ceremony: c.ID, Threshold: c.Threshold, Participants: slices.Clone(c.Participants),
		GroupKey: base64.StdEncoding.EncodeToString(pkp.GroupKey.Bytes()), Since: s.meta.Time}
	for _, v := range pkp.VerificationShares {
		zk.VerificationShares = append(zk.VerificationShares, base64.StdEncoding.EncodeToString(v.Bytes()))
	}
	c.Status, c.Round, c.Closed, c.GroupKey = CeremonyDone, "", s.meta.Time, zk.GroupKey
	if r := s.roll; r != nil && r.Ceremony == c.ID {
		s.rollKeyMade(zk, out) // published first, the zone key signs on
	} else {
		s.zoneKey = zk
		s.touch(keyZoneKey)
	}
	out.bump = true // the next zone version is the first signed with it, or publishes it
	s.emit(out, Event{Event: "key.generated", Ceremony: c.ID, Attempt: c.Attempt, Threshold: c.Threshold,
		Participants: slices.Clone(c.Participants), GroupKey: zk.GroupKey, VerificationShares: slices.Clone(zk.VerificationShares)})
}

// ceremonyFailed logs that c failed; a rollover waiting for it ends.
func (s *State) ceremonyFailed(c *Ceremony, out *Output) {
	s.emit(out, Event{Event: "key.failed", Ceremony: c.ID, Attempt: c.Attempt, Reason: c.Reason})
	if r := s.roll; r != nil && r.Ceremony == c.ID {
		s.rollFailed()
	}
}

// dkgDeadlines excludes, in every open ceremony whose round deadline has
// come, the participants that did not act in that round, and restarts it.
func (s *State) dkgDeadlines(out *Output) {
	for _, id := range sortedIDs(s.ceremonies) {
		c := s.ceremonies[id]
		if c.Status != CeremonyOpen || s.meta.Time.Before(c.Deadline) {
			continue
		}
		var silent []string
		for _, m := range c.Participants {
			if c.Owes(m) {
				silent = append(silent, m)
			}
		}
		if len(silent) == 0 { // a round ends when all have acted: cannot happen
			s.nextRound(c, c.Round)
			s.touch(idKey(prefixCeremony, id))
			continue
		}
		s.exclude(c, silent, fmt.Sprintf("did not act in the %s round before its deadline %s", c.Round, c.Deadline.Format(time.RFC3339)), -1, out)
		s.beginAttempt(c, out)
	}
}

func trimBytes(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
