package api

import (
	"encoding/json"
	"slices"
	"sync"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// tldSnapshot is the state's TLD names, sorted, with each owner's and each
// operator's TLDs (sorted). Invariants: owners[i] and operators[i] are the
// owner and the operator key's signer name of names[i] ("" for none);
// owned[m] lists, sorted, the names whose owner is m, and operated[o]
// those whose operator is o (no empty lists are kept).
type tldSnapshot struct {
	names, owners, operators []string
	owned, operated          map[string][]string
}

// tldIndex keeps a tldSnapshot across requests, so that no request sorts or
// walks every TLD (registry.State.TLDNames sorts a copy of every name on
// each call: about 0.3 s for a million). It relies on a rule of the
// registry: the set of TLDs, their owners and their operators change only
// when a proposal passes, never through a delegation or a vote, and of the
// proposal kinds only tld.create, tld.delete, tld.transfer (which change
// the TLD they name) and member.remove change them. tldNeutral lists the
// kinds that cannot; a kind the API does not know counts as one that can.
//
// At a new height the index looks for passed proposals of the other kinds
// it has not yet accounted for: none, and the snapshot stands; only
// tld.create, tld.delete and tld.transfer, and it patches the snapshot at
// the TLDs they name, as the state has them now (a binary search and a
// slice insertion or deletion each); member.remove, and it patches the
// TLDs the removed member owned or operated; anything else (an unknown
// kind, another State) and it rebuilds the snapshot from every TLD (a
// second or more for a million, under the read lock: a node builds it
// once before it serves, see TLDIndex).
//
// The snapshot is patched in place, under mu, by a request that sees a
// newer state than the snapshot's. That cannot happen while a request on
// the older state still uses it: Backend.View holds the node's read lock,
// so no block commits while any View runs. A handler may therefore use the
// snapshot until its View returns.
type tldIndex struct {
	mu      sync.Mutex
	st      *registry.State
	height  int64
	applied map[uint64]bool // passed non-neutral proposals the snapshot reflects
	snap    *tldSnapshot
	// rebuilds counts the snapshots built from every TLD.
	rebuilds int
}

// tldNeutral are the proposal kinds whose execution leaves the set of
// TLDs, their owners and their operators as they were.
var tldNeutral = map[string]bool{
	constitution.MemberAdmit: true, constitution.RestrictionImpose: true, constitution.RestrictionLift: true,
	constitution.ConstitutionAmend: true, constitution.KeyGenerate: true, constitution.KeyRoll: true,
}

// tldPatchable are the kinds that change only the TLD their args name.
var tldPatchable = map[string]bool{constitution.TLDCreate: true, constitution.TLDDelete: true, constitution.TLDTransfer: true}

// get returns the snapshot of st; the caller holds the backend's read
// lock (st does not change during the call).
func (x *tldIndex) get(st *registry.State) *tldSnapshot {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.snap != nil && x.st == st && x.height == st.Height() {
		return x.snap
	}
	var fresh []registry.Proposal
	for _, p := range st.Proposals() {
		if p.Status == registry.StatusPassed && !tldNeutral[p.Kind] && !x.applied[p.ID] {
			fresh = append(fresh, p)
		}
	}
	var touched []string
	rebuild := x.snap == nil || x.st != st || st.Height() < x.height
	for _, p := range fresh {
		var args action.Propose
		if rebuild || json.Unmarshal(p.Args, &args) != nil {
			rebuild = true
			break
		}
		switch {
		case tldPatchable[p.Kind] && args.TLD != "":
			touched = append(touched, args.TLD)
		case p.Kind == constitution.MemberRemove && args.Member != nil:
			// The state may have given its TLDs away (removed_member_tlds).
			m := args.Member.Name
			touched = append(touched, x.snap.owned[m]...)
			touched = append(touched, x.snap.operated[m]...)
		default:
			rebuild = true
		}
	}
	if rebuild {
		x.snap, x.applied = newTLDSnapshot(st), map[uint64]bool{}
		x.rebuilds++
		for _, p := range st.Proposals() {
			if p.Status == registry.StatusPassed && !tldNeutral[p.Kind] {
				x.applied[p.ID] = true
			}
		}
	} else {
		for _, name := range touched {
			x.snap.reconcile(st, name)
		}
		for _, p := range fresh {
			x.applied[p.ID] = true
		}
	}
	x.st, x.height = st, st.Height()
	return x.snap
}

// newTLDSnapshot builds the snapshot of st from every TLD.
func newTLDSnapshot(st *registry.State) *tldSnapshot {
	names := st.TLDNames()
	s := &tldSnapshot{names: names, owners: make([]string, len(names)), operators: make([]string, len(names)),
		owned: map[string][]string{}, operated: map[string][]string{}}
	for i, name := range names {
		t, _ := st.TLD(name)
		s.owners[i], s.operators[i] = t.Owner, keyName(t.Operator)
		if t.Owner != "" {
			s.owned[t.Owner] = append(s.owned[t.Owner], name)
		}
		if op := s.operators[i]; op != "" {
			s.operated[op] = append(s.operated[op], name)
		}
	}
	return s
}

// reconcile makes the snapshot say of name what st says: absent, or
// present with st's owner and operator.
func (s *tldSnapshot) reconcile(st *registry.State, name string) {
	i, found := slices.BinarySearch(s.names, name)
	if found {
		removeFrom(s.owned, s.owners[i], name)
		removeFrom(s.operated, s.operators[i], name)
		s.names = slices.Delete(s.names, i, i+1)
		s.owners = slices.Delete(s.owners, i, i+1)
		s.operators = slices.Delete(s.operators, i, i+1)
	}
	t, ok := st.TLD(name)
	if !ok {
		return
	}
	op := keyName(t.Operator)
	s.names = slices.Insert(s.names, i, name)
	s.owners = slices.Insert(s.owners, i, t.Owner)
	s.operators = slices.Insert(s.operators, i, op)
	addTo(s.owned, t.Owner, name)
	addTo(s.operated, op, name)
}

func removeFrom(m map[string][]string, key, name string) {
	l := m[key]
	if i, ok := slices.BinarySearch(l, name); ok {
		l = slices.Delete(l, i, i+1)
		if len(l) == 0 {
			delete(m, key)
		} else {
			m[key] = l
		}
	}
}

func addTo(m map[string][]string, key, name string) {
	if key == "" {
		return
	}
	l := m[key]
	if i, ok := slices.BinarySearch(l, name); !ok {
		m[key] = slices.Insert(l, i, name)
	}
}

// TLDIndex is a state's TLD names, sorted, and each member's TLDs, kept
// across requests as GET /v1/tlds keeps them (built once, then patched
// when a passed proposal changed TLDs), for the API and other handlers on
// the same Backend (the portal): give the same one to both in their
// Options. The zero value is ready to use; a server calls Names once
// before it serves, so that no request pays for the first build. Call its
// methods from inside Backend.View, and use what they return only until
// View returns and only to read.
type TLDIndex struct{ x tldIndex }

// Names returns st's TLD names, sorted.
func (t *TLDIndex) Names(st *registry.State) []string { return t.x.get(st).names }

// Owned maps each member that owns TLDs to them, sorted.
func (t *TLDIndex) Owned(st *registry.State) map[string][]string { return t.x.get(st).owned }
