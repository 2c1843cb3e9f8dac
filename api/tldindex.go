package api

import (
	"sync"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// tldSnapshot is the state's TLD names, sorted, with each owner's and each
// operator's TLDs (sorted), as of one state. It is never modified once
// built: handlers use it without a lock.
type tldSnapshot struct {
	names []string
	// owned maps a member to the TLDs it owns; operated maps an operator
	// key's signer name to the TLDs it operates.
	owned, operated map[string][]string
}

// tldIndex keeps a tldSnapshot across requests, so that no request sorts or
// walks every TLD (registry.State.TLDNames sorts a copy of every name on
// each call: about 0.3 s for a million). It relies on a rule of the
// registry: the set of TLDs, their owners and their operators change only
// when a proposal passes, never through a delegation or a vote, and of the
// proposal kinds only tld.create, tld.delete, tld.transfer and
// member.remove change them (tldNeutral lists those that cannot; a kind
// the API does not know counts as one that can). So the snapshot is
// rebuilt only when the state's count of passed proposals that can change
// TLDs (or the State itself) differs from the one it was built from, and
// reused across heights otherwise. A rebuild is a pass over every TLD (a
// second or so for a million, under the read lock), once per such passed
// proposal. Invariant: snap describes the state st at height height.
type tldIndex struct {
	mu     sync.Mutex
	st     *registry.State
	height int64
	passed int
	snap   *tldSnapshot
}

// get returns the snapshot of st; the caller holds the backend's read
// lock (st does not change during the call).
func (x *tldIndex) get(st *registry.State) *tldSnapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.snap != nil && x.st == st && x.height == st.Height() {
		return x.snap
	}
	passed := passedProposals(st)
	if x.snap == nil || x.st != st || x.passed != passed || st.Height() < x.height {
		x.snap = newTLDSnapshot(st)
	}
	x.st, x.height, x.passed = st, st.Height(), passed
	return x.snap
}

// tldNeutral are the proposal kinds whose execution leaves the set of
// TLDs, their owners and their operators as they were.
var tldNeutral = map[string]bool{
	constitution.MemberAdmit: true, constitution.RestrictionImpose: true, constitution.RestrictionLift: true,
	constitution.ConstitutionAmend: true, constitution.KeyGenerate: true, constitution.KeyRoll: true,
}

// passedProposals counts the passed proposals that may have changed TLDs.
func passedProposals(st *registry.State) int {
	n := 0
	for _, p := range st.Proposals() {
		if p.Status == registry.StatusPassed && !tldNeutral[p.Kind] {
			n++
		}
	}
	return n
}

func newTLDSnapshot(st *registry.State) *tldSnapshot {
	s := &tldSnapshot{names: st.TLDNames(), owned: map[string][]string{}, operated: map[string][]string{}}
	for _, name := range s.names {
		t, _ := st.TLD(name)
		if t.Owner != "" {
			s.owned[t.Owner] = append(s.owned[t.Owner], name)
		}
		if op := keyName(t.Operator); op != "" {
			s.operated[op] = append(s.operated[op], name)
		}
	}
	return s
}
