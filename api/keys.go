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
	ZoneKey    *ZoneKeyInfo   `json:"zone_key"`
	Ceremonies []CeremonyInfo `json:"ceremonies"`
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

// Keys returns what GET /v1/keys answers about st: the zone key (nil if no
// ceremony has made one) and every ceremony, by id. The portal shows the
// same.
func Keys(st *registry.State) (*ZoneKeyInfo, []CeremonyInfo, error) {
	var info *ZoneKeyInfo
	if zk, ok := st.ZoneKey(); ok {
		var err error
		if info, err = zoneKeyInfo(zk, st.Constitution().Apex); err != nil {
			return nil, nil, err
		}
	}
	cs := []CeremonyInfo{}
	for _, c := range st.Ceremonies() {
		cs = append(cs, ceremonyInfo(c))
	}
	return info, cs, nil
}

func (s *server) keys(w http.ResponseWriter, r *http.Request, _ []string) {
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		info, cs, err := Keys(st)
		if err != nil {
			return nil, err
		}
		return KeysAnswer{Stamp: stamp, ZoneKey: info, Ceremonies: cs}, nil
	})
}
