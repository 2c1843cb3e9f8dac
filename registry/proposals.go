package registry

import (
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/dnsname"
)

// Proposal statuses.
const (
	StatusOpen     = "open"
	StatusPassed   = "passed"
	StatusRejected = "rejected"
	StatusFailed   = "failed"
)

func (s *State) propose(a *action.Signed, p *action.Propose, index int64) (func(), error) {
	if _, ok := s.members[a.Signer]; !ok {
		return nil, reject(CodeForbidden, "only members may propose; %q is not a member", a.Signer)
	}
	if err := s.checkProposal(p); err != nil {
		return nil, reject(CodeInvalid, "%s proposal: %v", p.Proposal, err)
	}
	args, err := json.Marshal(p)
	if err != nil {
		return nil, reject(CodeInvalid, "%s proposal: %v", p.Proposal, err)
	}
	rule := s.c.Rules[p.Proposal]
	return func() {
		s.meta.NextProposal++
		id := s.meta.NextProposal
		s.proposals[id] = &Proposal{
			ID: id, Kind: p.Proposal, Proposer: a.Signer, Created: s.meta.Time,
			Deadline: s.meta.Time.Add(time.Duration(rule.VotingPeriod)),
			Action:   index, Args: args, Votes: []Vote{}, Status: StatusOpen,
		}
		s.touch(idKey(prefixProposal, id))
	}, nil
}

// checkProposal checks that p could be carried out in the current state.
// It runs when the proposal is made and again when it passes.
func (s *State) checkProposal(p *action.Propose) error {
	c := s.c
	switch p.Proposal {
	case constitution.TLDCreate:
		if err := s.checkNewTLD(p.TLD); err != nil {
			return err
		}
		if _, ok := s.tlds[p.TLD]; ok {
			return fmt.Errorf("%q already exists", p.TLD)
		}
		if err := s.checkOperator(p.Operator); err != nil {
			return err
		}
		if p.Delegation != nil {
			if _, err := s.planDelegation(p.TLD, p.Delegation); err != nil {
				return fmt.Errorf("initial delegation: %v", err)
			}
		}
	case constitution.TLDDelete:
		if _, ok := s.tlds[p.TLD]; !ok {
			return fmt.Errorf("no TLD %q", trim(p.TLD))
		}
		for _, h := range s.HostNames() {
			if dnsname.ChildOf(h, c.Apex) != p.TLD {
				continue
			}
			if users := s.otherUsers(h, p.TLD); len(users) > 0 {
				return fmt.Errorf("host %q under %q is a name server of %v: they must move first", h, p.TLD, users)
			}
		}
	case constitution.TLDTransfer:
		t, ok := s.tlds[p.TLD]
		if !ok {
			return fmt.Errorf("no TLD %q", trim(p.TLD))
		}
		if t.Operator == p.Operator {
			return fmt.Errorf("%q already has that operator", p.TLD)
		}
		if err := s.checkOperator(p.Operator); err != nil {
			return err
		}
	case constitution.MemberAdmit:
		m := p.Member
		if err := constitution.CheckSignerName(m.Name); err != nil {
			return err
		}
		if _, ok := s.members[m.Name]; ok {
			return fmt.Errorf("%q is already a member", m.Name)
		}
		if _, ok := s.signers[m.Name]; ok {
			return fmt.Errorf("%q is an operator key's name", m.Name)
		}
		v, err := note.NewVerifier(m.Key)
		if err != nil || v.Name() != m.Name {
			return fmt.Errorf("member key %q is not a verifier key named %q", trim(m.Key), m.Name)
		}
		if k := validatorKey(m.Validator); len(k) != 32 {
			return fmt.Errorf("validator %q is not a base64 Ed25519 public key", trim(m.Validator))
		}
		for _, o := range s.members {
			if o.Key == m.Key || o.Validator == m.Validator {
				return fmt.Errorf("member %q already has that key", o.Name)
			}
		}
	case constitution.MemberRemove:
		if _, ok := s.members[p.Member.Name]; !ok {
			return fmt.Errorf("%q is not a member", trim(p.Member.Name))
		}
		if len(s.members) == 1 {
			return fmt.Errorf("%q is the last member", p.Member.Name)
		}
	case constitution.RestrictionImpose:
		if _, ok := s.tlds[p.TLD]; !ok {
			return fmt.Errorf("no TLD %q", trim(p.TLD))
		}
		if s.Restricted(p.TLD) {
			return fmt.Errorf("%q is already restricted", p.TLD)
		}
		if p.LegalBasis == "" {
			return fmt.Errorf("a restriction needs a legal basis")
		}
		max := time.Duration(c.Rules[constitution.RestrictionImpose].MaxDuration)
		if d := p.DurationValue(); d <= 0 || d > max {
			return fmt.Errorf("duration %s is outside (0, %s], the constitution's maximum", p.Duration, max)
		}
	case constitution.RestrictionLift:
		r, ok := s.restrictions[p.Restriction]
		if !ok {
			return fmt.Errorf("no restriction %d", p.Restriction)
		}
		if r.Status != "active" {
			return fmt.Errorf("restriction %d is %s", r.ID, r.Status)
		}
	case constitution.ConstitutionAmend:
		n, err := constitution.Parse(p.Constitution)
		if err != nil {
			return err
		}
		if n.Apex != c.Apex || n.Origin != c.Origin {
			return fmt.Errorf("an amendment may not change the apex or the origin")
		}
		if len(n.Members) != len(s.members) {
			return fmt.Errorf("an amendment lists %d members, there are %d: membership changes by member.admit and member.remove", len(n.Members), len(s.members))
		}
		for _, m := range n.Members {
			if o, ok := s.members[m.Name]; !ok || o.Key != m.Key || o.Validator != m.Validator {
				return fmt.Errorf("an amendment may not change member %q", m.Name)
			}
		}
	case constitution.KeyGenerate, constitution.KeyRoll:
		return s.checkKeyProposal(p)
	default:
		return fmt.Errorf("unknown proposal kind %q", trim(p.Proposal))
	}
	return nil
}

func (s *State) checkNewTLD(name string) error {
	if !dnsname.IsChild(name, s.c.Apex) {
		return fmt.Errorf("%q is not a child of the apex %q", trim(name), s.c.Apex)
	}
	if s.c.Apex == "." {
		return dnsname.CheckTLD(name)
	}
	return dnsname.Check(name)
}

func (s *State) checkOperator(vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("operator key %q: %v", trim(vkey), err)
	}
	if _, ok := s.members[v.Name()]; ok {
		return fmt.Errorf("operator key name %q is a member's name", v.Name())
	}
	if old, ok := s.signers[v.Name()]; ok && old != vkey {
		return fmt.Errorf("operator key name %q already stands for another key", v.Name())
	}
	return nil
}

func (s *State) vote(a *action.Signed, v *action.Vote, index int64) (func(), error) {
	if _, ok := s.members[a.Signer]; !ok {
		return nil, reject(CodeForbidden, "only members vote; %q is not a member", a.Signer)
	}
	p, ok := s.proposals[v.Proposal]
	if !ok {
		return nil, reject(CodeInvalid, "no proposal %d", v.Proposal)
	}
	if p.Status != StatusOpen {
		return nil, reject(CodeInvalid, "proposal %d is closed (%s)", p.ID, p.Status)
	}
	if !s.meta.Time.Before(p.Deadline) {
		return nil, reject(CodeInvalid, "voting on proposal %d closed at %s", p.ID, p.Deadline.Format(time.RFC3339))
	}
	for _, old := range p.Votes {
		if old.Member == a.Signer {
			return nil, reject(CodeInvalid, "%q already voted %s on proposal %d (votes are final)", a.Signer, old.Vote, p.ID)
		}
	}
	return func() {
		p.Votes = append(p.Votes, Vote{Member: a.Signer, Vote: v.Vote, Rationale: v.Rationale, Time: s.meta.Time, Action: index})
		s.touch(idKey(prefixProposal, p.ID))
	}, nil
}

// consentOf returns the member whose yes the proposal needs because it
// touches a TLD that member owns, or "".
func (s *State) consentOf(p *action.Propose) string {
	switch p.Proposal {
	case constitution.TLDDelete, constitution.TLDTransfer, constitution.RestrictionImpose:
		if t, ok := s.tlds[p.TLD]; ok {
			return t.Owner
		}
	}
	return ""
}

// decide returns the outcome of an open proposal at the current time: done
// is false while it must stay open.
func (s *State) decide(p *Proposal, args *action.Propose) (done, passed bool, reason string, tally Tally) {
	rule := s.c.Rules[p.Kind]
	tally.Members = len(s.members)
	votes := map[string]string{}
	for _, v := range p.Votes {
		if _, ok := s.members[v.Member]; !ok {
			continue // removed since
		}
		votes[v.Member] = v.Vote
		switch v.Vote {
		case action.Yes:
			tally.Yes++
		case action.No:
			tally.No++
		default:
			tally.Abstain++
		}
	}
	// outcome judges a tally in which the members who have not voted
	// vote missing.
	outcome := func(yes, no, abstain int, missing string) (bool, string) {
		for _, v := range rule.Veto {
			if votes[v] == action.No || (votes[v] == "" && missing == action.No) {
				return false, fmt.Sprintf("vetoed by %q", v)
			}
		}
		if owner := s.consentOf(args); owner != "" && votes[owner] != action.Yes && !(votes[owner] == "" && missing == action.Yes) {
			return false, fmt.Sprintf("it touches %q, owned by %q, who did not vote yes", args.TLD, owner)
		}
		if !rule.Quorum.AtLeast(yes+no+abstain, tally.Members) {
			return false, fmt.Sprintf("no quorum: %d of %d members voted", yes+no+abstain, tally.Members)
		}
		if !rule.Threshold.AtLeast(yes, yes+no) {
			return false, fmt.Sprintf("%d yes of %d yes and no votes is below the threshold", yes, yes+no)
		}
		return true, fmt.Sprintf("%d yes, %d no, %d abstain of %d members", yes, no, abstain, tally.Members)
	}
	if !s.meta.Time.Before(p.Deadline) {
		passed, reason = outcome(tally.Yes, tally.No, tally.Abstain, "")
		return true, passed, reason, tally
	}
	if !rule.DecideEarly {
		return false, false, "", tally
	}
	rest := tally.Members - tally.Yes - tally.No - tally.Abstain
	early := fmt.Sprintf("%d yes, %d no, %d abstain of %d members, %d not voted: decided early, no remaining vote could change it",
		tally.Yes, tally.No, tally.Abstain, tally.Members, rest)
	if ok, _ := outcome(tally.Yes, tally.No+rest, tally.Abstain, action.No); ok {
		return true, true, early, tally
	}
	if ok, why := outcome(tally.Yes+rest, tally.No, tally.Abstain, action.Yes); !ok {
		return true, false, fmt.Sprintf("%s (%s)", why, early), tally
	}
	return false, false, "", tally
}

// closeProposals tallies every open proposal whose vote has closed, by id,
// and carries out those that passed.
func (s *State) closeProposals(out *Output) {
	for _, id := range sortedIDs(s.proposals) {
		p := s.proposals[id]
		if p.Status != StatusOpen {
			continue
		}
		args := new(action.Propose)
		if err := json.Unmarshal(p.Args, args); err != nil {
			panic(fmt.Sprintf("registry: stored proposal %d: %v", id, err))
		}
		done, passed, reason, tally := s.decide(p, args)
		if !done {
			continue
		}
		p.Status, p.Reason, p.Closed = StatusRejected, reason, s.meta.Time
		if passed {
			if err := s.checkProposal(args); err != nil {
				p.Status, p.Reason = StatusFailed, fmt.Sprintf("passed (%s) but cannot be carried out: %v", reason, err)
			} else {
				p.Status = StatusPassed
			}
		}
		s.touch(idKey(prefixProposal, id))
		s.emit(out, Event{Event: "proposal.outcome", Proposal: id, Kind: p.Kind, Outcome: p.Status, Reason: p.Reason, Tally: &tally})
		if p.Status == StatusPassed {
			s.execute(p, args, out)
		}
	}
}

// execute carries out a passed proposal whose checks just passed.
func (s *State) execute(p *Proposal, args *action.Propose, out *Output) {
	now := s.meta.Time
	switch p.Kind {
	case constitution.TLDCreate:
		s.tlds[args.TLD] = &TLD{Name: args.TLD, Operator: args.Operator, NS: []string{}, Created: now, Changed: now}
		s.addSigner(args.Operator)
		s.touch(prefixTLD + args.TLD)
		if args.Delegation != nil {
			plan, _ := s.planDelegation(args.TLD, args.Delegation)
			s.applyPlan(plan, out)
		}
	case constitution.TLDDelete:
		t := s.tlds[args.TLD]
		s.setUsers(t.Name, t.NS, nil, out)
		delete(s.tlds, args.TLD)
		s.rebuildSigners()
		s.touch(prefixTLD + args.TLD)
		out.changedTLD(args.TLD)
	case constitution.TLDTransfer:
		t := s.tlds[args.TLD]
		t.Operator, t.Changed = args.Operator, now
		s.rebuildSigners()
		s.touch(prefixTLD + args.TLD)
	case constitution.MemberAdmit:
		m := args.Member
		s.members[m.Name] = &Member{Name: m.Name, Key: m.Key, Validator: m.Validator, Since: now}
		s.touch(prefixMember + m.Name)
		out.ValidatorUpdates = append(out.ValidatorUpdates, ValidatorUpdate{PubKey: validatorKey(m.Validator), Power: Power})
	case constitution.MemberRemove:
		m := s.members[args.Member.Name]
		delete(s.members, m.Name)
		s.touch(prefixMember + m.Name)
		out.ValidatorUpdates = append(out.ValidatorUpdates, ValidatorUpdate{PubKey: validatorKey(m.Validator), Power: 0})
		if s.c.RemovedMemberTLDs == "shared" {
			for _, name := range s.TLDNames() {
				t := s.tlds[name]
				if t.Owner != m.Name {
					continue
				}
				t.Owner = ""
				if t.Operator == "" {
					// The former owner keeps managing it as its operator,
					// under the federation's votes from now on.
					t.Operator = m.Key
				}
				s.touch(prefixTLD + name)
			}
			s.rebuildSigners()
		}
	case constitution.RestrictionImpose:
		d := args.DurationValue()
		s.restrictions[p.ID] = &Restriction{ID: p.ID, TLD: args.TLD, LegalBasis: args.LegalBasis, Evidence: args.Evidence,
			Start: now, Expiry: now.Add(d), Status: "active"}
		s.touch(idKey(prefixRestriction, p.ID))
		s.restrictionChanged(args.TLD, out)
	case constitution.RestrictionLift:
		r := s.restrictions[args.Restriction]
		r.Status, r.Ended = "lifted", now
		s.touch(idKey(prefixRestriction, r.ID))
		s.restrictionChanged(r.TLD, out)
	case constitution.ConstitutionAmend:
		n, _ := constitution.Parse(args.Constitution)
		s.c = n
		s.touch(keyConstitution)
		// Name servers, SOA and TTLs may have changed: rebuild the apex.
		for _, h := range n.NameServers {
			out.changedHost(h.Name)
		}
		out.changedTLD(n.Apex)
	case constitution.KeyGenerate:
		s.openCeremony(p, args, out)
	case constitution.KeyRoll:
		s.startRoll(p, args, out)
	}
}

// restrictionChanged marks a TLD whose presence in the zone changed.
func (s *State) restrictionChanged(tld string, out *Output) {
	out.changedTLD(tld)
	if t, ok := s.tlds[tld]; ok {
		for _, h := range t.NS {
			out.changedHost(h)
		}
	}
}

// lapseRestrictions ends every active restriction whose expiry has come.
func (s *State) lapseRestrictions(out *Output) {
	for _, id := range sortedIDs(s.restrictions) {
		r := s.restrictions[id]
		if r.Status != "active" || s.meta.Time.Before(r.Expiry) {
			continue
		}
		r.Status, r.Ended = "lapsed", s.meta.Time
		s.touch(idKey(prefixRestriction, id))
		s.emit(out, Event{Event: "restriction.lapsed", Restriction: id, TLD: r.TLD})
		s.restrictionChanged(r.TLD, out)
	}
}
