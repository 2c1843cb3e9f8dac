package api

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

func sameSnapshot(a, b *tldSnapshot) bool {
	eq := func(x, y map[string][]string) bool {
		return maps.EqualFunc(x, y, func(l, m []string) bool { return slices.Equal(l, m) })
	}
	return slices.Equal(a.names, b.names) && slices.Equal(a.owners, b.owners) && slices.Equal(a.operators, b.operators) &&
		eq(a.owned, b.owned) && eq(a.operated, b.operated)
}

// TestTLDSnapshot checks the API's TLD snapshot against one built afresh
// from the state, through a delegation, passed proposals that leave the
// TLDs alone, and that it patches (tld.create, tld.transfer, tld.delete,
// member.remove of a member that owns TLDs): one build, at the start.
func TestTLDSnapshot(t *testing.T) {
	f := newFed(t, 10, Options{})
	srv := f.h.(*server)
	check := func(when string, rebuilds int) {
		t.Helper()
		var snap, want *tldSnapshot
		f.b.View(func(st *registry.State) {
			snap, want = srv.tldIdx.get(st), newTLDSnapshot(st)
		})
		if !sameSnapshot(snap, want) {
			t.Errorf("%s: snapshot\n%+v\nwant\n%+v", when, snap, want)
		}
		if srv.tldIdx.rebuilds != rebuilds {
			t.Errorf("%s: %d rebuilds, want %d", when, srv.tldIdx.rebuilds, rebuilds)
		}
	}
	pass := func(p *action.Propose) {
		t.Helper()
		id := f.accepted(f.act("alpha", action.KindPropose, p)).Proposal
		for _, m := range []string{"alpha", "beta", "gamma"} {
			f.accepted(f.act(m, action.KindVote, &action.Vote{Proposal: id, Vote: action.Yes}))
		}
		var got ProposalInfo
		f.get(fmt.Sprintf("/v1/proposals/%d", id), 200, &got)
		if got.Status != registry.StatusPassed {
			t.Fatalf("%s proposal %d is %s (%s) after 3 yes of 4", p.Proposal, id, got.Status, got.Reason)
		}
	}
	check("at genesis", 1)
	// populate passes a restriction (proposal 1), a kind that leaves the
	// TLDs alone, and opens a tld.create of newt. (2).
	f.populate()
	check("after populate", 1)
	f.accepted(f.act("op1", action.KindDelegate, &action.Delegate{TLD: "shared.", NS: []string{"ns2.shared.", "ns1.shared."}}))
	check("after a delegation", 1)
	var page struct {
		TLDs []TLDSummary `json:"tlds"`
	}
	f.get("/v1/tlds?prefix=newt", 200, &page)
	if len(page.TLDs) != 0 {
		t.Fatalf("newt. listed before its proposal passed: %v", page.TLDs)
	}
	var signer SignerInfo
	f.get("/v1/signers/op1", 200, &signer)
	before := signer.TLDCount
	for _, m := range []string{"alpha", "beta", "gamma"} {
		f.accepted(f.act(m, action.KindVote, &action.Vote{Proposal: 2, Vote: action.Yes}))
	}
	check("after tld.create passed", 1)
	f.get("/v1/tlds?prefix=newt", 200, &page)
	if len(page.TLDs) != 1 || page.TLDs[0].Name != "newt." || page.TLDs[0].Operator != "op1" {
		t.Errorf("prefix=newt after tld.create passed: %+v, want newt. run by op1", page.TLDs)
	}
	f.get("/v1/signers/op1", 200, &signer)
	if signer.TLDCount != before+1 || !slices.Contains(signer.TLDs, "newt.") {
		t.Errorf("op1 operates %d TLDs %v, want %d with newt.", signer.TLDCount, signer.TLDs, before+1)
	}
	pass(&action.Propose{Proposal: constitution.TLDTransfer, Rationale: "r", TLD: "uses.", Operator: f.vkeys["op1"]})
	check("after tld.transfer passed", 1)
	pass(&action.Propose{Proposal: constitution.TLDDelete, Rationale: "r", TLD: "newt."})
	check("after tld.delete passed", 1)
	f.get("/v1/signers/op2", 404, nil) // op2 ran uses. only
	var owned []string
	f.b.View(func(st *registry.State) { owned = srv.tldIdx.get(st).owned["delta"] })
	if len(owned) == 0 {
		t.Fatal("delta owns no TLD: the member.remove case needs one")
	}
	pass(&action.Propose{Proposal: constitution.MemberRemove, Rationale: "r", Member: &action.Member{Name: "delta"}})
	check("after member.remove passed", 1)
}
