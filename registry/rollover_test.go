package registry

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// startRoll proposes key.roll with threshold th, votes it through and
// returns the ceremonyRun of its ceremony.
func (r *signingRun) startRoll(th int) *ceremonyRun {
	r.t.Helper()
	out := r.accept(r.f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyRoll, Rationale: "a new key", Threshold: th}))
	roll := &ceremonyRun{t: r.t, f: r.f, id: out.Results[0].Proposal, secrets: map[string]*threshold.DKGSecret{}, shares: map[string]*threshold.KeyShare{}}
	for _, m := range []string{"alpha", "beta", "gamma"} {
		roll.accept(r.f.act(m, action.KindVote, &action.Vote{Proposal: roll.id, Vote: action.Yes}))
	}
	return roll
}

// eventsOf returns the names of the events in entries.
func eventsOf(entries [][]byte) []string {
	var out []string
	for _, e := range entries {
		if ev, err := DecodeEvent(e); err == nil {
			out = append(out, ev.Event)
		}
	}
	return out
}

func (r *signingRun) dnskeys() (string, []string) {
	zk, others, ok := r.f.s.DNSKEYs()
	if !ok {
		r.t.Fatal("no zone key")
	}
	var o []string
	for _, k := range others {
		o = append(o, k.GroupKey)
	}
	return zk.GroupKey, o
}

// TestKeyRollover walks a rollover through its three phases (RFC 7583
// §3.3) in block time, with the default publication and retire intervals:
// the new key is published beside the old, which signs on; it takes over
// the signing rollover_publish after its first signed publication (never
// while a request is open); the old key is retired rollover_retire after
// the new key's first signed version. Each step makes a zone version and
// is logged; the state reloads to the same digest at every step.
func TestKeyRollover(t *testing.T) {
	r := newSigningRun(t)
	old := r.zk
	pol := r.f.c.SigningPolicy()
	ipub, iret := time.Duration(pol.RolloverPublish), time.Duration(pol.RolloverRetire)
	reload := func(when string) {
		t.Helper()
		if got := loadStored(t, storedForm(r.f.s)); got.Digest() != r.f.s.Digest() {
			t.Fatalf("%s: the reloaded state has another digest", when)
		}
	}

	roll := r.startRoll(2)
	ro, ok := r.f.s.Rollover()
	if !ok || ro.Phase != RollGenerate || ro.Old.GroupKey != old.GroupKey || ro.Ceremony != roll.id {
		t.Fatalf("rollover after the vote: %+v", ro)
	}
	r.f.rejected(r.f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyRoll, Rationale: "another", Threshold: 2}), "key-generation ceremony")
	if signer, others := r.dnskeys(); signer != old.GroupKey || others != nil {
		t.Fatalf("while generating, DNSKEYs %s + %v", signer, others)
	}
	reload("generating")

	// The ceremony makes the new key; the old one stays the zone key.
	roll.commit()
	roll.sendShares(nil)
	serial := r.f.s.Serial()
	roll.finish()
	if zk, _ := r.f.s.ZoneKey(); zk.GroupKey != old.GroupKey {
		t.Fatal("the new key became the zone key before it was published")
	}
	ro, _ = r.f.s.Rollover()
	if ro.Phase != RollPublish || ro.New == nil || ro.New.Ceremony != roll.id || ro.New.Threshold != 2 {
		t.Fatalf("rollover after the ceremony: %+v", ro)
	}
	if r.f.s.Serial() != serial+1 {
		t.Errorf("the new key's publication made no zone version (serial %d → %d)", serial, r.f.s.Serial())
	}
	newKey := *ro.New
	if signer, others := r.dnskeys(); signer != old.GroupKey || !slices.Equal(others, []string{newKey.GroupKey}) {
		t.Fatalf("publishing: DNSKEYs %s + %v", signer, others)
	}
	if !r.f.s.KeyInUse(old.Ceremony) || !r.f.s.KeyInUse(newKey.Ceremony) {
		t.Error("a key of the rollover is not in use")
	}
	reload("publishing")

	// The first signed version with both DNSKEYs starts Ipub.
	r.f.s.OpenSigning(r.f.s.Serial(), 0, r.f.now, r.f.now.Add(24*time.Hour), 3)
	req, _ := r.f.s.SigningRequest()
	if req.GroupKey != old.GroupKey || !slices.Equal(req.Others, []string{newKey.GroupKey}) {
		t.Fatalf("request signs with %s publishing %v", req.GroupKey, req.Others)
	}
	entries := r.f.s.PublishSigned(SignedVersion{Serial: req.Target, ZONEMD: "AA", Expires: r.f.now.Add(60 * 24 * time.Hour)}) // no refresh within Ipub
	published := r.f.now
	if got := eventsOf(entries); !slices.Equal(got, []string{"zone.signed", "key.published"}) {
		t.Fatalf("events %v", got)
	}
	ev, _ := DecodeEvent(entries[1])
	if ev.Next == nil || !ev.Next.Equal(published.Add(ipub)) || ev.GroupKey != newKey.GroupKey {
		t.Errorf("key.published %+v, want the switch due at %s", ev, published.Add(ipub))
	}
	reload("published")

	// Nothing happens before Ipub; at Ipub a request is open: the switch
	// waits for it.
	if out := r.blockAt(published.Add(ipub - time.Second)); len(eventsOf(out.Entries)) != 0 {
		t.Fatalf("before Ipub: %v", eventsOf(out.Entries))
	}
	r.f.s.OpenSigning(r.f.s.Serial(), 0, r.f.now, r.f.now.Add(24*time.Hour), 1)
	if out := r.blockAt(published.Add(ipub)); slices.Contains(eventsOf(out.Entries), "key.switched") {
		t.Fatal("switched while a signing request was open")
	}
	r.f.s.PublishSigned(SignedVersion{Serial: r.f.s.Serial(), ZONEMD: "AB", Expires: r.f.now.Add(60 * 24 * time.Hour)}) // no refresh within Ipub
	serial = r.f.s.Serial()
	out := r.soon()
	if got := eventsOf(out.Entries); !slices.Equal(got, []string{"key.switched"}) || !out.ZoneChanged || r.f.s.Serial() != serial+1 {
		t.Fatalf("switch: events %v, zone changed %v", got, out.ZoneChanged)
	}
	if zk, _ := r.f.s.ZoneKey(); zk.GroupKey != newKey.GroupKey {
		t.Fatal("the new key is not the zone key after the switch")
	}
	if signer, others := r.dnskeys(); signer != newKey.GroupKey || !slices.Equal(others, []string{old.GroupKey}) {
		t.Fatalf("switched: DNSKEYs %s + %v", signer, others)
	}
	reload("switched")

	// Nonces are for the new key now.
	r.f.rejected(r.signTx("alpha", &action.Signing{Step: action.StepNonces, Ceremony: old.Ceremony, Data: base64.StdEncoding.EncodeToString(r.fillData("alpha", 1))}), "the zone key is ceremony")
	r.zk = newKey
	r.shares = roll.shares
	r.accept(r.fill("alpha", 2))

	// The new key's first signed version starts Iret.
	r.f.s.OpenSigning(r.f.s.Serial(), 0, r.f.now, r.f.now.Add(24*time.Hour), 3)
	entries = r.f.s.PublishSigned(SignedVersion{Serial: r.f.s.Serial(), ZONEMD: "AC", Expires: r.f.now.Add(60 * 24 * time.Hour)}) // no refresh within Ipub
	active := r.f.now
	if got := eventsOf(entries); !slices.Equal(got, []string{"zone.signed", "key.active"}) {
		t.Fatalf("events %v", got)
	}
	if v, _ := r.f.s.Signed(); v.GroupKey != newKey.GroupKey || !slices.Equal(v.Others, []string{old.GroupKey}) || v.Ceremony != newKey.Ceremony {
		t.Errorf("signed version %+v", v)
	}
	if out := r.blockAt(active.Add(iret - time.Second)); len(eventsOf(out.Entries)) != 0 {
		t.Fatalf("before Iret: %v", eventsOf(out.Entries))
	}
	serial = r.f.s.Serial()
	out = r.blockAt(active.Add(iret))
	if got := eventsOf(out.Entries); !slices.Equal(got, []string{"key.retired"}) || r.f.s.Serial() != serial+1 {
		t.Fatalf("retire: events %v", got)
	}
	if _, ok := r.f.s.Rollover(); ok {
		t.Fatal("a rollover is under way after the retirement")
	}
	if signer, others := r.dnskeys(); signer != newKey.GroupKey || others != nil {
		t.Fatalf("retired: DNSKEYs %s + %v", signer, others)
	}
	if r.f.s.KeyInUse(old.Ceremony) || !r.f.s.KeyInUse(newKey.Ceremony) {
		t.Error("KeyInUse after the retirement")
	}
	reload("retired")

	// A rollover whose ceremony fails ends; the zone key stays.
	failing := r.startRoll(4)
	failing.commit("alpha", "beta", "gamma")
	c := failing.cer()
	out = failing.blockAt(c.Deadline)
	if got := strings.Join(eventsOf(out.Entries), " "); !strings.Contains(got, "key.failed") {
		t.Fatalf("events %q", got)
	}
	if _, ok := r.f.s.Rollover(); ok {
		t.Fatal("the rollover of a failed ceremony is still under way")
	}
	if zk, _ := r.f.s.ZoneKey(); zk.GroupKey != newKey.GroupKey {
		t.Fatal("a failed rollover changed the zone key")
	}
	reload("failed")
}

// TestKeyRollRejections: key.roll needs a key to roll and one rollover at
// a time.
func TestKeyRollRejections(t *testing.T) {
	f := newFed(t)
	f.rejected(f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyRoll, Rationale: "roll", Threshold: 2}), "the zone has no key to roll: make one with key.generate")
	r := newSigningRun(t)
	roll := r.startRoll(3)
	roll.commit()
	roll.sendShares(nil)
	roll.finish()
	r.f.rejected(r.f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyRoll, Rationale: "again", Threshold: 2}), "the rollover to the key of ceremony")
	r.f.rejected(r.f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "again", Threshold: 2}), "the zone already has a key")
	if roll.cer().Status != CeremonyDone {
		t.Fatalf("roll ceremony %+v", roll.cer())
	}
}
