package registry

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/commonroot/commonroot/action"
)

// Key rollover (docs/design.md, "Key rollover"): RFC 7583 §3.3, the roll
// of a combined signing key, timed by the constitution's
// signing.rollover_publish (Ipub) and signing.rollover_retire (Iret), in
// block time, with no one acting after the vote. A passed key.roll
// proposal opens a ceremony like key.generate's while the zone key goes on
// signing. Then:
//
//   - publish: once the ceremony has made the new key (key.generated), the
//     next zone version carries its DNSKEY beside the zone key's, which
//     still signs everything. Ipub counts from the first signed version
//     published with it (key.published), so that resolvers and the RFC
//     5011 hold-down see the key before it is used.
//   - switch: Ipub later, with no signing request open, the new key
//     becomes the zone key (key.switched) and the next zone version is
//     signed by it entirely; the old DNSKEY stays published so that
//     signatures the old key made, still in resolvers' caches, validate.
//     Iret counts from the first version signed by the new key
//     (key.active).
//   - retire: Iret later, the old DNSKEY leaves the zone (key.retired) and
//     the rollover is over; the members' nodes may destroy the old shares.
//
// Every step makes a new zone version (a new serial), so the DNSKEY RRset
// of each signed version is a function of the state when it was opened.
// At most one ceremony or rollover is under way. If the ceremony fails,
// the rollover ends (key.failed) and the zone key stays.

// Phases of a rollover.
const (
	RollGenerate = "generate" // the ceremony of the new key is under way
	RollPublish  = "publish"  // the new DNSKEY is published; the old key signs
	RollRetire   = "retire"   // the new key signs; the old DNSKEY is published
)

const keyRollover = "rollover"

// Rollover is a key rollover under way.
type Rollover struct {
	// Ceremony is the key.roll proposal's id, which is its ceremony's.
	Ceremony uint64 `json:"ceremony"`
	Phase    string `json:"phase"`
	// Old is the key being replaced; New the key made, nil while the
	// ceremony runs.
	Old ZoneKey  `json:"old"`
	New *ZoneKey `json:"new,omitempty"`
	// Published is when the first signed version with the new DNSKEY was
	// published, Switched when the new key became the zone key, Active
	// when the first version it signed was published; zero until then.
	Published time.Time `json:"published"`
	Switched  time.Time `json:"switched"`
	Active    time.Time `json:"active"`
}

// Next is when the rollover's next step is due, or zero while it waits for
// something other than time (the ceremony, a signed version).
func (r *Rollover) Next(policyPublish, policyRetire time.Duration) time.Time {
	switch {
	case r.Phase == RollPublish && !r.Published.IsZero():
		return r.Published.Add(policyPublish)
	case r.Phase == RollRetire && !r.Active.IsZero():
		return r.Active.Add(policyRetire)
	}
	return time.Time{}
}

// Rollover returns the key rollover under way, if any.
func (s *State) Rollover() (Rollover, bool) {
	if s.roll == nil {
		return Rollover{}, false
	}
	r := *s.roll
	if r.New != nil {
		n := *r.New
		r.New = &n
	}
	return r, true
}

// DNSKEYs returns the keys of the DNSKEY RRset a zone version opened now is
// signed with: the zone key, which signs, and the keys published beside it
// (a rollover's new key before the switch, its old key after). ok is false
// while the zone has no key.
func (s *State) DNSKEYs() (signer ZoneKey, others []ZoneKey, ok bool) {
	if s.zoneKey == nil {
		return ZoneKey{}, nil, false
	}
	if r := s.roll; r != nil {
		switch r.Phase {
		case RollPublish:
			others = []ZoneKey{*r.New}
		case RollRetire:
			others = []ZoneKey{r.Old}
		}
	}
	return *s.zoneKey, others, true
}

// KeyInUse reports whether the key made by ceremony is the zone key or
// part of a rollover under way: a node keeps its share of such a key and
// may destroy any other.
func (s *State) KeyInUse(ceremony uint64) bool {
	if s.zoneKey != nil && s.zoneKey.Ceremony == ceremony {
		return true
	}
	r := s.roll
	return r != nil && (r.Ceremony == ceremony || r.Old.Ceremony == ceremony)
}

// checkRoll checks a key.roll proposal against the state.
func (s *State) checkRoll() error {
	if s.zoneKey == nil {
		return errors.New("the zone has no key to roll: make one with key.generate")
	}
	if r := s.roll; r != nil {
		return fmt.Errorf("the rollover to the key of ceremony %d is under way (phase %s)", r.Ceremony, r.Phase)
	}
	return nil
}

// startRoll begins the rollover of a passed key.roll proposal.
func (s *State) startRoll(p *Proposal, args *action.Propose, out *Output) {
	s.roll = &Rollover{Ceremony: p.ID, Phase: RollGenerate, Old: *s.zoneKey}
	s.touch(keyRollover)
	s.openCeremony(p, args, out)
}

// rollKeyMade moves the rollover on once its ceremony made zk: the next
// zone version publishes it.
func (s *State) rollKeyMade(zk *ZoneKey, out *Output) {
	r := s.roll
	r.Phase, r.New = RollPublish, zk
	s.touch(keyRollover)
	out.bump = true
}

// rollFailed ends the rollover whose ceremony failed.
func (s *State) rollFailed() {
	s.roll = nil
	s.touch(keyRollover)
}

// rollPublished notes, when v is published, the first signed version that
// carries the new key and the first the new key signed.
func (s *State) rollPublished(v *SignedVersion, out *Output) {
	r := s.roll
	if r == nil {
		return
	}
	pol := s.c.SigningPolicy()
	switch {
	case r.Phase == RollPublish && r.Published.IsZero() && slices.Contains(v.Others, r.New.GroupKey):
		r.Published = s.meta.Time
		next := r.Next(time.Duration(pol.RolloverPublish), time.Duration(pol.RolloverRetire))
		s.emit(out, Event{Event: "key.published", Ceremony: r.Ceremony, Serial: v.Serial, GroupKey: r.New.GroupKey, Next: &next})
	case r.Phase == RollRetire && r.Active.IsZero() && v.Ceremony == r.Ceremony:
		r.Active = s.meta.Time
		next := r.Next(time.Duration(pol.RolloverPublish), time.Duration(pol.RolloverRetire))
		s.emit(out, Event{Event: "key.active", Ceremony: r.Ceremony, Serial: v.Serial, GroupKey: r.New.GroupKey, KeyTag: v.KeyTag, Next: &next})
	default:
		return
	}
	s.touch(keyRollover)
}

// rollDeadlines, run after a block's actions, takes the rollover's timed
// steps: the switch Ipub after the new key was published, the retirement
// Iret after the new key's first signed version. Neither happens while a
// signing request is open: a request signs with the DNSKEY RRset of its
// opening.
func (s *State) rollDeadlines(out *Output) {
	r := s.roll
	if r == nil || s.signing != nil {
		return
	}
	pol := s.c.SigningPolicy()
	next := r.Next(time.Duration(pol.RolloverPublish), time.Duration(pol.RolloverRetire))
	if next.IsZero() || s.meta.Time.Before(next) {
		return
	}
	switch r.Phase {
	case RollPublish:
		s.zoneKey = r.New
		r.Phase, r.Switched = RollRetire, s.meta.Time
		s.touch(keyZoneKey)
		s.touch(keyRollover)
		s.emit(out, Event{Event: "key.switched", Ceremony: r.Ceremony, GroupKey: r.New.GroupKey,
			Reason: fmt.Sprintf("the key of ceremony %d signs from the next zone version; the key of ceremony %d stays published", r.Ceremony, r.Old.Ceremony)})
	case RollRetire:
		s.emit(out, Event{Event: "key.retired", Ceremony: r.Old.Ceremony, GroupKey: r.Old.GroupKey,
			Reason: fmt.Sprintf("replaced by the key of ceremony %d", r.Ceremony)})
		s.roll = nil
		s.touch(keyRollover)
	}
	out.bump = true
}
