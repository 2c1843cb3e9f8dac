package portal

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/threshold"
)

// fact is one labelled line of a readable summary (a <dl> row): Value,
// linked to Href when set, in a <code> when Code.
type fact struct {
	Label string
	Value string
	Href  string
	Code  bool
}

// dkgSteps describe the steps of a key ceremony for a reader.
var dkgSteps = map[string]string{
	action.RoundCommit:    "commit: publishes a commitment to its secret polynomial, a proof of knowledge and an encryption key",
	action.RoundShares:    "shares: sends every other participant its share, sealed to that participant's encryption key",
	action.RoundConfirm:   "confirm: has checked its shares, stored its key share, and confirms the transcript hash",
	action.RoundComplaint: "complaint: accuses a participant of a bad share, with the evidence to judge it",
}

func isKeyProposal(kind string) bool {
	return kind == constitution.KeyGenerate || kind == constitution.KeyRoll
}

// attemptParticipants returns the participants of attempt k of c, sorted
// by name (participant i has FROST identifier i+1): the current ones and
// those excluded during attempt k or later.
func attemptParticipants(c registry.Ceremony, k int) []string {
	ps := slices.Clone(c.Participants)
	for _, e := range c.Excluded {
		if e.Attempt >= k && !slices.Contains(ps, e.Member) {
			ps = append(ps, e.Member)
		}
	}
	slices.Sort(ps)
	return ps
}

// participant names FROST identifier id among ps ("participant 2 (bravo)").
func participant(ps []string, id uint16) string {
	if id >= 1 && int(id) <= len(ps) {
		return fmt.Sprintf("participant %d (%s)", id, ps[id-1])
	}
	return fmt.Sprintf("participant %d", id)
}

// dkgFacts describes a dkg action of signer for a reader, with what its
// public data says (decoded with package threshold; an undecodable
// payload is said to be so: the registry refused it).
func dkgFacts(st *registry.State, signer string, d *action.DKG) []fact {
	c, known := st.Ceremony(d.Ceremony)
	var ps []string
	if known {
		ps = attemptParticipants(c, d.Attempt)
	}
	who := signer
	if i, ok := slices.BinarySearch(ps, signer); ok {
		who = fmt.Sprintf("%s, participant %d", signer, i+1)
	}
	step := dkgSteps[d.Round]
	if step == "" {
		step = d.Round
	}
	fs := []fact{
		{Label: "Ceremony", Value: fmt.Sprintf("key ceremony %d (made by proposal %d)", d.Ceremony, d.Ceremony), Href: fmt.Sprintf("%sproposals/%d", Prefix, d.Ceremony)},
		{Label: "Attempt", Value: fmt.Sprint(d.Attempt)},
		{Label: "Step", Value: step},
		{Label: "Participant", Value: who, Href: Prefix + "members/" + signer},
	}
	data := d.Bytes()
	switch d.Round {
	case action.RoundCommit:
		if p, err := threshold.DecodeRound1Package(data); err == nil {
			fs = append(fs, fact{Label: "Package", Value: fmt.Sprintf("round-one package of %s: %d coefficient commitments (threshold %d)", participant(ps, p.ID), len(p.Commitment), len(p.Commitment))},
				fact{Label: "Encryption key", Value: hex.EncodeToString(p.EncryptionKey[:]), Code: true})
		} else {
			fs = append(fs, fact{Label: "Package", Value: "does not decode: " + err.Error()})
		}
	case action.RoundShares:
		var to []string
		for off := 0; off+threshold.SealedShareSize <= len(data); off += threshold.SealedShareSize {
			if sh, err := threshold.DecodeSealedShare(data[off : off+threshold.SealedShareSize]); err == nil {
				to = append(to, participant(ps, sh.To))
			}
		}
		fs = append(fs, fact{Label: "Sealed shares", Value: fmt.Sprintf("%d, to %s", len(to), strings.Join(to, ", "))})
	case action.RoundComplaint:
		if cp, err := threshold.DecodeComplaint(data); err == nil {
			fs = append(fs, fact{Label: "Accuses", Value: fmt.Sprintf("%s of a bad share sent to %s (the accuser reveals this attempt's encryption key so that everyone can judge)", participant(ps, cp.Sealed.From), participant(ps, cp.Accuser))})
		} else {
			fs = append(fs, fact{Label: "Complaint", Value: "does not decode: " + err.Error()})
		}
	case action.RoundConfirm:
		fs = append(fs, fact{Label: "Transcript hash", Value: hex.EncodeToString(data), Code: true})
	}
	return fs
}

// ceremonyFacts describes the ceremony a key.generate or key.roll
// proposal id opened, if any, and the zone key it made.
func ceremonyFacts(st *registry.State, id uint64) []fact {
	c, ok := st.Ceremony(id)
	if !ok {
		return nil
	}
	fs := []fact{{Label: "Ceremony", Value: fmt.Sprintf("%s, attempt %d", c.Status, c.Attempt)}}
	if c.Status == registry.CeremonyOpen {
		var waiting []string
		for _, m := range c.Participants {
			if c.Owes(m) {
				waiting = append(waiting, m)
			}
		}
		fs = append(fs, fact{Label: "Current step", Value: fmt.Sprintf("%s, until %s; waiting for %s", c.Round, fmtTime(c.Deadline), orNone(waiting))})
	}
	fs = append(fs, fact{Label: "Participants", Value: strings.Join(c.Participants, ", ")})
	for _, e := range c.Excluded {
		v := fmt.Sprintf("%s in attempt %d, %s step: %s", e.Member, e.Attempt, e.Round, e.Reason)
		href := ""
		if e.Action >= 0 {
			href = fmt.Sprintf("%slog/%d", Prefix, e.Action)
		}
		fs = append(fs, fact{Label: "Excluded", Value: v, Href: href})
	}
	if c.Reason != "" {
		fs = append(fs, fact{Label: "Failed", Value: c.Reason})
	}
	if c.GroupKey != "" {
		fs = append(fs, fact{Label: "Group key", Value: c.GroupKey, Code: true})
	}
	return fs
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nobody"
	}
	return strings.Join(s, ", ")
}

// keyProposalFacts describes a key.generate or key.roll proposal: the
// threshold of the key it asks for, the members who would hold it, and
// the ceremony it opened.
func keyProposalFacts(st *registry.State, pr registry.Proposal, args action.Propose) []fact {
	var members []string
	for _, m := range st.Members() {
		members = append(members, m.Name)
	}
	label := "Members (would hold shares)"
	if _, ok := st.Ceremony(pr.ID); ok {
		label = "Members now"
	}
	fs := []fact{
		{Label: "Threshold", Value: fmt.Sprintf("%d of the participants must cooperate to sign", args.Threshold)},
		{Label: label, Value: fmt.Sprintf("%d: %s", len(members), strings.Join(members, ", "))},
	}
	return append(fs, ceremonyFacts(st, pr.ID)...)
}

// zoneKeyData is the overview's zone key section.
type zoneKeyData struct {
	Key        *api.ZoneKeyInfo
	Rollover   *api.RolloverInfo
	Ceremonies []api.CeremonyInfo // open ones
}

func zoneKeyOf(st *registry.State) (*zoneKeyData, error) {
	a, err := api.Keys(st)
	if err != nil {
		return nil, err
	}
	d := &zoneKeyData{Key: a.ZoneKey, Rollover: a.Rollover}
	for _, c := range a.Ceremonies {
		if c.Status == registry.CeremonyOpen {
			d.Ceremonies = append(d.Ceremonies, c)
		}
	}
	return d, nil
}
