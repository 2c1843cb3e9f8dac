package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/registry"
)

// KeysAnswer is the answer to GET /v1/keys: the zone's key, if a ceremony
// has made one, and every key-generation ceremony. It holds public data
// only: no member's key share is ever in the state.
type KeysAnswer struct {
	Stamp
	ZoneKey *ZoneKeyInfo `json:"zone_key"`
	// Rollover is the key rollover under way, if any: resolvers that pin
	// the trust anchor take the new key's DS or trust-anchor line from it
	// while the new key is published and before it signs.
	Rollover   *RolloverInfo  `json:"rollover"`
	Ceremonies []CeremonyInfo `json:"ceremonies"`
}

// RolloverInfo is a key rollover under way (RFC 7583 §3.3): its phase
// (generate, publish, retire), the key replaced and the new key, when each
// step happened and when the next one is due (absent while it waits for a
// ceremony or a signed version rather than for time).
type RolloverInfo struct {
	Ceremony  uint64       `json:"ceremony"`
	Phase     string       `json:"phase"`
	Old       *ZoneKeyInfo `json:"old"`
	New       *ZoneKeyInfo `json:"new"`
	Published *time.Time   `json:"published,omitempty"`
	Switched  *time.Time   `json:"switched,omitempty"`
	Active    *time.Time   `json:"active,omitempty"`
	Next      *time.Time   `json:"next,omitempty"`
}

// ZoneKeyInfo is the zone's signing key: the group key (a plain Ed25519
// public key, a DNSSEC algorithm 15 CSK), its DNSKEY, DS and unbound
// trust-anchor lines, and every participant's verification share.
type ZoneKeyInfo struct {
	Ceremony     uint64           `json:"ceremony"`
	Threshold    int              `json:"threshold"`
	GroupKey     string           `json:"group_key"`
	KeyTag       uint16           `json:"key_tag"`
	DNSKEY       string           `json:"dnskey"`
	DS           string           `json:"ds"`
	TrustAnchor  string           `json:"trust_anchor"`
	Since        time.Time        `json:"since"`
	Participants []KeyParticipant `json:"participants"`
}

// KeyParticipant is a key holder: its FROST identifier and verification
// share (base64).
type KeyParticipant struct {
	Member            string `json:"member"`
	ID                int    `json:"id"`
	VerificationShare string `json:"verification_share"`
}

// CeremonyInfo is a key-generation ceremony as the state holds it, with
// who it waits for in the current round.
type CeremonyInfo struct {
	ID           uint64               `json:"id"`
	Kind         string               `json:"kind"`
	Status       string               `json:"status"`
	Round        string               `json:"round,omitempty"`
	Attempt      int                  `json:"attempt"`
	Threshold    int                  `json:"threshold"`
	Participants []string             `json:"participants"`
	Waiting      []string             `json:"waiting"`
	Excluded     []registry.Exclusion `json:"excluded"`
	Started      time.Time            `json:"started"`
	Deadline     *time.Time           `json:"deadline,omitempty"`
	Closed       *time.Time           `json:"closed,omitempty"`
	GroupKey     string               `json:"group_key,omitempty"`
	Reason       string               `json:"reason,omitempty"`
}

func ceremonyInfo(c registry.Ceremony) CeremonyInfo {
	ci := CeremonyInfo{ID: c.ID, Kind: c.Kind, Status: c.Status, Round: c.Round, Attempt: c.Attempt, Threshold: c.Threshold,
		Participants: c.Participants, Waiting: []string{}, Excluded: c.Excluded, Started: c.Started, GroupKey: c.GroupKey, Reason: c.Reason}
	if ci.Participants == nil {
		ci.Participants = []string{}
	}
	if ci.Excluded == nil {
		ci.Excluded = []registry.Exclusion{}
	}
	if c.Status == registry.CeremonyOpen {
		d := c.Deadline
		ci.Deadline = &d
		for _, m := range c.Participants {
			if c.Owes(m) {
				ci.Waiting = append(ci.Waiting, m)
			}
		}
	} else {
		closed := c.Closed
		ci.Closed = &closed
	}
	return ci
}

func zoneKeyInfo(zk registry.ZoneKey, apex string) (*ZoneKeyInfo, error) {
	k := dnssec.Key{Public: zk.PublicKey()}
	ds, ta, err := dnssec.DSLines(k, apex)
	if err != nil {
		return nil, fmt.Errorf("the zone key of ceremony %d: %v", zk.Ceremony, err)
	}
	info := &ZoneKeyInfo{Ceremony: zk.Ceremony, Threshold: zk.Threshold, GroupKey: zk.GroupKey, KeyTag: k.KeyTag(),
		DNSKEY: k.DNSKEY(apex).String(), DS: ds, TrustAnchor: ta, Since: zk.Since, Participants: []KeyParticipant{}}
	for i, m := range zk.Participants {
		p := KeyParticipant{Member: m, ID: i + 1}
		if i < len(zk.VerificationShares) {
			p.VerificationShare = zk.VerificationShares[i]
		}
		info.Participants = append(info.Participants, p)
	}
	return info, nil
}

func rolloverInfo(r registry.Rollover, st *registry.State) (*RolloverInfo, error) {
	apex := st.Constitution().Apex
	old, err := zoneKeyInfo(r.Old, apex)
	if err != nil {
		return nil, err
	}
	info := &RolloverInfo{Ceremony: r.Ceremony, Phase: r.Phase, Old: old}
	if r.New != nil {
		if info.New, err = zoneKeyInfo(*r.New, apex); err != nil {
			return nil, err
		}
	}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	pol := st.Constitution().SigningPolicy()
	info.Published, info.Switched, info.Active = at(r.Published), at(r.Switched), at(r.Active)
	info.Next = at(r.Next(time.Duration(pol.RolloverPublish), time.Duration(pol.RolloverRetire)))
	return info, nil
}

// Keys returns what GET /v1/keys answers about st: the zone key (nil if no
// ceremony has made one), the rollover under way (nil if none) and every
// ceremony, by id. The portal shows the same.
func Keys(st *registry.State) (KeysAnswer, error) {
	var a KeysAnswer
	if zk, ok := st.ZoneKey(); ok {
		var err error
		if a.ZoneKey, err = zoneKeyInfo(zk, st.Constitution().Apex); err != nil {
			return a, err
		}
	}
	if r, ok := st.Rollover(); ok {
		var err error
		if a.Rollover, err = rolloverInfo(r, st); err != nil {
			return a, err
		}
	}
	a.Ceremonies = []CeremonyInfo{}
	for _, c := range st.Ceremonies() {
		a.Ceremonies = append(a.Ceremonies, ceremonyInfo(c))
	}
	return a, nil
}

func (s *server) keys(w http.ResponseWriter, r *http.Request, _ []string) {
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		a, err := Keys(st)
		a.Stamp = stamp
		return a, err
	})
}
