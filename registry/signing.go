package registry

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// Threshold signing of zone versions through consensus (docs/design.md,
// "Signing"). The registry keeps the public bookkeeping; the node's signing
// step (package signing) plans the signing inputs from the zone versions,
// aggregates and verifies.
//
//   - Nonce pools: each holder of the zone key sends, ahead of time, sign
//     actions with batches of FROST nonce commitments (step "nonces"),
//     every point checked on arrival. The pool keeps them in arrival order.
//   - Requests: after a block whose zone version is not signed, the signing
//     step opens a request for it (OpenSigning): which RRsets it signs, and
//     so the number of messages, is fixed then. A session chooses t signers
//     (deterministically, rotating with the request) and moves, for each
//     message, one commitment of each signer out of its pool into the
//     request: a commitment is used in exactly one session, so a nonce can
//     never sign two messages. A session of the rrsets round's first
//     batch sets the signatures' validity window from its own block time,
//     so that waiting for nonce commitments does not shorten their lives;
//     later batches and the zonemd round keep it. The signers send their
//     signature shares as sign actions (step "shares"), in chunks of
//     action.SharesPerChunk.
//   - When every share of the session is in, the signing step aggregates and
//     verifies; a signer whose share is invalid is named and excluded and a
//     new session begins without it (SigningBlame). A signer that has not
//     sent all its shares when the session's deadline (the constitution's
//     signing timeout, in block time) passes is excluded the same way, and
//     marked silent: later requests choose it only when too few others
//     can sign, until it sends a sign action again.
//   - A request has two rounds: "rrsets" (every RRset that needs a
//     signature) and "zonemd" (the ZONEMD RRset, whose digest covers every
//     other signature). After the second, the signed version is published
//     (PublishSigned), with a zone.signed event in the log.
//   - The rrsets round is signed in batches of at most the constitution's
//     signing batch (Signing.Batch) messages, one after another: each
//     batch is a session of its own with its own commitments, and its
//     aggregated signatures are kept under a key of their own until the
//     version is published. So no pool needs more than a batch, whatever
//     the number of RRsets to sign.
//   - A signed version whose first signature expires within the
//     constitution's refresh time is replaced: the block bumps the serial,
//     and that new version is signed like any other.

// InceptionOffset back-dates every signature's inception from the block
// time of its request, for validators whose clocks run slow.
const InceptionOffset = time.Hour

// MaxPool bounds the unused nonce commitments a member may have waiting:
// two of the largest signing batches.
const MaxPool = 2 * constitution.MaxSigningBatch

// Rounds of a signing request.
const (
	RoundRRsets = "rrsets"
	RoundZONEMD = "zonemd"
)

// Keys of the signing state.
const (
	prefixPool = "signpool/"
	prefixSigs = "signsigs/" // + the batch's index, %08x
	keySigning = "signing"
	keySigned  = "signed"
	keySilent  = "signsilent"
)

// Pool is a member's unused nonce commitments for the zone key of a
// ceremony: action.NonceSize bytes each (hiding then binding point), in
// arrival order.
type Pool struct {
	Member      string `json:"member"`
	Ceremony    uint64 `json:"ceremony"`
	Commitments []byte `json:"commitments"`
	// Used counts the commitments taken out into sessions so far.
	Used uint64 `json:"used"`
}

// Len is the number of unused commitments.
func (p *Pool) Len() int { return len(p.Commitments) / action.NonceSize }

// SigningRequest is the signing of one zone version.
type SigningRequest struct {
	ID       uint64 `json:"id"`
	Ceremony uint64 `json:"ceremony"` // of the zone key
	// GroupKey is the zone key (base64) and Others the keys published
	// beside it in the DNSKEY RRset (see DNSKEYs), when it was opened.
	GroupKey string   `json:"group_key"`
	Others   []string `json:"others,omitempty"`
	// Target is the serial of the zone version to sign; Base the request
	// whose signed version the plan updates (0: signed from scratch).
	Target uint32 `json:"target"`
	Base   uint64 `json:"base"`
	// Inception and Expiration are the validity window of the signatures
	// the request makes: set, from its block time, when a session of the
	// rrsets round's first batch begins. Opened is the block time of the
	// opening, from which the plan chose the RRsets to sign (those whose
	// signature expires within the refresh time of Opened).
	Inception  time.Time `json:"inception"`
	Expiration time.Time `json:"expiration"`
	Opened     time.Time `json:"opened"`
	// Round is rrsets or zonemd; RRsets the number of messages the rrsets
	// round signs. Done of the round's messages were signed by earlier
	// batches; the current session signs Count, from message Done on.
	Round  string `json:"round"`
	Count  int    `json:"count"`
	RRsets int    `json:"rrsets"`
	Done   int    `json:"done,omitempty"`
	// Session counts the signing sets chosen; Signers (sorted by their
	// identifier in the zone key) is the current one, empty while too few
	// members have enough nonce commitments.
	Session int      `json:"session"`
	Signers []string `json:"signers"`
	// Commitments[i] holds Count commitments of Signers[i], one per
	// message; Shares[i][c] the chunk c of its signature shares, nil until
	// received.
	Commitments [][]byte    `json:"commitments"`
	Shares      [][][]byte  `json:"shares"`
	Deadline    time.Time   `json:"deadline"`
	Excluded    []Exclusion `json:"excluded"`

	// points, in the copies State.SigningRequest returns, is the state's
	// memory of the points it checked: CommitmentList takes them from it.
	points *threshold.PointMemo
}

// total is the number of messages r's current round signs.
func (r *SigningRequest) total() int {
	if r.Round == RoundRRsets {
		return r.RRsets
	}
	return 1
}

// Chunks is the number of share chunks each signer sends in the round.
func (r *SigningRequest) Chunks() int {
	return (r.Count + action.SharesPerChunk - 1) / action.SharesPerChunk
}

// chunkLen is the number of shares in chunk c.
func (r *SigningRequest) chunkLen(c int) int {
	return min(action.SharesPerChunk, r.Count-c*action.SharesPerChunk)
}

// Complete reports whether every signer of the session sent every share.
func (r *SigningRequest) Complete() bool {
	if len(r.Signers) == 0 {
		return false
	}
	for _, chunks := range r.Shares {
		for _, c := range chunks {
			if c == nil {
				return false
			}
		}
	}
	return true
}

// owes reports whether signer i has not sent every chunk.
func (r *SigningRequest) owes(i int) bool {
	return slices.ContainsFunc(r.Shares[i], func(c []byte) bool { return c == nil })
}

// SignerIndex is member's position in Signers, or -1.
func (r *SigningRequest) SignerIndex(member string) int {
	return slices.Index(r.Signers, member)
}

// Commitment returns signer i's commitment for message m.
func (r *SigningRequest) Commitment(i, m int) []byte {
	return r.Commitments[i][m*action.NonceSize : (m+1)*action.NonceSize]
}

// Share returns signer i's share for message m (nil if not received).
func (r *SigningRequest) Share(i, m int) []byte {
	c := r.Shares[i][m/action.SharesPerChunk]
	if c == nil {
		return nil
	}
	off := (m % action.SharesPerChunk) * action.ShareSize
	return c[off : off+action.ShareSize]
}

// CommitmentList returns the commitment list of message m of the current
// session, as FROST wants it: each signer's commitment with its
// identifier in zk, in identifier order. Its points were checked when they
// entered the pool (signAction) and are not checked again here (see
// threshold.DecodeCheckedSigningCommitment); in a copy from
// State.SigningRequest they come decoded from the state's memory of them
// when it has them.
func (r *SigningRequest) CommitmentList(zk ZoneKey, m int) ([]threshold.SigningCommitment, error) {
	list := make([]threshold.SigningCommitment, len(r.Signers))
	for j, name := range r.Signers {
		c, err := r.points.DecodeCheckedSigningCommitment(withID(zk.KeyParticipantID(name), r.Commitment(j, m)))
		if err != nil {
			return nil, fmt.Errorf("registry: commitment %d of %s: %v", m, name, err)
		}
		list[j] = c
	}
	return list, nil
}

// SignatureShares returns the signature shares of message m of the
// current session, in the order of Signers; every share must be in.
func (r *SigningRequest) SignatureShares(zk ZoneKey, m int) ([]threshold.SignatureShare, error) {
	shares := make([]threshold.SignatureShare, len(r.Signers))
	for j, name := range r.Signers {
		sh, err := threshold.DecodeSignatureShare(withID(zk.KeyParticipantID(name), r.Share(j, m)))
		if err != nil {
			return nil, fmt.Errorf("registry: share %d of %s: %v", m, name, err)
		}
		shares[j] = sh
	}
	return shares, nil
}

// withID prefixes b with a FROST identifier, as package threshold encodes.
func withID(id uint16, b []byte) []byte {
	return append([]byte{byte(id >> 8), byte(id)}, b...)
}

// SignedVersion is a published signed zone version.
type SignedVersion struct {
	Request  uint64 `json:"request"`
	Serial   uint32 `json:"serial"`
	Ceremony uint64 `json:"ceremony"`
	KeyTag   uint16 `json:"key_tag"`
	// GroupKey signed the version; Others are published beside it.
	GroupKey string   `json:"group_key"`
	Others   []string `json:"others,omitempty"`
	// ZONEMD is the SHA-384 digest of the signed zone, upper-case hex.
	ZONEMD     string    `json:"zonemd"`
	Signatures int       `json:"signatures"`
	Signers    []string  `json:"signers"`
	Inception  time.Time `json:"inception"`
	// Expires is when the first of its signatures expires.
	Expires time.Time `json:"expires"`
	Time    time.Time `json:"time"`
}

// Pool returns member's nonce pool.
func (s *State) Pool(member string) (Pool, bool) {
	p, ok := s.pools[member]
	if !ok {
		return Pool{}, false
	}
	return *p, true
}

// SigningRequest returns the open signing request, if any (at most one).
// The copy shares no slice that later blocks write into: a reader may keep
// it outside the state's lock. (Commitments and received share chunks are
// never written in place.)
func (s *State) SigningRequest() (SigningRequest, bool) {
	if s.signing == nil {
		return SigningRequest{}, false
	}
	r := *s.signing
	r.points = s.points
	r.Signers, r.Excluded = slices.Clone(r.Signers), slices.Clone(r.Excluded)
	r.Commitments = slices.Clone(r.Commitments)
	r.Shares = make([][][]byte, len(s.signing.Shares))
	for i, chunks := range s.signing.Shares {
		r.Shares[i] = slices.Clone(chunks)
	}
	return r, true
}

// RoundSignatures returns the aggregated signatures of the open request's
// rrsets round so far (64 bytes each, in message order): every batch's
// once the round is over.
func (s *State) RoundSignatures() []byte {
	var out []byte
	for _, b := range s.batchSigs {
		out = append(out, b...)
	}
	return out
}

// dropRoundSignatures forgets the batches' signatures.
func (s *State) dropRoundSignatures() {
	n := len(s.batchSigs)
	s.batchSigs = nil
	for i := range n {
		s.touch(sigsKey(i))
	}
}

func sigsKey(i int) string { return fmt.Sprintf("%s%08x", prefixSigs, i) }

// Signed returns the newest published signed version.
func (s *State) Signed() (SignedVersion, bool) {
	if s.signed == nil {
		return SignedVersion{}, false
	}
	return *s.signed, true
}

// Silent returns the members excluded for silence since their last sign
// action, sorted.
func (s *State) Silent() []string { return sortedKeys(s.silent) }

// KeyParticipantID returns member's identifier in the zone key, or 0.
func (zk *ZoneKey) KeyParticipantID(member string) uint16 {
	i, ok := slices.BinarySearch(zk.Participants, member)
	if !ok {
		return 0
	}
	return uint16(i + 1)
}

// signAction judges a sign action.
func (s *State) signAction(a *action.Signed, b *action.Signing) (func(), error) {
	zk := s.zoneKey
	if zk == nil {
		return nil, reject(CodeInvalid, "the zone has no key yet: nothing to sign")
	}
	if zk.KeyParticipantID(a.Signer) == 0 {
		return nil, reject(CodeForbidden, "%q holds no share of the zone key (ceremony %d)", a.Signer, zk.Ceremony)
	}
	data := b.Bytes()
	heard := func() {
		if s.silent[a.Signer] {
			delete(s.silent, a.Signer)
			s.touch(keySilent)
		}
	}
	switch b.Step {
	case action.StepNonces:
		if b.Ceremony != zk.Ceremony {
			return nil, reject(CodeInvalid, "nonce commitments for the key of ceremony %d; the zone key is ceremony %d's", b.Ceremony, zk.Ceremony)
		}
		p := s.pools[a.Signer]
		have := 0
		if p != nil && p.Ceremony == zk.Ceremony {
			have = p.Len()
		}
		n := len(data) / action.NonceSize
		if have+n > MaxPool {
			return nil, reject(CodeInvalid, "%d nonce commitments waiting and %d more exceed the %d a pool holds", have, n, MaxPool)
		}
		seen := map[[32]byte]bool{}
		if have > 0 {
			for off := 0; off < len(p.Commitments); off += action.NonceSize {
				seen[[32]byte(p.Commitments[off:])] = true
			}
		}
		for i := range n {
			c := data[i*action.NonceSize : (i+1)*action.NonceSize]
			if err := s.points.Check(c[:32]); err != nil {
				return nil, reject(CodeInvalid, "nonce commitment %d: hiding point: %v", i, err)
			}
			if err := s.points.Check(c[32:]); err != nil {
				return nil, reject(CodeInvalid, "nonce commitment %d: binding point: %v", i, err)
			}
			if seen[[32]byte(c)] {
				return nil, reject(CodeInvalid, "nonce commitment %d (%x…) is already in the pool: a nonce is used once", i, c[:8])
			}
			seen[[32]byte(c)] = true
		}
		return func() {
			if p == nil || p.Ceremony != zk.Ceremony {
				p = &Pool{Member: a.Signer, Ceremony: zk.Ceremony}
				s.pools[a.Signer] = p
			}
			p.Commitments = append(p.Commitments, data...)
			s.touch(prefixPool + a.Signer)
			heard()
		}, nil
	case action.StepShares:
		r := s.signing
		if r == nil || r.ID != b.Request {
			return nil, reject(CodeInvalid, "no signing request %d is open", b.Request)
		}
		if b.Session != r.Session {
			return nil, reject(CodeInvalid, "session %d of signing request %d is over (the current one is %d)", b.Session, r.ID, r.Session)
		}
		i := r.SignerIndex(a.Signer)
		if i < 0 {
			return nil, reject(CodeForbidden, "%q is not a signer of session %d of signing request %d", a.Signer, r.Session, r.ID)
		}
		if b.Chunk >= r.Chunks() {
			return nil, reject(CodeInvalid, "chunk %d of signing request %d: the round has %d", b.Chunk, r.ID, r.Chunks())
		}
		if want := r.chunkLen(b.Chunk) * action.ShareSize; len(data) != want {
			return nil, reject(CodeInvalid, "chunk %d of signing request %d holds %d bytes, want %d", b.Chunk, r.ID, len(data), want)
		}
		if r.Shares[i][b.Chunk] != nil {
			return nil, reject(CodeInvalid, "chunk %d of session %d of signing request %d was already received from %q", b.Chunk, r.Session, r.ID, a.Signer)
		}
		for off := 0; off < len(data); off += action.ShareSize {
			if _, err := threshold.DecodeScalar(data[off : off+action.ShareSize]); err != nil {
				return nil, reject(CodeInvalid, "signature share %d of chunk %d: %v", off/action.ShareSize, b.Chunk, err)
			}
		}
		return func() {
			r.Shares[i][b.Chunk] = bytes.Clone(data)
			s.touch(keySigning)
			heard()
		}, nil
	}
	return nil, reject(CodeMalformed, "unknown sign step %q", b.Step)
}

// OpenSigning opens the signing request of zone version target: count
// messages in the rrsets round, signatures valid from inception to
// expiration, updating the signed version of request base (0: none). It
// returns the log entries it writes. The caller checks that the zone has a
// key and that no request is open.
func (s *State) OpenSigning(target uint32, base uint64, inception, expiration time.Time, count int) [][]byte {
	s.meta.NextRequest++
	zk, others, _ := s.DNSKEYs()
	r := &SigningRequest{ID: s.meta.NextRequest, Ceremony: zk.Ceremony, GroupKey: zk.GroupKey, Target: target, Base: base,
		Inception: inception.UTC(), Expiration: expiration.UTC(), Opened: s.meta.Time, Round: RoundRRsets,
		Count: min(count, s.c.SigningPolicy().Batch), RRsets: count, Excluded: []Exclusion{}}
	for _, o := range others {
		r.Others = append(r.Others, o.GroupKey)
	}
	s.signing = r
	s.touch(keyMeta)
	out := &Output{}
	s.emit(out, Event{Event: "signing.opened", Request: r.ID, Serial: target, Round: r.Round, Count: count, Ceremony: r.Ceremony})
	s.newSession(r, nil, out)
	return out.Entries
}

// SigningAggregated ends the current batch of the open request's rrsets
// round with its aggregated signatures (64 bytes each, in message order)
// and begins the next batch or, after the last, the zonemd round, with the
// same signers if they can.
func (s *State) SigningAggregated(sigs []byte) [][]byte {
	r := s.signing
	s.batchSigs = append(s.batchSigs, bytes.Clone(sigs))
	s.touch(sigsKey(len(s.batchSigs) - 1))
	r.Done += r.Count
	if r.Done < r.RRsets {
		r.Count = min(r.RRsets-r.Done, s.c.SigningPolicy().Batch)
	} else {
		r.Round, r.Count, r.Done = RoundZONEMD, 1, 0
	}
	out := &Output{}
	s.newSession(r, slices.Clone(r.Signers), out)
	return out.Entries
}

// SigningBlame excludes culprits (signers of the current session whose
// signature shares did not verify) from the open request and begins a new
// session without them.
func (s *State) SigningBlame(culprits []string, reason string) [][]byte {
	r := s.signing
	out := &Output{}
	for _, m := range culprits {
		s.excludeSigner(r, m, reason, out)
	}
	s.newSession(r, nil, out)
	return out.Entries
}

// excludeSigner records that m, a signer of r's current session, is out of
// r and why.
func (s *State) excludeSigner(r *SigningRequest, m, reason string, out *Output) {
	r.Excluded = append(r.Excluded, Exclusion{Member: m, Attempt: r.Session, Round: r.Round, Reason: reason, Time: s.meta.Time, Action: -1})
	s.emit(out, Event{Event: "signing.excluded", Request: r.ID, Round: r.Round, Member: m, Reason: reason})
}

// PublishSigned closes the open request with its signed version.
func (s *State) PublishSigned(v SignedVersion) [][]byte {
	r := s.signing
	v.Request, v.Ceremony, v.Signers, v.Time = r.ID, r.Ceremony, slices.Clone(r.Signers), s.meta.Time
	v.GroupKey, v.Others = r.GroupKey, slices.Clone(r.Others)
	s.signed = &v
	s.signing = nil
	s.dropRoundSignatures()
	s.touch(keySigned)
	s.touch(keySigning)
	out := &Output{}
	s.emit(out, Event{Event: "zone.signed", Request: v.Request, Serial: v.Serial, ZONEMD: v.ZONEMD, Ceremony: v.Ceremony,
		KeyTag: v.KeyTag, Participants: v.Signers, Count: v.Signatures, Expires: &v.Expires, GroupKey: v.GroupKey, Keys: v.Others})
	s.rollPublished(&v, out)
	return out.Entries
}

// AbandonSigning closes the open request without a signed version (the
// signing step could not use what it was given); the next block opens a
// new one.
func (s *State) AbandonSigning(reason string) [][]byte {
	r := s.signing
	s.signing = nil
	s.dropRoundSignatures()
	s.touch(keySigning)
	out := &Output{}
	s.emit(out, Event{Event: "signing.abandoned", Request: r.ID, Round: r.Round, Reason: reason})
	return out.Entries
}

// newSession chooses the signers of r's next session: prefer if each of
// them can, else t of the key holders that are members, not excluded from
// r, with enough commitments, preferring those not silent, rotating with
// the request and session so that the work is shared. Their commitments
// move from their pools into r. With too few able signers r waits
// (Signers empty) and signingDeadlines tries again each block.
func (s *State) newSession(r *SigningRequest, prefer []string, out *Output) {
	defer s.touch(keySigning)
	zk := s.zoneKey
	r.Signers, r.Commitments, r.Shares = nil, nil, nil
	able := func(m string, quiet bool) bool {
		if _, member := s.members[m]; !member {
			return false
		}
		if quiet && s.silent[m] {
			return false
		}
		for _, e := range r.Excluded {
			if e.Member == m && e.Reason != reasonSilent {
				return false
			}
		}
		p := s.pools[m]
		return p != nil && p.Ceremony == zk.Ceremony && p.Len() >= r.Count
	}
	var chosen []string
	if len(prefer) >= zk.Threshold && !slices.ContainsFunc(prefer, func(m string) bool { return !able(m, false) }) {
		chosen = prefer
	} else {
		// Prefer members not silent and not just excluded; fall back on
		// them rather than not sign at all.
		var cands []string
		for level := range 3 {
			cands = cands[:0]
			for _, m := range zk.Participants {
				if able(m, level == 0) && (level == 2 || !excludedNow(r, m)) {
					cands = append(cands, m)
				}
			}
			if len(cands) >= zk.Threshold {
				break
			}
		}
		if len(cands) < zk.Threshold {
			return
		}
		start := int((r.ID + uint64(r.Session)) % uint64(len(cands)))
		chosen = append(slices.Clone(cands[start:]), cands[:start]...)[:zk.Threshold]
		slices.SortFunc(chosen, func(a, b string) int { return int(zk.KeyParticipantID(a)) - int(zk.KeyParticipantID(b)) })
	}
	r.Session++
	r.Signers = chosen
	pol := s.c.SigningPolicy()
	r.Deadline = s.meta.Time.Add(time.Duration(pol.Timeout))
	if r.Round == RoundRRsets && r.Done == 0 { // later batches keep the first's window
		r.Inception, r.Expiration = s.meta.Time.Add(-InceptionOffset).UTC(), s.meta.Time.Add(time.Duration(pol.Validity)).UTC()
	}
	for _, m := range chosen {
		p := s.pools[m]
		n := r.Count * action.NonceSize
		r.Commitments = append(r.Commitments, bytes.Clone(p.Commitments[:n]))
		p.Commitments = slices.Clip(p.Commitments[n:])
		p.Used += uint64(r.Count)
		s.touch(prefixPool + m)
		r.Shares = append(r.Shares, make([][]byte, r.Chunks()))
	}
	s.emit(out, Event{Event: "signing.session", Request: r.ID, Round: r.Round, Attempt: r.Session, Participants: slices.Clone(chosen), Count: r.Count,
		First: r.Done, Total: r.total()})
}

// reasonSilent is the reason of an exclusion for silence.
const reasonSilent = "sent no complete signature shares before the session's deadline"

// excludedNow reports whether m was excluded from r's current round for
// silence in its last session (it is then chosen again only if too few
// others can sign).
func excludedNow(r *SigningRequest, m string) bool {
	for _, e := range r.Excluded {
		if e.Member == m && e.Attempt == r.Session && e.Round == r.Round {
			return true
		}
	}
	return false
}

// signingDeadlines, run after a block's actions: an open request waiting
// for signers tries again; one whose session's deadline passed excludes the
// signers that did not send all their shares, marks them silent and
// begins a new session.
func (s *State) signingDeadlines(out *Output) {
	r := s.signing
	if r == nil || s.zoneKey == nil {
		return
	}
	if len(r.Signers) == 0 {
		s.newSession(r, nil, out)
		return
	}
	if s.meta.Time.Before(r.Deadline) || r.Complete() {
		return
	}
	for i, m := range r.Signers {
		if r.owes(i) {
			s.excludeSigner(r, m, reasonSilent, out)
			s.silent[m] = true
			s.touch(keySilent)
		}
	}
	s.newSession(r, nil, out)
}

// needsRefresh reports whether the published signed version's first
// signature expires within the refresh time of the block time, and no
// request is open: the block then makes a new zone version (a new serial)
// to be signed. The signing step's plan signs again every RRset whose
// signature expires within the refresh time of the block time (see
// signing's plan), so the new version's first expiry is later.
func (s *State) needsRefresh() bool {
	if s.zoneKey == nil || s.signed == nil || s.signing != nil {
		return false
	}
	return s.signed.Expires.Sub(s.meta.Time) <= time.Duration(s.c.SigningPolicy().Refresh)
}
