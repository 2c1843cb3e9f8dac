package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// MaxLifetime bounds how far in the future an action may expire.
const MaxLifetime = 7 * 24 * time.Hour

// Result codes of an action (CometBFT ExecTxResult codes).
const (
	OK uint32 = iota
	CodeMalformed
	CodeWrongOrigin
	CodeUnknownSigner
	CodeBadSignature
	CodeExpired
	CodeSequence
	CodeForbidden
	CodeInvalid
)

// Result is the outcome of one action.
type Result struct {
	Code uint32 `json:"code"`
	// Reason says why an action was rejected; empty when accepted.
	Reason string `json:"reason,omitempty"`
	// Index is the log index of an accepted action, -1 otherwise.
	Index int64 `json:"index"`
	// Proposal is the id of the proposal an accepted propose action opened.
	Proposal uint64 `json:"proposal,omitempty"`
}

// ValidatorUpdate is a change of the consensus validator set: power 0
// removes the validator.
type ValidatorUpdate struct {
	PubKey []byte
	Power  int64
}

// Power is every member validator's voting power: members are equal.
const Power = 10

// Output is what applying a block produced.
type Output struct {
	Results []Result
	// Entries are the log entries to append, in order; the first gets the
	// log index given to Apply.
	Entries [][]byte
	// ZoneChanged says the zone must be rebuilt; ChangedTLDs and
	// ChangedHosts name what changed (sorted).
	ZoneChanged      bool
	ChangedTLDs      []string
	ChangedHosts     []string
	ValidatorUpdates []ValidatorUpdate

	tlds, hosts map[string]bool
	logStart    int64
	// bump makes a new zone version even if no name changed (a new zone
	// key, signatures to refresh).
	bump bool
}

func (o *Output) changedTLD(name string) {
	if o.tlds == nil {
		o.tlds = map[string]bool{}
	}
	o.tlds[name] = true
}

func (o *Output) changedHost(name string) {
	if o.hosts == nil {
		o.hosts = map[string]bool{}
	}
	o.hosts[name] = true
}

// nextIndex is the log index the next appended entry gets.
func (o *Output) nextIndex() int64 { return o.logStart + int64(len(o.Entries)) }

// Rejection is a refused action: its result code and the reason.
type Rejection struct {
	Code   uint32
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

func reject(code uint32, format string, args ...any) error {
	return &Rejection{code, fmt.Sprintf(format, args...)}
}

// MaxPending is how far ahead of a signer's next sequence number CheckTx
// admits actions: a signer may have that many actions waiting for blocks.
const MaxPending = 16

// Check does what CheckTx does before a block, against the committed
// state: decode, origin, signer, signature, expiry, a sequence number not
// used yet and not too far ahead, and every rule of the action's kind, so
// that an action that would be rejected never takes space in a block. It
// changes nothing. (An action can still be rejected in its block if
// another one, ordered before it, changes the state it depends on.)
func (s *State) Check(tx []byte) (*action.Signed, error) {
	a, _, err := s.authenticate(tx)
	if err != nil {
		return nil, err
	}
	next := s.nextSeq(a)
	if a.Seq < next {
		return nil, reject(CodeSequence, "sequence %d of %q was already used (next is %d)", a.Seq, a.Signer, next)
	}
	if a.Seq >= next+MaxPending {
		return nil, reject(CodeSequence, "sequence %d of %q is too far ahead (next is %d, at most %d may wait)", a.Seq, a.Signer, next, MaxPending)
	}
	if !s.meta.Time.IsZero() && a.ExpiresAt.Before(s.meta.Time) {
		return nil, reject(CodeExpired, "action expired at %s", a.Expires)
	}
	if !s.meta.Time.IsZero() && a.ExpiresAt.After(s.meta.Time.Add(MaxLifetime)) {
		return nil, reject(CodeExpired, "action expires at %s, more than %s after the block time %s", a.Expires, MaxLifetime, s.meta.Time.Format(time.RFC3339))
	}
	if _, err := s.rules(a, 0, &Output{}); err != nil {
		return nil, err
	}
	return a, nil
}

// authenticate decodes tx and checks origin, signer and signature.
func (s *State) authenticate(tx []byte) (*action.Signed, string, error) {
	a, err := action.Decode(tx)
	if err != nil {
		return nil, "", reject(CodeMalformed, "%v", err)
	}
	if a.Origin != s.c.Origin {
		return nil, "", reject(CodeWrongOrigin, "action is for the federation %q, this is %q", trim(a.Origin), s.c.Origin)
	}
	vkey, ok := s.signerKey(a.Signer)
	if !ok {
		return nil, "", reject(CodeUnknownSigner, "unknown signer %q (neither a member nor a TLD operator)", a.Signer)
	}
	if err := a.Verify(vkey); err != nil {
		return nil, "", reject(CodeBadSignature, "%v", err)
	}
	return a, vkey, nil
}

// signerKey returns the verifier key registered for a signer name.
func (s *State) signerKey(name string) (string, bool) {
	if m, ok := s.members[name]; ok {
		return m.Key, true
	}
	k, ok := s.signers[name]
	return k, ok
}

// Apply applies a block: each action in order, then the proposals whose
// vote closed and the restrictions whose time is up. logSize is the log's
// size before the block. Apply never fails: a bad action is a rejected
// result; only the caller's misuse (a height or time going backwards)
// panics.
func (s *State) Apply(height int64, t time.Time, logSize int64, txs [][]byte) *Output {
	if height <= s.meta.Height || t.Before(s.meta.Time) {
		panic(fmt.Sprintf("registry: block %d at %s after block %d at %s", height, t, s.meta.Height, s.meta.Time))
	}
	t = t.UTC()
	s.meta.Height, s.meta.Time = height, t
	out := &Output{logStart: logSize}
	for _, tx := range txs {
		out.Results = append(out.Results, s.applyTx(tx, out))
	}
	s.dkgDeadlines(out)
	s.signingDeadlines(out)
	s.rollDeadlines(out)
	s.closeProposals(out)
	s.lapseRestrictions(out)
	out.ChangedTLDs = sortedKeys(out.tlds)
	out.ChangedHosts = sortedKeys(out.hosts)
	if s.needsRefresh() {
		out.bump = true
		s.emit(out, Event{Event: "zone.refresh", Serial: s.meta.Serial + 1, Reason: fmt.Sprintf("signatures of serial %d expire at %s", s.signed.Serial, s.signed.Expires.Format(time.RFC3339))})
	}
	if len(out.ChangedTLDs) > 0 || len(out.ChangedHosts) > 0 || out.bump {
		out.ZoneChanged = true
		s.meta.Serial++
	}
	s.touch(keyMeta) // last: the block changed height and time, maybe the serial and proposal counter
	return out
}

func (s *State) applyTx(tx []byte, out *Output) Result {
	res, err := s.tryTx(tx, out)
	if err != nil {
		var r *Rejection
		if !errors.As(err, &r) {
			r = &Rejection{CodeInvalid, err.Error()}
		}
		return Result{Code: r.Code, Reason: r.Reason, Index: -1}
	}
	return res
}

func (s *State) tryTx(tx []byte, out *Output) (Result, error) {
	a, _, err := s.authenticate(tx)
	if err != nil {
		return Result{}, err
	}
	now := s.meta.Time
	if a.ExpiresAt.Before(now) {
		return Result{}, reject(CodeExpired, "action expired at %s, block time is %s", a.Expires, now.Format(time.RFC3339))
	}
	if a.ExpiresAt.After(now.Add(MaxLifetime)) {
		return Result{}, reject(CodeExpired, "action expires at %s, more than %s after the block time %s", a.Expires, MaxLifetime, now.Format(time.RFC3339))
	}
	if next := s.nextSeq(a); a.Seq != next {
		if a.Seq < next {
			return Result{}, reject(CodeSequence, "sequence %d of %q was already used (next is %d): a replay", a.Seq, a.Signer, next)
		}
		return Result{}, reject(CodeSequence, "sequence %d of %q is out of order (next is %d)", a.Seq, a.Signer, next)
	}
	index := out.nextIndex()
	res := Result{Index: index}
	if a.Kind == action.KindPropose {
		res.Proposal = s.meta.NextProposal + 1
	}
	effect, err := s.rules(a, index, out)
	if err != nil {
		return Result{}, err
	}
	// Checks passed: from here on nothing fails.
	s.seqs[seqLane(a)] = a.Seq
	s.touch(prefixSeq + seqLane(a))
	out.Entries = append(out.Entries, a.Raw)
	effect()
	return res, nil
}

// rules checks a's kind-specific rules and returns the change it makes,
// to run once every check has passed; it changes nothing itself.
func (s *State) rules(a *action.Signed, index int64, out *Output) (func(), error) {
	switch b := a.Body.(type) {
	case *action.Delegate:
		return s.delegate(a, b, out)
	case *action.Propose:
		return s.propose(a, b, index)
	case *action.Vote:
		return s.vote(a, b, index)
	case *action.Respond:
		return s.respond(a, b, index)
	case *action.DKG:
		return s.dkg(a, b, index, out)
	case *action.Signing:
		return s.signAction(a, b)
	}
	return nil, reject(CodeMalformed, "unknown action kind %q", a.Kind)
}

// controls reports whether signer may change tld's delegation: its owner
// member or its operator key.
func (s *State) controls(signer string, t *TLD) bool {
	if t.Owner != "" && signer == t.Owner {
		return true
	}
	if t.Operator == "" {
		return false
	}
	if v, err := note.NewVerifier(t.Operator); err == nil && v.Name() == signer {
		k, _ := s.signerKey(signer)
		return k == t.Operator
	}
	return false
}

func (s *State) delegate(a *action.Signed, d *action.Delegate, out *Output) (func(), error) {
	t, ok := s.tlds[d.TLD]
	if !ok {
		return nil, reject(CodeInvalid, "no TLD %q", trim(d.TLD))
	}
	if !s.controls(a.Signer, t) {
		who := "its operator"
		if t.Owner != "" {
			who = fmt.Sprintf("its owner %q or its operator", t.Owner)
		}
		return nil, reject(CodeForbidden, "%q may not change %q: only %s may", a.Signer, d.TLD, who)
	}
	p, err := s.planDelegation(d.TLD, d)
	if err != nil {
		return nil, reject(CodeInvalid, "delegation of %q: %v", d.TLD, err)
	}
	return func() { s.applyPlan(p, out) }, nil
}

func (s *State) respond(a *action.Signed, r *action.Respond, index int64) (func(), error) {
	rs, ok := s.restrictions[r.Restriction]
	if !ok {
		return nil, reject(CodeInvalid, "no restriction %d", r.Restriction)
	}
	t, ok := s.tlds[rs.TLD]
	if !ok || !s.controls(a.Signer, t) {
		return nil, reject(CodeForbidden, "only the owner or operator of %q may respond to restriction %d", rs.TLD, rs.ID)
	}
	if len(rs.Responses) >= MaxResponses {
		return nil, reject(CodeInvalid, "restriction %d already has %d responses", rs.ID, MaxResponses)
	}
	return func() {
		rs.Responses = append(rs.Responses, Response{Signer: a.Signer, Text: r.Text, Time: s.meta.Time, Action: index})
		s.touch(idKey(prefixRestriction, rs.ID))
	}, nil
}

// Event is a log entry the state machine writes itself: a proposal's
// outcome, a lapsed restriction, a zone version. Its encoding (see
// EncodeEvent) starts with the line "commonroot/event/v1".
type Event struct {
	Event  string    `json:"event"`
	Height int64     `json:"height"`
	Time   time.Time `json:"time"`

	Proposal     uint64 `json:"proposal,omitempty"`
	Kind         string `json:"kind,omitempty"`
	Outcome      string `json:"outcome,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Tally        *Tally `json:"tally,omitempty"`
	Restriction  uint64 `json:"restriction,omitempty"`
	TLD          string `json:"tld,omitempty"`
	Serial       uint32 `json:"serial,omitempty"`
	ZONEMD       string `json:"zonemd,omitempty"`
	Constitution string `json:"constitution,omitempty"`
	Member       string `json:"member,omitempty"`
	// Evidence holds signed notes that prove a member's misbehaviour.
	Evidence []string `json:"evidence,omitempty"`
	// Ceremony, Attempt, Threshold and Participants describe a key
	// ceremony's events (dkg.attempt, dkg.excluded, key.generated,
	// key.failed); GroupKey and VerificationShares (base64) the key made.
	Ceremony           uint64   `json:"ceremony,omitempty"`
	Attempt            int      `json:"attempt,omitempty"`
	Threshold          int      `json:"threshold,omitempty"`
	Participants       []string `json:"participants,omitempty"`
	GroupKey           string   `json:"group_key,omitempty"`
	VerificationShares []string `json:"verification_shares,omitempty"`
	// Request, Round, Count and KeyTag describe the signing of a zone
	// version (signing.*, zone.signed); Expires is when a signed version's
	// first signature expires.
	Request uint64 `json:"request,omitempty"`
	Round   string `json:"round,omitempty"`
	Count   int    `json:"count,omitempty"`
	// First and Total place a signing session's batch in its round: it
	// signs Count of the round's Total messages from message First on.
	First   int        `json:"first,omitempty"`
	Total   int        `json:"total,omitempty"`
	KeyTag  uint16     `json:"key_tag,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
	// Next is when a key rollover's next step is due (key.published,
	// key.active); Keys (base64) are the keys a signed version publishes
	// beside the one that signed it (zone.signed).
	Next *time.Time `json:"next,omitempty"`
	Keys []string   `json:"keys,omitempty"`
}

// Tally counts the votes of a closed proposal.
type Tally struct {
	Members int `json:"members"`
	Yes     int `json:"yes"`
	No      int `json:"no"`
	Abstain int `json:"abstain"`
}

// EventHeader is the first line of every event entry.
const EventHeader = "commonroot/event/v1\n"

// EncodeEvent returns the log entry of e.
func EncodeEvent(e Event) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("registry: encoding event: %v", err))
	}
	return append(append([]byte(EventHeader), b...), '\n')
}

// DecodeEvent parses an event entry.
func DecodeEvent(entry []byte) (*Event, error) {
	if len(entry) < len(EventHeader) || string(entry[:len(EventHeader)]) != EventHeader {
		return nil, errors.New("not an event entry")
	}
	e := new(Event)
	if err := json.Unmarshal(entry[len(EventHeader):], e); err != nil {
		return nil, fmt.Errorf("event entry: %v", err)
	}
	return e, nil
}

// ZoneVersion returns the event entry that binds a zone version (its serial
// and ZONEMD digest) to the log.
func (s *State) ZoneVersion(serial uint32, zonemd []byte) []byte {
	return EncodeEvent(Event{Event: "zone.version", Height: s.meta.Height, Time: s.meta.Time, Serial: serial, ZONEMD: fmt.Sprintf("%X", zonemd)})
}

func (s *State) emit(out *Output, e Event) {
	e.Height, e.Time = s.meta.Height, s.meta.Time
	out.Entries = append(out.Entries, EncodeEvent(e))
}

func validatorKey(b64 string) []byte {
	k, _ := base64.StdEncoding.DecodeString(b64)
	return k
}

// Genesis builds the initial state from a constitution: its members, its
// TLDs and their hosts. The genesis TLDs are taken as the federation found
// them (the delegation policy applies to every later change), but their
// structure is checked: every NS host below the apex needs addresses, and a
// host is given the same addresses wherever it appears.
func Genesis(c *constitution.Constitution) (*State, error) {
	s := empty(c)
	s.meta.Time = c.GenesisTime.UTC()
	s.meta.Serial = 1 // the genesis zone is version 1
	for _, m := range c.Members {
		s.members[m.Name] = &Member{Name: m.Name, Key: m.Key, Validator: m.Validator, Since: s.meta.Time}
		s.touch(prefixMember + m.Name)
	}
	for _, g := range c.TLDs {
		for _, h := range g.Glue {
			addrs, err := canonicalAddrs(h.Addrs)
			if err != nil {
				return nil, fmt.Errorf("genesis: TLD %q glue %q: %v", g.Name, h.Name, err)
			}
			if old, ok := s.hosts[h.Name]; ok && !slices.Equal(old.Addrs, addrs) {
				return nil, fmt.Errorf("genesis: host %q has different addresses under %q", h.Name, g.Name)
			}
			s.hosts[h.Name] = &Host{Name: h.Name, Addrs: addrs}
		}
	}
	for _, g := range c.TLDs {
		ns := append([]string(nil), g.NS...)
		sort.Strings(ns)
		var ds []string
		for _, d := range g.DS {
			v, _ := parseDS(d)
			ds = append(ds, v)
		}
		sort.Strings(ds)
		t := &TLD{Name: g.Name, Owner: g.Owner, Operator: g.Operator, NS: ns, DS: ds, Created: s.meta.Time, Changed: s.meta.Time}
		s.tlds[g.Name] = t
		for _, h := range ns {
			if s.hostUsers[h] == nil {
				s.hostUsers[h] = map[string]bool{}
			}
			s.hostUsers[h][g.Name] = true
			if dnsnameIsBelow(h, c.Apex) && !s.isApexNS(h) {
				if _, ok := s.hosts[h]; !ok {
					return nil, fmt.Errorf("genesis: TLD %q: NS host %q has no glue", g.Name, h)
				}
			}
		}
		if g.Operator != "" {
			if err := s.addSigner(g.Operator); err != nil {
				return nil, fmt.Errorf("genesis: TLD %q: %v", g.Name, err)
			}
		}
		s.touch(prefixTLD + g.Name)
	}
	for _, h := range sortedKeys(s.hosts) {
		if len(s.hostUsers[h]) == 0 {
			delete(s.hosts, h) // glue nobody uses
			continue
		}
		s.touch(prefixHost + h)
	}
	s.touch(keyConstitution)
	s.touch(keyMeta)
	return s, nil
}

// GenesisEntry is the log's first entry: it names the constitution.
func (s *State) GenesisEntry() []byte {
	return EncodeEvent(Event{Event: "genesis", Time: s.c.GenesisTime.UTC(), Constitution: fmt.Sprintf("%x", s.c.Hash)})
}

// addSigner registers an operator key's name; a name may not stand for two keys.
func (s *State) addSigner(vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("operator key %q: %v", trim(vkey), err)
	}
	if _, isMember := s.members[v.Name()]; isMember {
		return fmt.Errorf("operator key name %q is a member's name", v.Name())
	}
	if old, ok := s.signers[v.Name()]; ok && old != vkey {
		return fmt.Errorf("operator key name %q already stands for another key", v.Name())
	}
	s.signers[v.Name()] = vkey
	return nil
}

// rebuildSigners recomputes the operator index from the TLDs.
func (s *State) rebuildSigners() {
	s.signers = map[string]string{}
	for _, name := range sortedKeys(s.tlds) {
		if op := s.tlds[name].Operator; op != "" {
			s.addSigner(op)
		}
	}
}

func empty(c *constitution.Constitution) *State {
	return &State{
		c:            c,
		members:      map[string]*Member{},
		tlds:         map[string]*TLD{},
		hosts:        map[string]*Host{},
		seqs:         map[string]uint64{},
		proposals:    map[uint64]*Proposal{},
		restrictions: map[uint64]*Restriction{},
		evidence:     map[string]string{},
		ceremonies:   map[uint64]*Ceremony{},
		pools:        map[string]*Pool{},
		silent:       map[string]bool{},
		signers:      map[string]string{},
		hostUsers:    map[string]map[string]bool{},
		elems:        map[string][32]byte{},
		dirty:        map[string]bool{},
		stale:        map[string]bool{},
		encoded:      map[string][]byte{},
		points:       threshold.NewPointMemo(pointMemoSize),
	}
}

// Load rebuilds a state from its persisted writes (every key and value, in
// any order).
func Load(kvs func(yield func(key string, value []byte) error) error) (*State, error) {
	var raw = map[string][]byte{}
	if err := kvs(func(k string, v []byte) error {
		raw[k] = append([]byte(nil), v...)
		return nil
	}); err != nil {
		return nil, err
	}
	cb, ok := raw[keyConstitution]
	if !ok {
		return nil, errors.New("registry: stored state has no constitution")
	}
	c, err := constitution.Parse(cb)
	if err != nil {
		return nil, fmt.Errorf("registry: stored constitution: %v", err)
	}
	s := empty(c)
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		var err error
		switch {
		case k == keyConstitution:
		case k == keyMeta:
			err = json.Unmarshal(v, &s.meta)
		case hasPrefix(k, prefixMember):
			m := new(Member)
			err = json.Unmarshal(v, m)
			s.members[m.Name] = m
		case hasPrefix(k, prefixTLD):
			t := new(TLD)
			err = json.Unmarshal(v, t)
			s.tlds[t.Name] = t
		case hasPrefix(k, prefixHost):
			h := new(Host)
			err = json.Unmarshal(v, h)
			s.hosts[h.Name] = h
		case hasPrefix(k, prefixSeq):
			var n uint64
			err = json.Unmarshal(v, &n)
			s.seqs[k[len(prefixSeq):]] = n
		case hasPrefix(k, prefixProposal):
			p := new(Proposal)
			err = json.Unmarshal(v, p)
			s.proposals[p.ID] = p
		case hasPrefix(k, prefixEvidence):
			var m string
			err = json.Unmarshal(v, &m)
			s.evidence[k[len(prefixEvidence):]] = m
		case hasPrefix(k, prefixRestriction):
			r := new(Restriction)
			err = json.Unmarshal(v, r)
			s.restrictions[r.ID] = r
		case hasPrefix(k, prefixCeremony):
			c := new(Ceremony)
			err = json.Unmarshal(v, c)
			s.ceremonies[c.ID] = c
		case k == keyZoneKey:
			s.zoneKey = new(ZoneKey)
			err = json.Unmarshal(v, s.zoneKey)
		case k == keyRollover:
			s.roll = new(Rollover)
			err = json.Unmarshal(v, s.roll)
		case hasPrefix(k, prefixPool):
			p := new(Pool)
			err = json.Unmarshal(v, p)
			s.pools[p.Member] = p
		case k == keySigning:
			s.signing = new(SigningRequest)
			err = json.Unmarshal(v, s.signing)
		case hasPrefix(k, prefixSigs):
			// Keys sort in batch order; a gap is corruption.
			var i int
			var b []byte
			if _, err = fmt.Sscanf(k[len(prefixSigs):], "%08x", &i); err == nil {
				if err = json.Unmarshal(v, &b); err == nil && i != len(s.batchSigs) {
					err = fmt.Errorf("signatures of batch %d after %d batches", i, len(s.batchSigs))
				}
			}
			s.batchSigs = append(s.batchSigs, b)
		case k == keySigned:
			s.signed = new(SignedVersion)
			err = json.Unmarshal(v, s.signed)
		case k == keySilent:
			var names []string
			err = json.Unmarshal(v, &names)
			for _, n := range names {
				s.silent[n] = true
			}
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return nil, fmt.Errorf("registry: stored %q: %v", k, err)
		}
	}
	for _, name := range sortedKeys(s.tlds) {
		for _, h := range s.tlds[name].NS {
			if s.hostUsers[h] == nil {
				s.hostUsers[h] = map[string]bool{}
			}
			s.hostUsers[h][name] = true
		}
	}
	s.rebuildSigners()
	for _, k := range sortedKeys(raw) {
		e := elem(k, raw[k])
		s.digest.add(e)
		s.elems[k] = e
	}
	return s, nil
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
