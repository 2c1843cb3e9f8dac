package api

import (
	"slices"
	"testing"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/registry"
)

// TestTLDSnapshot checks the API's TLD snapshot against the state: kept
// across a delegation's block, rebuilt when a tld.create passes, and equal
// to what the state says at every step.
func TestTLDSnapshot(t *testing.T) {
	f := newFed(t, 10, Options{})
	srv := f.h.(*server)
	check := func(when string) *tldSnapshot {
		t.Helper()
		var snap *tldSnapshot
		var names []string
		f.b.View(func(st *registry.State) {
			snap, names = srv.tldIdx.get(st), st.TLDNames()
		})
		if !slices.Equal(snap.names, names) {
			t.Errorf("%s: snapshot has %d names %v, the state %d %v", when, len(snap.names), snap.names, len(names), names)
		}
		return snap
	}
	first := check("at genesis")
	// populate passes a restriction (proposal 1), a kind that leaves the
	// TLDs alone, and opens a tld.create (2).
	f.populate()
	if check("after populate") != first {
		t.Errorf("a passed restriction rebuilt the snapshot")
	}
	f.accepted(f.act("op1", action.KindDelegate, &action.Delegate{TLD: "shared.", NS: []string{"ns2.shared.", "ns1.shared."}}))
	if again := check("after a delegation"); again != first {
		t.Errorf("a delegation's block rebuilt the snapshot; only a passed proposal can change the names")
	}
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
	var p ProposalInfo
	f.get("/v1/proposals/2", 200, &p)
	if p.Status != registry.StatusPassed {
		t.Fatalf("proposal 2 is %s after 3 yes of 4", p.Status)
	}
	if check("after tld.create passed") == first {
		t.Errorf("the snapshot was not rebuilt after tld.create passed")
	}
	f.get("/v1/tlds?prefix=newt", 200, &page)
	if len(page.TLDs) != 1 || page.TLDs[0].Name != "newt." || page.TLDs[0].Operator != "op1" {
		t.Errorf("prefix=newt after tld.create passed: %+v, want newt. run by op1", page.TLDs)
	}
	f.get("/v1/signers/op1", 200, &signer)
	if signer.TLDCount != before+1 || !slices.Contains(signer.TLDs, "newt.") {
		t.Errorf("op1 operates %d TLDs %v, want %d with newt.", signer.TLDCount, signer.TLDs, before+1)
	}
}

// TestEmbeddedTLDs: member and signer answers embed at most
// MaxEmbeddedTLDs TLDs and count them all.
func TestEmbeddedTLDs(t *testing.T) {
	f := newFed(t, 4*MaxEmbeddedTLDs+8, Options{}) // alpha owns aa. and 102 extra TLDs
	var m struct {
		MemberInfo
	}
	f.get("/v1/members/alpha", 200, &m)
	var signer SignerInfo
	f.get("/v1/signers/alpha", 200, &signer)
	var members struct {
		Members []MemberInfo `json:"members"`
	}
	f.get("/v1/members", 200, &members)
	var walked int
	for after := ""; ; {
		var page struct {
			TLDs []TLDSummary `json:"tlds"`
			Next string       `json:"next"`
		}
		f.get("/v1/tlds?owner=alpha&limit=1000&after="+after, 200, &page)
		walked += len(page.TLDs)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	tests := []struct {
		name      string
		got, want int
	}{
		{"member tlds", len(m.TLDs), MaxEmbeddedTLDs},
		{"member tld_count", m.TLDCount, MaxEmbeddedTLDs + 3},
		{"signer tlds", len(signer.TLDs), MaxEmbeddedTLDs},
		{"signer tld_count", signer.TLDCount, MaxEmbeddedTLDs + 3},
		{"members[alpha] tld_count", members.Members[0].TLDCount, MaxEmbeddedTLDs + 3},
		{"members[alpha] tlds", len(members.Members[0].TLDs), MaxEmbeddedTLDs},
		{"owner=alpha walked", walked, MaxEmbeddedTLDs + 3},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
