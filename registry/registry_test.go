package registry

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
)

func deleg(tld string, ns ...string) *action.Delegate {
	return &action.Delegate{TLD: tld, NS: ns}
}

func TestSovereignty(t *testing.T) {
	f := newFed(t)
	change := func() *action.Delegate {
		d := deleg("aa.", "ns1.aa.", "ns3.aa.")
		d.Glue = []action.Glue{{Host: "ns3.aa.", Addrs: []string{"192.0.2.3"}}}
		return d
	}
	// A member that does not own it, and another TLD's operator, fail.
	f.rejected(f.act("beta", action.KindDelegate, change()), `"beta" may not change "aa."`)
	f.rejected(f.act("op1", action.KindDelegate, change()), `"op1" may not change "aa."`)

	// A majority of members fails too: every kind of proposal that touches
	// an owned TLD is rejected without its owner's yes, whether the owner
	// votes no, abstains or stays silent until the deadline.
	for _, tt := range []struct {
		p     *action.Propose
		owner string
		vote  string // "" for silence
	}{
		{&action.Propose{Proposal: constitution.TLDTransfer, Rationale: "take it", TLD: "aa.", Operator: f.vkeys["op1"]}, "alpha", action.No},
		{&action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "silence it", TLD: "aa.", LegalBasis: "none", Evidence: strings.Repeat("ab", 32), Duration: "24h"}, "alpha", action.Abstain},
		{&action.Propose{Proposal: constitution.TLDDelete, Rationale: "remove it", TLD: "bb."}, "beta", ""},
	} {
		id := f.propose("gamma", tt.p)
		for _, m := range []string{"alpha", "beta", "gamma", "delta"} {
			if m != tt.owner {
				f.vote(m, id, action.Yes)
			}
		}
		if p, _ := f.s.Proposal(id); p.Status != StatusOpen {
			t.Fatalf("%s closed before its owner voted: %s", tt.p.Proposal, p.Reason)
		}
		var out *Output
		if tt.vote != "" {
			out = f.vote(tt.owner, id, tt.vote)
		} else {
			p, _ := f.s.Proposal(id)
			out = f.blockAt(p.Deadline)
		}
		got, _ := f.s.Proposal(id)
		want := fmt.Sprintf("owned by %q, who did not vote yes", tt.owner)
		if got.Status != StatusRejected || !strings.Contains(got.Reason, want) {
			t.Errorf("%s of %s: status %s (%s), want rejected: %s", tt.p.Proposal, tt.p.TLD, got.Status, got.Reason, want)
		}
		if out.ZoneChanged {
			t.Errorf("%s of %s changed the zone", tt.p.Proposal, tt.p.TLD)
		}
	}
	if _, ok := f.s.TLD("bb."); !ok {
		t.Fatal("bb. was deleted without its owner")
	}
	if tld, _ := f.s.TLD("aa."); tld.Operator != "" || strings.Join(tld.NS, " ") != "ns1.aa. ns2.aa." || f.s.Restricted("aa.") {
		t.Fatalf("aa. changed without its owner: %+v", tld)
	}
	// The owner succeeds.
	out, _ := f.accepted(f.act("alpha", action.KindDelegate, change()))
	if tld, _ := f.s.TLD("aa."); strings.Join(tld.NS, " ") != "ns1.aa. ns3.aa." {
		t.Errorf("aa. NS = %v after its owner's change", tld.NS)
	}
	// ns2.aa. is still bb.'s name server, so it stays; ns3.aa. is new.
	if _, ok := f.s.Host("ns2.aa."); !ok {
		t.Error("ns2.aa. was removed although bb. uses it")
	}
	if strings.Join(out.ChangedTLDs, " ") != "aa." {
		t.Errorf("changed TLDs = %v, want [aa.]", out.ChangedTLDs)
	}
}

func TestSharedHostNeedsAffects(t *testing.T) {
	f := newFed(t)
	d := deleg("shared.", "ns1.shared.", "ns2.shared.")
	d.Glue = []action.Glue{{Host: "ns1.shared.", Addrs: []string{"198.51.100.11"}}}
	f.rejected(f.act("op1", action.KindDelegate, d), `"uses." uses as a name server: name every such TLD in affects`)
	d.Affects = []string{"uses."}
	out, _ := f.accepted(f.act("op1", action.KindDelegate, d))
	if strings.Join(out.ChangedTLDs, " ") != "shared. uses." {
		t.Errorf("changed TLDs = %v, want shared. and uses.", out.ChangedTLDs)
	}
	if h, _ := f.s.Host("ns1.shared."); strings.Join(h.Addrs, " ") != "198.51.100.11" {
		t.Errorf("ns1.shared. = %v", h.Addrs)
	}
	// uses. may name shared.'s host but not set its addresses.
	d2 := deleg("uses.", "ns1.shared.", "ns2.shared.")
	d2.Glue = []action.Glue{{Host: "ns2.shared.", Addrs: []string{"198.51.100.99"}}}
	f.rejected(f.act("op2", action.KindDelegate, d2), `the host belongs to "shared."`)
}

func TestDelegationChecks(t *testing.T) {
	f := newFed(t)
	glue := func(d *action.Delegate, host string, addrs ...string) *action.Delegate {
		d.Glue = append(d.Glue, action.Glue{Host: host, Addrs: addrs})
		return d
	}
	withDS := func(d *action.Delegate, ds ...string) *action.Delegate { d.DS = ds; return d }
	long := strings.Repeat("x", 64)
	tests := []struct {
		name string
		d    *action.Delegate
		want string
	}{
		{"one NS", deleg("shared.", "ns1.shared."), "1 distinct NS hosts, the policy needs at least 2"},
		{"duplicate NS", deleg("shared.", "ns1.shared.", "ns1.shared."), `NS host "ns1.shared." is listed twice`},
		{"too many NS", deleg("shared.", "a.shared.", "b.shared.", "c.shared.", "d.shared.", "e.shared.", "f.shared.", "g.shared.", "h.shared.", "i.shared.", "j.shared.", "k.shared.", "l.shared.", "m.shared.", "n.shared."), "14 NS hosts, the policy allows at most 13"},
		{"bad name", deleg("shared.", "ns1.shared.", "bad_name.shared."), `"bad_name"`},
		{"64-octet label", deleg("shared.", "ns1.shared.", long+".shared."), "more than 63"},
		{"not qualified", deleg("shared.", "ns1.shared.", "ns2.shared"), "not fully qualified"},
		{"in-bailiwick without glue", deleg("shared.", "ns1.shared.", "ns9.shared."), `NS host "ns9.shared." lies under "shared." and needs glue`},
		{"sibling without addresses", deleg("shared.", "ns1.shared.", "ns9.aa."), `NS host "ns9.aa." has no addresses: they belong to "aa."`},
		{"host under no TLD", deleg("shared.", "ns1.shared.", "ns.nowhere."), `lies under "nowhere.", which is not a TLD here`},
		{"glue for another TLD's host", glue(deleg("shared.", "ns1.shared.", "ns1.aa."), "ns1.aa.", "192.0.2.9"), `the host belongs to "aa."`},
		{"glue for apex name server", glue(deleg("shared.", "ns1.shared.", "a.root.fed."), "a.root.fed.", "192.0.2.9"), "federation's name servers"},
		{"glue nobody uses", glue(deleg("shared.", "ns1.shared.", "ns2.shared."), "ns7.shared.", "192.0.2.9"), "no delegation names as a name server"},
		{"private glue", glue(deleg("shared.", "ns1.shared.", "ns3.shared."), "ns3.shared.", "10.0.0.1"), "not a public unicast address"},
		{"loopback glue", glue(deleg("shared.", "ns1.shared.", "ns3.shared."), "ns3.shared.", "127.0.0.1"), "not a public unicast address"},
		{"bad address", glue(deleg("shared.", "ns1.shared.", "ns3.shared."), "ns3.shared.", "192.0.2.300"), "not an IPv4 or IPv6 address"},
		{"no address", glue(deleg("shared.", "ns1.shared.", "ns3.shared."), "ns3.shared."), "has no addresses"},
		{"SHA-1 DS", withDS(deleg("shared.", "ns1.shared.", "ns2.shared."), "1 8 1 "+strings.Repeat("AB", 20)), "digest type 1 is not accepted by the policy"},
		{"short DS", withDS(deleg("shared.", "ns1.shared.", "ns2.shared."), "1 8 2 ABCD"), "needs 32 octets"},
		{"unknown TLD", deleg("zz.", "ns1.shared.", "ns2.shared."), `no TLD "zz."`},
		{"NS is apex", deleg("shared.", "ns1.shared.", "."), "the apex itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.rejected(f.act("op1", action.KindDelegate, tt.d), tt.want)
		})
	}
	// An out-of-zone host needs no glue when the apex is not the root; here
	// every name is below the root, so all of them do: checked above.
	ok := withDS(deleg("shared.", "ns1.shared.", "ns2.shared.", "a.root.fed."), "2371 13 2 C988EC423E3880EB8DD8A46FE06CA230EE23F35B578D64E2A5C8BB8FF9C2EB48")
	f.accepted(f.act("op1", action.KindDelegate, ok))
}

func TestReplayAndForgery(t *testing.T) {
	f := newFed(t)
	d := deleg("shared.", "ns1.shared.", "ns2.shared.")
	first := f.act("op1", action.KindDelegate, d)
	f.accepted(first)
	other := newFed(t) // another federation, another origin and keys
	other.c.Origin = "example.org/other"
	tests := []struct {
		name string
		tx   []byte
		want string
		code uint32
	}{
		{"replay", first, "was already used (next is 2): a replay", CodeSequence},
		{"skipped sequence", f.actSeq("op1", 5, action.KindDelegate, d), "sequence 5 of \"op1\" is out of order (next is 2)", CodeSequence},
		{"wrong origin", func() []byte {
			msg, _ := action.Sign(action.Action{Origin: "example.org/other", Signer: "op1", Seq: 2, Expires: f.now.Add(time.Hour).Format(time.RFC3339), Kind: action.KindDelegate, Body: d}, f.signers["op1"])
			return msg
		}(), `action is for the federation "example.org/other"`, CodeWrongOrigin},
		{"unknown signer", func() []byte {
			msg, _ := action.Sign(action.Action{Origin: f.c.Origin, Signer: "op1", Seq: 2, Expires: f.now.Add(time.Hour).Format(time.RFC3339), Kind: action.KindDelegate, Body: d}, other.signers["op1"])
			return msg
		}(), "not its registered key", CodeBadSignature},
		{"stranger", func() []byte {
			other.key("mallory")
			msg, _ := action.Sign(action.Action{Origin: f.c.Origin, Signer: "mallory", Seq: 1, Expires: f.now.Add(time.Hour).Format(time.RFC3339), Kind: action.KindDelegate, Body: d}, other.signers["mallory"])
			return msg
		}(), `unknown signer "mallory"`, CodeUnknownSigner},
		{"expired", func() []byte {
			msg, _ := action.Sign(action.Action{Origin: f.c.Origin, Signer: "op1", Seq: 2, Expires: f.now.Add(-time.Hour).Format(time.RFC3339), Kind: action.KindDelegate, Body: d}, f.signers["op1"])
			return msg
		}(), "action expired at", CodeExpired},
		{"far future", func() []byte {
			msg, _ := action.Sign(action.Action{Origin: f.c.Origin, Signer: "op1", Seq: 2, Expires: f.now.Add(30 * 24 * time.Hour).Format(time.RFC3339), Kind: action.KindDelegate, Body: d}, f.signers["op1"])
			return msg
		}(), "more than 168h0m0s after the block time", CodeExpired},
		{"bad signature", func() []byte {
			msg := f.actSeq("op1", 2, action.KindDelegate, d)
			return []byte(strings.Replace(string(msg), "ns2.shared.", "ns3.shared.", 1))
		}(), "bad signature", CodeBadSignature},
		{"malformed", []byte("garbage"), "malformed action", CodeMalformed},
		{"oversized", make([]byte, action.MaxSize+1), "more than the 65535 allowed", CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.rejected(tt.tx, tt.want)
			if _, err := f.s.Check(tt.tx); err == nil && tt.code != CodeSequence && tt.code != CodeExpired {
				t.Errorf("Check accepted it")
			}
		})
	}
	// Re-ordered: seq 3 before 2 in one block: 3 is refused, 2 goes in.
	two, three := f.actSeq("op1", 2, action.KindDelegate, d), f.actSeq("op1", 3, action.KindDelegate, d)
	out := f.block(three, two)
	if out.Results[0].Code != CodeSequence || out.Results[1].Code != OK {
		t.Errorf("re-ordered results = %+v", out.Results)
	}
}

func TestSharedTLDLifecycle(t *testing.T) {
	f := newFed(t)
	f.key("op3")
	d := deleg("", "ns1.new.", "ns1.shared.")
	d.Glue = []action.Glue{{Host: "ns1.new.", Addrs: []string{"203.0.113.1"}}}
	id := f.propose("gamma", &action.Propose{Proposal: constitution.TLDCreate, Rationale: "a new shared TLD", TLD: "new.", Operator: f.vkeys["op3"], Delegation: d})
	f.vote("alpha", id, action.Yes)
	f.vote("beta", id, action.No)
	if p, _ := f.s.Proposal(id); p.Status != StatusOpen {
		t.Fatalf("closed after 1 yes 1 no: %s %s", p.Status, p.Reason)
	}
	f.vote("gamma", id, action.Yes)
	out := f.vote("delta", id, action.Yes)
	p, _ := f.s.Proposal(id)
	if p.Status != StatusPassed {
		t.Fatalf("status %s (%s), want passed", p.Status, p.Reason)
	}
	if !out.ZoneChanged || !strings.Contains(strings.Join(out.ChangedTLDs, " "), "new.") {
		t.Errorf("zone change = %v %v", out.ZoneChanged, out.ChangedTLDs)
	}
	if ns, _, ok := f.s.ZoneDelegation("new."); !ok || strings.Join(ns, " ") != "ns1.new. ns1.shared." {
		t.Errorf("new. in zone = %v %v", ns, ok)
	}
	ev, err := DecodeEvent(out.Entries[len(out.Entries)-1])
	if err != nil || ev.Event != "proposal.outcome" || ev.Outcome != StatusPassed || ev.Tally.Yes != 3 || ev.Tally.No != 1 {
		t.Errorf("outcome entry = %+v, %v", ev, err)
	}
	// A vote after the close is refused; so is a second vote.
	f.rejected(f.act("beta", action.KindVote, &action.Vote{Proposal: id, Vote: action.Yes}), "is closed")
	// The new operator manages it alone.
	f.accepted(f.act("op3", action.KindDelegate, d2("new.", "ns1.new.", "ns2.shared.")))
}

func d2(tld string, ns ...string) *action.Delegate { return deleg(tld, ns...) }

func TestVotingPeriodAndQuorum(t *testing.T) {
	f := newFed(t)
	f.key("op3")
	id := f.propose("gamma", &action.Propose{Proposal: constitution.TLDCreate, Rationale: "r", TLD: "quiet.", Operator: f.vkeys["op3"]})
	f.vote("alpha", id, action.Yes)
	f.rejected(f.act("alpha", action.KindVote, &action.Vote{Proposal: id, Vote: action.No}), "already voted yes")
	// One vote of four is below the quorum of one half; at the deadline it fails.
	p, _ := f.s.Proposal(id)
	out := f.blockAt(p.Deadline)
	p, _ = f.s.Proposal(id)
	if p.Status != StatusRejected || !strings.Contains(p.Reason, "no quorum: 1 of 4") {
		t.Errorf("status %s (%s), want rejected for no quorum", p.Status, p.Reason)
	}
	if len(out.Entries) != 1 {
		t.Errorf("%d entries at the deadline, want the outcome", len(out.Entries))
	}
	if _, ok := f.s.TLD("quiet."); ok {
		t.Error("a rejected proposal created its TLD")
	}
}

func TestRestrictionLifecycle(t *testing.T) {
	f := newFed(t)
	evidence := strings.Repeat("0f", 32)
	impose := func(basis, ev, dur string) *action.Propose {
		return &action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "phishing", TLD: "shared.", LegalBasis: basis, Evidence: ev, Duration: dur}
	}
	// Refused without a legal basis, an evidence digest or a duration within the maximum.
	good := impose("court order 12", evidence, "24h")
	f.rejected(f.edited("beta", action.KindPropose, good, `"legal_basis":"court order 12",`, ``), "needs legal_basis")
	f.rejected(f.edited("beta", action.KindPropose, good, `"evidence":"`+evidence+`",`, ``), "needs evidence")
	f.rejected(f.edited("beta", action.KindPropose, good, `,"duration":"24h"`, ``), "needs duration")
	f.rejected(f.act("beta", action.KindPropose, impose("court order 12", evidence, "2000h")), "outside (0, 720h0m0s]")
	// Refused without quorum: nothing is applied.
	id := f.propose("beta", impose("court order 12", evidence, "48h"))
	f.vote("beta", id, action.Yes)
	p, _ := f.s.Proposal(id)
	f.blockAt(p.Deadline)
	if f.s.Restricted("shared.") {
		t.Fatal("restriction applied without a passed vote")
	}
	// Voted: applied, the TLD leaves the zone, its only-used hosts too.
	id = f.propose("beta", impose("court order 13", evidence, "48h"))
	f.vote("alpha", id, action.Yes)
	f.vote("beta", id, action.Yes)
	out := f.vote("gamma", id, action.Yes)
	if !f.s.Restricted("shared.") || !out.ZoneChanged {
		t.Fatalf("restriction not applied: %+v", out)
	}
	if _, _, ok := f.s.ZoneDelegation("shared."); ok {
		t.Error("a restricted TLD is still in the zone")
	}
	if _, ok := f.s.ZoneHost("ns1.shared."); !ok {
		t.Error("ns1.shared. glue left the zone although uses. still needs it")
	}
	r, _ := f.s.Restriction(id)
	if r.Expiry != r.Start.Add(48*time.Hour) || r.LegalBasis != "court order 13" || r.Evidence != evidence {
		t.Errorf("restriction = %+v", r)
	}
	// The operator responds in public; a stranger may not.
	f.rejected(f.act("op2", action.KindRespond, &action.Respond{Restriction: id, Text: "not ours"}), "only the owner or operator")
	f.accepted(f.act("op1", action.KindRespond, &action.Respond{Restriction: id, Text: "we dispute the order"}))
	// It lapses at expiry by block time, with nobody acting.
	f.blockAt(r.Expiry.Add(-time.Second))
	if !f.s.Restricted("shared.") {
		t.Fatal("lapsed early")
	}
	out = f.blockAt(r.Expiry)
	if f.s.Restricted("shared.") {
		t.Fatal("did not lapse at expiry")
	}
	ev, err := DecodeEvent(out.Entries[0])
	if err != nil || ev.Event != "restriction.lapsed" || ev.Restriction != id || ev.TLD != "shared." {
		t.Errorf("lapse entry = %+v %v", ev, err)
	}
	if _, _, ok := f.s.ZoneDelegation("shared."); !ok || !out.ZoneChanged {
		t.Error("shared. did not come back after the lapse")
	}
	r, _ = f.s.Restriction(id)
	if r.Status != "lapsed" || len(r.Responses) != 1 || r.Responses[0].Text != "we dispute the order" {
		t.Errorf("restriction after lapse = %+v", r)
	}
}

func TestMembership(t *testing.T) {
	f := newFed(t)
	f.key("epsilon")
	val := newValidator(t)
	id := f.propose("alpha", &action.Propose{Proposal: constitution.MemberAdmit, Rationale: "welcome", Member: &action.Member{Name: "epsilon", Key: f.vkeys["epsilon"], Validator: val}})
	f.vote("alpha", id, action.Yes)
	f.vote("beta", id, action.Yes)
	out := f.vote("gamma", id, action.Yes)
	if len(out.ValidatorUpdates) != 1 || out.ValidatorUpdates[0].Power != Power {
		t.Fatalf("validator updates = %+v", out.ValidatorUpdates)
	}
	if _, ok := f.s.Member("epsilon"); !ok {
		t.Fatal("epsilon not admitted")
	}
	id = f.propose("epsilon", &action.Propose{Proposal: constitution.MemberRemove, Rationale: "goodbye", Member: &action.Member{Name: "beta"}})
	for _, m := range []string{"alpha", "gamma", "delta", "epsilon"} {
		out = f.vote(m, id, action.Yes)
	}
	if len(out.ValidatorUpdates) != 1 || out.ValidatorUpdates[0].Power != 0 {
		t.Fatalf("validator updates = %+v", out.ValidatorUpdates)
	}
	// bb. becomes shared, managed by beta's key as its operator.
	if tld, _ := f.s.TLD("bb."); tld.Owner != "" || tld.Operator != f.vkeys["beta"] {
		t.Errorf("bb. after beta left = %+v", tld)
	}
	f.accepted(f.act("beta", action.KindDelegate, deleg("bb.", "ns1.aa.", "ns1.shared.")))
}

// TestDeterminism applies the same blocks to two replicas, one of which is
// saved and reloaded half way, and compares state digests and entries.
func TestDeterminism(t *testing.T) {
	a := newFed(t)
	b := &fed{}
	*b = *a
	var err error
	b.s, err = Genesis(a.c)
	if err != nil {
		t.Fatal(err)
	}
	store := map[string][]byte{}
	persist := func(s *State) {
		for _, w := range s.TakeWrites() {
			if w.Value == nil {
				delete(store, w.Key)
			} else {
				store[w.Key] = w.Value
			}
		}
	}
	a.s.TakeWrites()
	persist(b.s)
	var blocks [][][]byte
	evidence := strings.Repeat("aa", 32)
	blocks = append(blocks,
		[][]byte{a.act("op1", action.KindDelegate, deleg("shared.", "ns1.shared.", "ns2.shared.", "ns1.aa."))},
		[][]byte{a.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "r", TLD: "uses.", LegalBasis: "b", Evidence: evidence, Duration: "1h"})},
		[][]byte{a.act("alpha", action.KindVote, &action.Vote{Proposal: 1, Vote: action.Yes}), a.act("gamma", action.KindVote, &action.Vote{Proposal: 1, Vote: action.Yes})},
		[][]byte{a.act("delta", action.KindVote, &action.Vote{Proposal: 1, Vote: action.Yes}), []byte("junk")},
		nil,
	)
	for i, txs := range blocks {
		at := genesisTime.Add(time.Duration(i+1) * 40 * time.Minute)
		oa := a.s.Apply(int64(i+1), at, 0, txs)
		ob := b.s.Apply(int64(i+1), at, 0, txs)
		persist(b.s)
		if i == 2 { // restart b from what it stored
			b.s, err = Load(func(yield func(string, []byte) error) error {
				for k, v := range store {
					if err := yield(k, v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if a.s.Digest() != b.s.Digest() {
			t.Fatalf("block %d: digests differ", i+1)
		}
		if len(oa.Entries) != len(ob.Entries) || strings.Join(oa.ChangedTLDs, ",") != strings.Join(ob.ChangedTLDs, ",") {
			t.Fatalf("block %d: outputs differ", i+1)
		}
		for j := range oa.Entries {
			if string(oa.Entries[j]) != string(ob.Entries[j]) {
				t.Fatalf("block %d entry %d differs", i+1, j)
			}
		}
	}
	if a.s.Restricted("uses.") {
		t.Error("the one-hour restriction did not lapse")
	}
	// Tampering with one stored value changes the digest of a reload.
	store["tld/aa."] = []byte(strings.Replace(string(store["tld/aa."]), "ns2.aa.", "ns9.aa.", 1))
	c, err := Load(func(yield func(string, []byte) error) error {
		for k, v := range store {
			yield(k, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest() == a.s.Digest() {
		t.Error("a tampered store gives the same digest")
	}
}

// TestCheckAppliesTheRules: CheckTx refuses, before any block, an action
// that its block would reject, and a signer's actions too far ahead.
func TestCheckAppliesTheRules(t *testing.T) {
	f := newFed(t)
	tests := []struct {
		name string
		tx   []byte
		want string
	}{
		{"forbidden delegation", f.actSeq("beta", 1, action.KindDelegate, deleg("aa.", "ns1.aa.", "ns2.aa.")), `"beta" may not change "aa."`},
		{"vote on no proposal", f.actSeq("alpha", 1, action.KindVote, &action.Vote{Proposal: 9, Vote: action.Yes}), "no proposal 9"},
		{"operator proposing", f.actSeq("op1", 1, action.KindPropose, &action.Propose{Proposal: constitution.TLDDelete, Rationale: "r", TLD: "aa."}), "only members may propose"},
		{"bad delegation", f.actSeq("op1", 1, action.KindDelegate, deleg("shared.", "ns1.shared.")), "at least 2"},
		{"too far ahead", f.actSeq("op1", 1+MaxPending, action.KindDelegate, deleg("shared.", "ns1.shared.", "ns2.shared.")), "too far ahead"},
	}
	for _, tt := range tests {
		_, err := f.s.Check(tt.tx)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want %q", tt.name, err, tt.want)
		}
	}
	// Pipelined actions of one signer pass Check before their blocks.
	for seq := uint64(1); seq < MaxPending; seq++ {
		if _, err := f.s.Check(f.actSeq("op1", seq, action.KindDelegate, deleg("shared.", "ns1.shared.", "ns2.shared."))); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
	}
}
