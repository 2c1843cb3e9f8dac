// Package registry is commonroot's deterministic state machine: it applies a
// block of signed actions at a consensus time and says, for each, accepted or
// rejected and why; it tallies proposals whose vote has closed, lapses
// restrictions whose time is up, and reports the log entries and zone changes
// that follow.
//
// Invariants: the same constitution and the same blocks give the same state,
// digest, results and log entries on every replica. The package reads no
// clock (time is the block time), no randomness, no network or file, starts
// no goroutine, and never lets map order reach its output.
//
// Rules it enforces:
//   - sovereignty: an owned TLD changes only by an action signed by its owner
//     or its operator; a proposal that touches an owned TLD (delete, transfer,
//     restriction) needs the owner's yes, whatever the others vote;
//   - shared TLDs are created, deleted and transferred only by proposals that
//     pass the constitution's quorum and threshold, with no veto;
//   - a restriction needs a legal basis, an evidence digest and a duration
//     within the constitution's maximum; it takes the TLD out of the zone and
//     lapses by itself at expiry;
//   - name-server hosts are shared objects (see hosts.go): a host's addresses
//     belong to the TLD it lies under, and a change that would alter another
//     TLD's delegation must name that TLD;
//   - every action carries the federation's origin, a per-signer sequence
//     number that must be exactly the next one, and an expiry;
//   - the zone key is made only by a key-generation ceremony that a
//     key.generate vote opened (dkg.go): every message is a logged action
//     judged from public data, misbehaving or silent participants are
//     excluded and named, and no secret share ever enters the state.
package registry

import (
	"crypto/sha256"
	"crypto/sha3"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// Member is a voting member.
type Member struct {
	Name      string `json:"name"`
	Key       string `json:"key"`
	Validator string `json:"validator"`
	// Since is the time the member joined (the genesis time for founders).
	Since time.Time `json:"since"`
}

// TLD is a child of the apex and its delegation.
type TLD struct {
	Name string `json:"name"`
	// Owner is the member that alone controls an owned TLD; "" if shared.
	Owner string `json:"owner,omitempty"`
	// Operator is the verifier key of the TLD's manager, or "".
	Operator string   `json:"operator,omitempty"`
	NS       []string `json:"ns"`
	DS       []string `json:"ds,omitempty"`
	// Created is when the TLD came into being; Changed when its delegation last changed.
	Created time.Time `json:"created"`
	Changed time.Time `json:"changed"`
}

// Host is a name-server host below the apex and its addresses (glue).
type Host struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
}

// Proposal is a governance proposal and its votes.
type Proposal struct {
	ID       uint64    `json:"id"`
	Kind     string    `json:"kind"`
	Proposer string    `json:"proposer"`
	Created  time.Time `json:"created"`
	Deadline time.Time `json:"deadline"`
	// Action is the log index of the proposing action.
	Action int64 `json:"action"`
	// Args is the proposal body as the proposer signed it (action.Propose).
	Args  json.RawMessage `json:"args"`
	Votes []Vote          `json:"votes"`
	// Status is "open", "passed", "rejected" or "failed" (passed but could
	// not be carried out); Reason says why.
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	Closed time.Time `json:"closed,omitempty"`
}

// Vote is one member's final vote.
type Vote struct {
	Member    string    `json:"member"`
	Vote      string    `json:"vote"`
	Rationale string    `json:"rationale,omitempty"`
	Time      time.Time `json:"time"`
	Action    int64     `json:"action"`
}

// Restriction suspends a TLD from the zone for a limited time.
type Restriction struct {
	ID         uint64     `json:"id"` // the id of the proposal that imposed it
	TLD        string     `json:"tld"`
	LegalBasis string     `json:"legal_basis"`
	Evidence   string     `json:"evidence"`
	Start      time.Time  `json:"start"`
	Expiry     time.Time  `json:"expiry"`
	Status     string     `json:"status"` // "active", "lapsed" or "lifted"
	Ended      time.Time  `json:"ended,omitempty"`
	Responses  []Response `json:"responses,omitempty"`
}

// Response is a restricted TLD's public answer to a restriction.
type Response struct {
	Signer string    `json:"signer"`
	Text   string    `json:"text"`
	Time   time.Time `json:"time"`
	Action int64     `json:"action"`
}

// MaxResponses bounds the responses kept per restriction.
const MaxResponses = 16

// meta holds the registry's scalar state.
type meta struct {
	Height       int64     `json:"height"`
	Time         time.Time `json:"time"`
	NextProposal uint64    `json:"next_proposal"`
	Serial       uint32    `json:"serial"`
	NextRequest  uint64    `json:"next_request,omitempty"`
}

// Keys of the persisted state: a prefix per object kind, then its name.
const (
	prefixMember      = "member/"
	prefixTLD         = "tld/"
	prefixHost        = "host/"
	prefixSeq         = "seq/"
	prefixProposal    = "proposal/"
	prefixRestriction = "restriction/"
	prefixEvidence    = "evidence/"
	keyMeta           = "meta"
	keyConstitution   = "constitution"
)

func idKey(prefix string, id uint64) string { return fmt.Sprintf("%s%016x", prefix, id) }

// State is the registry's state. Its maps are never iterated for output
// without sorting.
type State struct {
	c            *constitution.Constitution
	members      map[string]*Member
	tlds         map[string]*TLD
	hosts        map[string]*Host
	seqs         map[string]uint64
	proposals    map[uint64]*Proposal
	restrictions map[uint64]*Restriction
	evidence     map[string]string // SHA-256 of a judged evidence note → the member it names
	ceremonies   map[uint64]*Ceremony
	zoneKey      *ZoneKey  // nil until a ceremony made one
	roll         *Rollover // the key rollover under way, or nil
	pools        map[string]*Pool
	signing      *SigningRequest // the open signing request, or nil
	batchSigs    [][]byte        // the open request's signed batches' signatures
	signed       *SignedVersion  // the newest published signed version, or nil
	silent       map[string]bool
	meta         meta

	// signers maps an operator key name to its verifier key; derived from tlds.
	signers map[string]string
	// hostUsers maps a host to the TLDs whose NS set names it; derived.
	hostUsers map[string]map[string]bool

	// digest is the LtHash of every persisted (key, value); elems holds
	// each key's element hash so it can be taken out again.
	digest lthash
	elems  map[string][32]byte
	// dirty lists keys changed since the last TakeWrites; stale those of
	// them whose element in digest is not yet their object's current
	// stored form, and encoded the stored forms settled so far (nil: gone).
	dirty   map[string]bool
	stale   map[string]bool
	encoded map[string][]byte

	// points remembers the nonce commitments' points found valid, by
	// Check (a node's mempool) or by Apply: each is checked once.
	points *threshold.PointMemo
}

// pointMemoSize is enough points for the full pools of eight key holders.
const pointMemoSize = 8 * 2 * MaxPool

// Constitution returns the constitution in force.
func (s *State) Constitution() *constitution.Constitution { return s.c }

// Height and Time are those of the last applied block.
func (s *State) Height() int64   { return s.meta.Height }
func (s *State) Time() time.Time { return s.meta.Time }
func (s *State) Serial() uint32  { return s.meta.Serial }
func (s *State) Member(name string) (Member, bool) {
	m, ok := s.members[name]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// Members returns the members sorted by name.
func (s *State) Members() []Member {
	out := make([]Member, 0, len(s.members))
	for _, k := range sortedKeys(s.members) {
		out = append(out, *s.members[k])
	}
	return out
}

// TLD returns a TLD by name.
func (s *State) TLD(name string) (TLD, bool) {
	t, ok := s.tlds[name]
	if !ok {
		return TLD{}, false
	}
	return *t, true
}

// TLDNames returns every TLD name, sorted.
func (s *State) TLDNames() []string { return sortedKeys(s.tlds) }

// Host returns a host by name.
func (s *State) Host(name string) (Host, bool) {
	h, ok := s.hosts[name]
	if !ok {
		return Host{}, false
	}
	return *h, true
}

// HostNames returns every host name, sorted.
func (s *State) HostNames() []string { return sortedKeys(s.hosts) }

// HostUsers returns the TLDs whose NS set names host, sorted.
func (s *State) HostUsers(host string) []string { return sortedKeys(s.hostUsers[host]) }

// NextSeq is the sequence number signer's next action must carry, but for
// the actions its node sends on its own (see NextNodeSeq).
func (s *State) NextSeq(signer string) uint64 { return s.seqs[signer] + 1 }

// NextNodeSeq is the sequence number of member's next dkg or sign action.
// Those are sent by the member's node on its own, so they count in a lane
// of their own: a node never takes the number of an action its member is
// signing by hand. Replay protection is the same: each number of each lane
// is used once, in order.
func (s *State) NextNodeSeq(member string) uint64 { return s.seqs[member+nodeLane] + 1 }

// nodeLane is the suffix of the sequence lane of a member's node; member
// names cannot hold "#".
const nodeLane = "#node"

// seqLane is the key of a's sequence lane.
func seqLane(a *action.Signed) string {
	if a.Kind == action.KindDKG || a.Kind == action.KindSign {
		return a.Signer + nodeLane
	}
	return a.Signer
}

func (s *State) nextSeq(a *action.Signed) uint64 { return s.seqs[seqLane(a)] + 1 }

// Proposal returns a proposal by id.
func (s *State) Proposal(id uint64) (Proposal, bool) {
	p, ok := s.proposals[id]
	if !ok {
		return Proposal{}, false
	}
	return *p, true
}

// Proposals returns every proposal, by id.
func (s *State) Proposals() []Proposal {
	out := make([]Proposal, 0, len(s.proposals))
	for _, id := range sortedIDs(s.proposals) {
		out = append(out, *s.proposals[id])
	}
	return out
}

// Restriction returns a restriction by id.
func (s *State) Restriction(id uint64) (Restriction, bool) {
	r, ok := s.restrictions[id]
	if !ok {
		return Restriction{}, false
	}
	return *r, true
}

// Restrictions returns every restriction, by id.
func (s *State) Restrictions() []Restriction {
	out := make([]Restriction, 0, len(s.restrictions))
	for _, id := range sortedIDs(s.restrictions) {
		out = append(out, *s.restrictions[id])
	}
	return out
}

// Restricted reports whether tld is under an active restriction.
func (s *State) Restricted(tld string) bool {
	for _, id := range sortedIDs(s.restrictions) {
		if r := s.restrictions[id]; r.TLD == tld && r.Status == "active" {
			return true
		}
	}
	return false
}

// Digest is the LtHash-based digest of the whole persisted state: it changes
// with any key or value, and costs O(changes) to keep up to date.
func (s *State) Digest() [32]byte {
	s.settle()
	return s.digest.sum()
}

// Write is one persisted key and its new value (nil: deleted).
type Write struct {
	Key   string
	Value []byte
}

// TakeWrites returns the writes since the last call, sorted by key, and
// forgets them. The node stores them atomically at Commit.
func (s *State) TakeWrites() []Write {
	s.settle()
	keys := sortedKeys(s.dirty)
	out := make([]Write, 0, len(keys))
	for _, k := range keys {
		out = append(out, Write{Key: k, Value: s.encoded[k]})
	}
	clear(s.dirty)
	clear(s.encoded)
	return out
}

// encode returns the stored form of key's object, or nil if it is gone.
func (s *State) encode(key string) []byte {
	var v any
	switch {
	case key == keyMeta:
		v = s.meta
	case key == keyConstitution:
		return append([]byte(nil), s.c.Bytes...)
	case strings.HasPrefix(key, prefixMember):
		if m, ok := s.members[key[len(prefixMember):]]; ok {
			v = m
		}
	case strings.HasPrefix(key, prefixTLD):
		if t, ok := s.tlds[key[len(prefixTLD):]]; ok {
			v = t
		}
	case strings.HasPrefix(key, prefixHost):
		if h, ok := s.hosts[key[len(prefixHost):]]; ok {
			v = h
		}
	case strings.HasPrefix(key, prefixSeq):
		if n, ok := s.seqs[key[len(prefixSeq):]]; ok {
			v = n
		}
	case strings.HasPrefix(key, prefixProposal):
		var id uint64
		fmt.Sscanf(key[len(prefixProposal):], "%x", &id)
		if p, ok := s.proposals[id]; ok {
			v = p
		}
	case strings.HasPrefix(key, prefixEvidence):
		if m, ok := s.evidence[key[len(prefixEvidence):]]; ok {
			v = m
		}
	case strings.HasPrefix(key, prefixRestriction):
		var id uint64
		fmt.Sscanf(key[len(prefixRestriction):], "%x", &id)
		if r, ok := s.restrictions[id]; ok {
			v = r
		}
	case strings.HasPrefix(key, prefixCeremony):
		var id uint64
		fmt.Sscanf(key[len(prefixCeremony):], "%x", &id)
		if c, ok := s.ceremonies[id]; ok {
			v = c
		}
	case key == keyZoneKey:
		if s.zoneKey != nil {
			v = s.zoneKey
		}
	case key == keyRollover:
		if s.roll != nil {
			v = s.roll
		}
	case strings.HasPrefix(key, prefixPool):
		if p, ok := s.pools[key[len(prefixPool):]]; ok {
			v = p
		}
	case key == keySigning:
		if s.signing != nil {
			v = s.signing
		}
	case strings.HasPrefix(key, prefixSigs):
		var i int
		fmt.Sscanf(key[len(prefixSigs):], "%x", &i)
		if i < len(s.batchSigs) {
			v = s.batchSigs[i]
		}
	case key == keySigned:
		if s.signed != nil {
			v = s.signed
		}
	case key == keySilent:
		if len(s.silent) > 0 {
			v = sortedKeys(s.silent)
		}
	default:
		panic("registry: unknown state key " + key)
	}
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("registry: encoding %s: %v", key, err))
	}
	return b
}

// touch marks key's object changed (or gone). Its stored form and its
// element of the digest are brought up to date by settle, once however
// many times the object changed since: a pool or a signing request that
// takes many actions in a block is encoded once, not once per action.
func (s *State) touch(key string) {
	s.dirty[key] = true
	s.stale[key] = true
}

// settle encodes the objects touched since it last ran and puts their
// elements in the digest in place of their old ones.
func (s *State) settle() {
	for _, key := range sortedKeys(s.stale) {
		if old, ok := s.elems[key]; ok {
			s.digest.remove(old)
			delete(s.elems, key)
		}
		v := s.encode(key)
		if v != nil {
			e := elem(key, v)
			s.digest.add(e)
			s.elems[key] = e
		}
		s.encoded[key] = v
	}
	clear(s.stale)
}

func elem(key string, value []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(key)))
	h.Write(n[:])
	h.Write([]byte(key))
	h.Write(value)
	var e [32]byte
	h.Sum(e[:0])
	return e
}

// lthash is LtHash16 (Bellare–Micciancio; Lewi et al., "Securing Update
// Propagation with Homomorphic Hashing"): a multiset hash whose 1024 16-bit
// lanes are added and subtracted modulo 2^16, so that one element changes it
// in constant time and the order of additions does not matter.
type lthash [1024]uint16

func expand(e [32]byte) *[1024]uint16 {
	x := sha3.NewSHAKE128()
	x.Write(e[:])
	var buf [2048]byte
	x.Read(buf[:])
	var v [1024]uint16
	for i := range v {
		v[i] = binary.LittleEndian.Uint16(buf[2*i:])
	}
	return &v
}

func (h *lthash) add(e [32]byte) {
	v := expand(e)
	for i := range h {
		h[i] += v[i]
	}
}

func (h *lthash) remove(e [32]byte) {
	v := expand(e)
	for i := range h {
		h[i] -= v[i]
	}
}

func (h *lthash) sum() [32]byte {
	var buf [2048]byte
	for i, x := range h {
		binary.LittleEndian.PutUint16(buf[2*i:], x)
	}
	return sha256.Sum256(buf[:])
}

// sortedKeys and sortedIDs give a map's keys in order: the only way the
// state machine iterates a map.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
func sortedIDs[V any](m map[uint64]V) []uint64  { return slices.Sorted(maps.Keys(m)) }

// RecordEvidence records that the evidence with the given digest (hex
// SHA-256 of the evidence note) against member was judged and logged; it
// returns false if it already was, so each piece of evidence is logged once.
func (s *State) RecordEvidence(digest, member string) bool {
	if _, ok := s.evidence[digest]; ok {
		return false
	}
	s.evidence[digest] = member
	s.touch(prefixEvidence + digest)
	return true
}

// HasEvidence reports whether the evidence with the given digest was logged.
func (s *State) HasEvidence(digest string) bool {
	_, ok := s.evidence[digest]
	return ok
}
