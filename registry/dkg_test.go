package registry

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// ceremonyRun drives a key-generation ceremony among the fixture's four
// members with package threshold directly, as their nodes would. Every
// block goes through run.block, which records it, so that a second replica
// can replay the same chain.
type ceremonyRun struct {
	t       testing.TB
	f       *fed
	id      uint64
	secrets map[string]*threshold.DKGSecret // this attempt's
	shares  map[string]*threshold.KeyShare
	blocks  []recordedBlock
	entries [][]byte
}

type recordedBlock struct {
	at  time.Time
	txs [][]byte
}

func (r *ceremonyRun) blockAt(at time.Time, txs ...[]byte) *Output {
	r.blocks = append(r.blocks, recordedBlock{at, txs})
	out := r.f.blockAt(at, txs...)
	r.entries = append(r.entries, out.Entries...)
	return out
}

func (r *ceremonyRun) block(txs ...[]byte) *Output {
	step := r.f.step
	if step == 0 {
		step = time.Minute
	}
	return r.blockAt(r.f.now.Add(step), txs...)
}

// accept applies one action in a block and fails unless it is accepted.
func (r *ceremonyRun) accept(tx []byte) *Output {
	r.t.Helper()
	out := r.block(tx)
	if res := out.Results[0]; res.Code != OK {
		r.t.Fatalf("rejected: %s", res.Reason)
	}
	return out
}

// startCeremony proposes key.generate with threshold t and votes it
// through (alpha, beta and gamma: three of four decide early).
func startCeremony(t testing.TB, th int, tweaks ...func(*constitution.Constitution)) *ceremonyRun {
	r := &ceremonyRun{t: t, f: newFed(t, tweaks...), secrets: map[string]*threshold.DKGSecret{}, shares: map[string]*threshold.KeyShare{}}
	out := r.accept(r.f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "sign the zone", Threshold: th}))
	r.id = out.Results[0].Proposal
	for _, m := range []string{"alpha", "beta", "gamma"} {
		r.accept(r.f.act(m, action.KindVote, &action.Vote{Proposal: r.id, Vote: action.Yes}))
	}
	c := r.cer()
	if c.Status != CeremonyOpen || c.Attempt != 1 || c.Round != action.RoundCommit || strings.Join(c.Participants, " ") != "alpha beta delta gamma" {
		t.Fatalf("ceremony after the vote: %+v", c)
	}
	return r
}

func (r *ceremonyRun) cer() Ceremony {
	c, ok := r.f.s.Ceremony(r.id)
	if !ok {
		r.t.Fatalf("no ceremony %d", r.id)
	}
	return c
}

func (r *ceremonyRun) dkgTx(signer string, round string, data []byte) []byte {
	c := r.cer()
	return r.f.act(signer, action.KindDKG, &action.DKG{Ceremony: c.ID, Attempt: c.Attempt, Round: round, Data: base64.StdEncoding.EncodeToString(data)})
}

// commit makes and submits the round-one packages of the given members
// (all participants if none are named).
func (r *ceremonyRun) commit(members ...string) {
	r.t.Helper()
	c := r.cer()
	if len(members) == 0 {
		members = c.Participants
	}
	for _, m := range members {
		sec, pkg, err := threshold.DKGRound1(rand.Reader, c.Params(r.f.c.Origin), c.ParticipantID(m))
		if err != nil {
			r.t.Fatal(err)
		}
		r.secrets[m] = sec
		r.accept(r.dkgTx(m, action.RoundCommit, pkg.Encode()))
	}
}

func (r *ceremonyRun) packages() []*threshold.Round1Package {
	r.t.Helper()
	c := r.cer()
	pkgs, err := c.Packages()
	if err != nil {
		r.t.Fatal(err)
	}
	return pkgs
}

func encodeSealed(ss []*threshold.SealedShare) []byte {
	var b []byte
	for _, s := range ss {
		b = append(b, s.Encode()...)
	}
	return b
}

// sendShares submits the sealed shares of the given members (all if none);
// tamper, if set, may change a sender's shares first.
func (r *ceremonyRun) sendShares(tamper func(from string, ss []*threshold.SealedShare), members ...string) {
	r.t.Helper()
	c := r.cer()
	if len(members) == 0 {
		members = c.Participants
	}
	for _, m := range members {
		ss, err := r.secrets[m].Round2(rand.Reader, r.packages())
		if err != nil {
			r.t.Fatal(err)
		}
		if tamper != nil {
			tamper(m, ss)
		}
		r.accept(r.dkgTx(m, action.RoundShares, encodeSealed(ss)))
	}
}

// finish has each named member (all if none) open its shares and, if
// they are good, keep its key share and confirm; a member that finds a
// bad share returns the complaint it would send instead (not submitted).
func (r *ceremonyRun) finish(members ...string) (complainer string, complaint *threshold.Complaint) {
	r.t.Helper()
	c := r.cer()
	if len(members) == 0 {
		members = c.Participants
	}
	pkgs := r.packages()
	p := c.Params(r.f.c.Origin)
	for _, m := range members {
		id := c.ParticipantID(m)
		sealed := c.SealedTo(id)
		ks, _, err := r.secrets[m].FinishSealed(pkgs, sealed)
		var be *threshold.BlameError
		if errors.As(err, &be) {
			for _, s := range sealed {
				if s.From == be.Culprits[0] {
					comp, err := r.secrets[m].Complain(s)
					if err != nil {
						r.t.Fatal(err)
					}
					return m, comp
				}
			}
		}
		if err != nil {
			r.t.Fatalf("%s: %v", m, err)
		}
		r.shares[m] = ks
		h, err := threshold.TranscriptHash(p, pkgs)
		if err != nil {
			r.t.Fatal(err)
		}
		r.accept(r.dkgTx(m, action.RoundConfirm, h[:]))
	}
	return "", nil
}

// complete runs a whole attempt with every participant honest.
func (r *ceremonyRun) complete() ZoneKey {
	r.t.Helper()
	r.shares = map[string]*threshold.KeyShare{}
	r.commit()
	r.sendShares(nil)
	if who, _ := r.finish(); who != "" {
		r.t.Fatalf("%s complained in an honest attempt", who)
	}
	zk, ok := r.f.s.ZoneKey()
	if !ok {
		r.t.Fatalf("no zone key after every participant confirmed: %+v", r.cer())
	}
	return zk
}

// checkKey checks the zone key against the participants' key shares and
// signs with t of them.
func (r *ceremonyRun) checkKey(zk ZoneKey, t int) {
	r.t.Helper()
	c := r.cer()
	if c.Status != CeremonyDone || c.GroupKey != zk.GroupKey || zk.Threshold != t || !slices.Equal(zk.Participants, c.Participants) {
		r.t.Fatalf("ceremony %+v, zone key %+v", c, zk)
	}
	pkp, err := zk.PublicKeyPackage()
	if err != nil {
		r.t.Fatal(err)
	}
	for i, m := range zk.Participants {
		ks := r.shares[m]
		if ks == nil || ks.ID != uint16(i+1) {
			r.t.Fatalf("%s has no key share %d", m, i+1)
		}
		if !bytes.Equal(ks.GroupKey.Bytes(), zk.PublicKey()) {
			r.t.Errorf("%s's group key %x, state's %x", m, ks.GroupKey.Bytes(), zk.PublicKey())
		}
		if !bytes.Equal(ks.Public.Bytes(), pkp.VerificationShare(ks.ID).Bytes()) {
			r.t.Errorf("%s's verification share differs from the state's", m)
		}
		for _, e := range r.entries {
			if bytes.Contains(e, ks.Secret.Bytes()) || bytes.Contains(e, []byte(base64.StdEncoding.EncodeToString(ks.Secret.Bytes()))) ||
				bytes.Contains(e, []byte(fmt.Sprintf("%x", ks.Secret.Bytes()))) {
				r.t.Errorf("%s's secret share is in a log entry", m)
			}
		}
	}
	// Any t participants sign; crypto/ed25519 accepts it under the group key.
	msg := []byte("commonroot test message")
	signers := zk.Participants[len(zk.Participants)-t:]
	var nonces []*threshold.SigningNonces
	var commitments []threshold.SigningCommitment
	for _, m := range signers {
		n, err := threshold.Commit(rand.Reader, r.shares[m])
		if err != nil {
			r.t.Fatal(err)
		}
		nonces, commitments = append(nonces, n), append(commitments, n.Commitment())
	}
	var sigShares []threshold.SignatureShare
	for i, m := range signers {
		s, err := threshold.Sign(r.shares[m], nonces[i], msg, commitments)
		if err != nil {
			r.t.Fatal(err)
		}
		sigShares = append(sigShares, s)
	}
	sig, err := threshold.Aggregate(pkp, msg, commitments, sigShares)
	if err != nil {
		r.t.Fatal(err)
	}
	if !ed25519.Verify(zk.PublicKey(), msg, sig) {
		r.t.Fatal("crypto/ed25519 refuses the group's signature")
	}
}

// events returns the names of the ceremony's events logged so far.
func (r *ceremonyRun) events() []string {
	var out []string
	for _, e := range r.entries {
		if ev, err := DecodeEvent(e); err == nil && ev.Ceremony == r.id {
			out = append(out, fmt.Sprintf("%s/%d", ev.Event, ev.Attempt)+map[bool]string{true: ":" + ev.Member}[ev.Member != ""])
		}
	}
	return out
}

func TestKeyGeneration(t *testing.T) {
	for _, th := range []int{2, 3, 4} {
		t.Run(fmt.Sprint(th), func(t *testing.T) {
			r := startCeremony(t, th)
			zk := r.complete()
			r.checkKey(zk, th)
			if got, want := strings.Join(r.events(), " "), "dkg.attempt/1 key.generated/1"; got != want {
				t.Errorf("events %q, want %q", got, want)
			}
			var ev *Event
			for _, e := range r.entries {
				if x, err := DecodeEvent(e); err == nil && x.Event == "key.generated" {
					ev = x
				}
			}
			if ev.GroupKey != zk.GroupKey || !slices.Equal(ev.VerificationShares, zk.VerificationShares) || ev.Threshold != th {
				t.Errorf("key.generated event %+v, zone key %+v", ev, zk)
			}
			// No second key by key.generate (key.roll replaces it).
			r.f.rejected(r.f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "again", Threshold: 2}), "the zone already has a key")
		})
	}
}

// TestDKGBadShareExcluded: a participant whose sealed share to another does
// not open, or opens to a value that does not match its commitment, is
// named by the recipient's complaint, excluded, and the ceremony completes
// among the other three.
func TestDKGBadShareExcluded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper func(r *ceremonyRun, ss []*threshold.SealedShare)
		reason string
	}{
		{"does not open", func(r *ceremonyRun, ss []*threshold.SealedShare) {
			ss[2].Ciphertext[0] ^= 1 // beta (2) to gamma (4)
		}, "does not open"},
		{"wrong value", func(r *ceremonyRun, ss []*threshold.SealedShare) {
			sh, err := r.secrets["beta"].Share(4)
			if err != nil {
				r.t.Fatal(err)
			}
			sh.Value.Add(sh.Value, new(edwards25519.Scalar).Set(sh.Value))
			pkgs := r.packages()
			c := r.cer()
			sealed, err := threshold.SealShare(rand.Reader, c.Params(r.f.c.Origin), sh, pkgs[3].EncryptionKey)
			if err != nil {
				r.t.Fatal(err)
			}
			ss[2] = sealed
		}, "does not match the commitment"},
	} {
		for _, th := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/t=%d", tt.name, th), func(t *testing.T) {
				r := startCeremony(t, th)
				r.commit()
				r.sendShares(func(from string, ss []*threshold.SealedShare) {
					if from == "beta" {
						tt.tamper(r, ss)
					}
				})
				who, comp := r.finish("alpha", "delta", "gamma")
				if who != "gamma" || comp.Sealed.From != 2 {
					t.Fatalf("complaint by %q about %v, want gamma about beta (2)", who, comp)
				}
				out := r.accept(r.dkgTx("gamma", action.RoundComplaint, comp.Encode()))
				c := r.cer()
				if c.Attempt != 2 || strings.Join(c.Participants, " ") != "alpha delta gamma" || c.Round != action.RoundCommit {
					t.Fatalf("after the complaint: %+v", c)
				}
				if len(c.Excluded) != 1 || c.Excluded[0].Member != "beta" || c.Excluded[0].Action != out.Results[0].Index ||
					!strings.Contains(c.Excluded[0].Reason, tt.reason) {
					t.Errorf("excluded %+v, want beta for %q by the complaint at %d", c.Excluded, tt.reason, out.Results[0].Index)
				}
				// beta may no longer act; attempt 1's messages are stale.
				r.f.rejected(r.dkgTx("beta", action.RoundCommit, []byte{1}), `"beta" does not take part in attempt 2`)
				r.f.rejected(r.f.act("alpha", action.KindDKG, &action.DKG{Ceremony: r.id, Attempt: 1, Round: action.RoundConfirm, Data: "AA=="}), "is at attempt 2, not 1")
				zk := r.complete()
				r.checkKey(zk, th)
				if got, want := strings.Join(r.events(), " "), "dkg.attempt/1 dkg.excluded/1:beta dkg.attempt/2 key.generated/2"; got != want {
					t.Errorf("events %q, want %q", got, want)
				}
			})
		}
	}
}

// TestDKGFalseComplaint: a complaint about a good share, or one that
// reveals a key that is not the accuser's, excludes the accuser.
func TestDKGFalseComplaint(t *testing.T) {
	for _, tt := range []struct {
		name   string
		edit   func(c *threshold.Complaint)
		reason string
	}{
		{"good share", func(*threshold.Complaint) {}, "false complaint"},
		{"wrong key", func(c *threshold.Complaint) { c.EncryptionSecret[1] ^= 1 }, "not the published one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := startCeremony(t, 2)
			r.commit()
			r.sendShares(nil)
			c := r.cer()
			var fromAlpha *threshold.SealedShare
			for _, s := range c.SealedTo(c.ParticipantID("gamma")) {
				if s.From == c.ParticipantID("alpha") {
					fromAlpha = s
				}
			}
			comp, err := r.secrets["gamma"].Complain(fromAlpha)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(comp)
			r.accept(r.dkgTx("gamma", action.RoundComplaint, comp.Encode()))
			c = r.cer()
			if c.Attempt != 2 || strings.Join(c.Participants, " ") != "alpha beta delta" || len(c.Excluded) != 1 ||
				c.Excluded[0].Member != "gamma" || !strings.Contains(c.Excluded[0].Reason, tt.reason) {
				t.Fatalf("after a false complaint: %+v", c)
			}
			r.checkKey(r.complete(), 2)
		})
	}
}

// TestDKGSilence: a participant that does not act in a round is excluded
// at the round's deadline and the ceremony restarts, or fails when fewer
// than t would remain.
func TestDKGSilence(t *testing.T) {
	for _, tt := range []struct {
		name      string
		threshold int
		run       func(r *ceremonyRun) // brings the ceremony to the round delta misses
		round     string
		failed    bool
	}{
		{"commit", 3, func(r *ceremonyRun) { r.commit("alpha", "beta", "gamma") }, action.RoundCommit, false},
		{"shares", 3, func(r *ceremonyRun) { r.commit(); r.sendShares(nil, "alpha", "beta", "gamma") }, action.RoundShares, false},
		{"confirm", 2, func(r *ceremonyRun) { r.commit(); r.sendShares(nil); r.finish("alpha", "beta", "gamma") }, action.RoundConfirm, false},
		{"too few left", 4, func(r *ceremonyRun) { r.commit("alpha", "beta", "gamma") }, action.RoundCommit, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := startCeremony(t, tt.threshold)
			tt.run(r)
			c := r.cer()
			if c.Round != tt.round || !c.Owes("delta") || c.Owes("alpha") {
				t.Fatalf("before the deadline: %+v", c)
			}
			// A block just before the deadline changes nothing.
			r.blockAt(c.Deadline.Add(-time.Second))
			if got := r.cer(); got.Attempt != 1 || got.Status != CeremonyOpen {
				t.Fatalf("before the deadline: %+v", got)
			}
			r.blockAt(c.Deadline)
			c = r.cer()
			if len(c.Excluded) != 1 || c.Excluded[0].Member != "delta" || c.Excluded[0].Action != -1 || c.Excluded[0].Round != tt.round ||
				!strings.Contains(c.Excluded[0].Reason, "did not act in the "+tt.round+" round") {
				t.Fatalf("excluded %+v", c.Excluded)
			}
			if tt.failed {
				if c.Status != CeremonyFailed || !strings.Contains(c.Reason, "fewer than the threshold 4") {
					t.Fatalf("ceremony %+v, want failed", c)
				}
				if _, ok := r.f.s.ZoneKey(); ok {
					t.Fatal("a failed ceremony made a zone key")
				}
				if got, want := strings.Join(r.events(), " "), "dkg.attempt/1 dkg.excluded/1:delta key.failed/1"; got != want {
					t.Errorf("events %q, want %q", got, want)
				}
				// A new ceremony may be proposed.
				r.accept(r.f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "again", Threshold: 3}))
				return
			}
			if c.Attempt != 2 || strings.Join(c.Participants, " ") != "alpha beta gamma" {
				t.Fatalf("after the deadline: %+v", c)
			}
			r.checkKey(r.complete(), tt.threshold)
		})
	}
}

// TestDKGRejections: malformed or misplaced dkg actions are rejected with a
// reason and change nothing.
func TestDKGRejections(t *testing.T) {
	r := startCeremony(t, 3)
	f := r.f
	// Each rejection is a block; keep them a second apart so that the
	// round deadlines do not pass.
	rejected := func(tx []byte, want string) {
		t.Helper()
		f.now = f.now.Add(-59 * time.Second)
		f.rejected(tx, want)
	}
	c := r.cer()
	p := c.Params(f.c.Origin)
	_, alphaPkg, err := threshold.DKGRound1(rand.Reader, p, 1)
	if err != nil {
		t.Fatal(err)
	}
	badProof := alphaPkg.Encode()
	badProof[len(badProof)-40] ^= 1 // in the proof's z
	_, otherCtx, _ := threshold.DKGRound1(rand.Reader, threshold.DKGParams{Context: []byte("elsewhere"), Threshold: 3, N: 4}, 1)
	_, t2Pkg, _ := threshold.DKGRound1(rand.Reader, threshold.DKGParams{Context: p.Context, Threshold: 2, N: 4}, 1)
	dkg := func(signer string, cer uint64, attempt int, round string, data []byte) []byte {
		return f.act(signer, action.KindDKG, &action.DKG{Ceremony: cer, Attempt: attempt, Round: round, Data: base64.StdEncoding.EncodeToString(data)})
	}
	lazy := func(signer string, cer uint64, attempt int, round string, data []byte) func() []byte {
		return func() []byte { return dkg(signer, cer, attempt, round, data) }
	}
	edited := func(old, new string) func() []byte {
		return func() []byte {
			return f.edited("alpha", action.KindDKG, &action.DKG{Ceremony: r.id, Attempt: 1, Round: action.RoundCommit, Data: "AAAA"}, old, new)
		}
	}
	for _, tt := range []struct {
		name string
		tx   func() []byte
		want string
	}{
		{"no ceremony", lazy("alpha", 99, 1, action.RoundCommit, alphaPkg.Encode()), "no key-generation ceremony 99"},
		{"wrong attempt", lazy("alpha", r.id, 2, action.RoundCommit, alphaPkg.Encode()), "is at attempt 1, not 2"},
		{"operator", lazy("op1", r.id, 1, action.RoundCommit, alphaPkg.Encode()), `"op1" does not take part`},
		{"wrong round", lazy("alpha", r.id, 1, action.RoundShares, alphaPkg.Encode()), "in its commit round, not shares"},
		{"complaint in commit", lazy("alpha", r.id, 1, action.RoundComplaint, alphaPkg.Encode()), "in its commit round, not complaint"},
		{"another's package", lazy("beta", r.id, 1, action.RoundCommit, alphaPkg.Encode()), "participant 1's package"},
		{"bad proof", lazy("alpha", r.id, 1, action.RoundCommit, badProof), "proof of knowledge does not verify"},
		{"other context", lazy("alpha", r.id, 1, action.RoundCommit, otherCtx.Encode()), "proof of knowledge does not verify"},
		{"wrong threshold", lazy("alpha", r.id, 1, action.RoundCommit, t2Pkg.Encode()), "want t=3"},
		{"garbage", lazy("alpha", r.id, 1, action.RoundCommit, []byte("garbage")), "round-one package"},
		{"bad base64", edited(`"AAAA"`, `"A$A="`), "not non-empty canonical standard base64"},
		{"unknown round", edited(`"commit"`, `"finish"`), `round "finish"`},
		{"attempt 0", edited(`"attempt":1`, `"attempt":0`), "attempt 0"},
	} {
		t.Run(tt.name, func(t *testing.T) { rejected(tt.tx(), tt.want) })
	}
	// Commit everyone; then the shares round's checks.
	r.commit()
	rejected(dkg("alpha", r.id, 1, action.RoundCommit, alphaPkg.Encode()), "in its shares round, not commit")
	ss, err := r.secrets["alpha"].Round2(rand.Reader, r.packages())
	if err != nil {
		t.Fatal(err)
	}
	swapped := []*threshold.SealedShare{ss[1], ss[0], ss[2]}
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"too few", encodeSealed(ss[:2]), "want 252 (3 sealed shares"},
		{"out of order", encodeSealed(swapped), "is from 1 to 3, want from 1 to 2"},
	} {
		t.Run(tt.name, func(t *testing.T) { rejected(dkg("alpha", r.id, 1, action.RoundShares, tt.data), tt.want) })
	}
	t.Run("another's shares", func(t *testing.T) {
		rejected(dkg("beta", r.id, 1, action.RoundShares, encodeSealed(ss)), "is from 1 to 2, want from 2 to 1")
	})
	r.sendShares(nil, "alpha")
	rejected(dkg("alpha", r.id, 1, action.RoundShares, encodeSealed(ss)), `"alpha" already sent its shares`)
	r.sendShares(nil, "beta", "delta", "gamma")
	// Confirm round: a wrong transcript hash; a complaint quoting a share
	// that was not sent.
	rejected(dkg("alpha", r.id, 1, action.RoundConfirm, make([]byte, 32)), "is not the ceremony's")
	c = r.cer()
	forged := *c.SealedTo(1)[0]
	forged.Ciphertext = slices.Clone(forged.Ciphertext)
	forged.Ciphertext[3] ^= 1
	comp, err := r.secrets["alpha"].Complain(&forged)
	if err != nil {
		t.Fatal(err)
	}
	rejected(dkg("alpha", r.id, 1, action.RoundComplaint, comp.Encode()), "did not send")
	rejected(dkg("beta", r.id, 1, action.RoundComplaint, comp.Encode()), "in the name of participant 1")
	if got := r.cer(); got.Attempt != 1 || len(got.Excluded) != 0 {
		t.Fatalf("rejections changed the ceremony: %+v", got)
	}
	// Proposals: thresholds outside 2..members, and a second ceremony.
	rejected(f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "two", Threshold: 2}), "ceremony 1 is under way")
	rejected(f.edited("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "one", Threshold: 2}, `"threshold":2`, `"threshold":1`), "threshold 1 is outside 2..")
}

func TestKeyProposalThreshold(t *testing.T) {
	f := newFed(t)
	f.rejected(f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "five", Threshold: 5}), "threshold 5 is outside 2..4 (the number of members)")
	f.rejected(f.edited("beta", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "none", Threshold: 2}, `,"threshold":2`, ``), "needs threshold")
}

// TestDKGReplicas: a second replica applying the same blocks, and a state
// loaded from the first one's writes, have the same digest, ceremony and
// zone key.
func TestDKGReplicas(t *testing.T) {
	r := startCeremony(t, 3)
	r.commit()
	r.sendShares(func(from string, ss []*threshold.SealedShare) {
		if from == "alpha" {
			ss[0].Ciphertext[5] ^= 0x80
		}
	})
	who, comp := r.finish("beta")
	if who != "beta" {
		t.Fatal("beta did not complain")
	}
	r.accept(r.dkgTx("beta", action.RoundComplaint, comp.Encode()))
	r.blockAt(r.cer().Deadline) // everyone silent in attempt 2: all excluded, failed
	if c := r.cer(); c.Status != CeremonyFailed {
		t.Fatalf("%+v", c)
	}
	r.accept(r.f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "again", Threshold: 3}))
	r.id++
	for _, m := range []string{"alpha", "beta", "gamma"} {
		r.accept(r.f.act(m, action.KindVote, &action.Vote{Proposal: r.id, Vote: action.Yes}))
	}
	r.checkKey(r.complete(), 3)

	replica, err := Genesis(r.f.c)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(1)
	for i, b := range r.blocks {
		out := replica.Apply(int64(i+1), b.at, size, b.txs)
		size += int64(len(out.Entries))
	}
	if replica.Digest() != r.f.s.Digest() {
		t.Fatal("two replicas of the same blocks differ")
	}
	stored := map[string][]byte{}
	fresh, _ := Genesis(r.f.c)
	for _, w := range fresh.TakeWrites() {
		stored[w.Key] = w.Value
	}
	size = 1
	for i, b := range r.blocks {
		out := fresh.Apply(int64(i+1), b.at, size, b.txs)
		size += int64(len(out.Entries))
		for _, w := range fresh.TakeWrites() {
			if w.Value == nil {
				delete(stored, w.Key)
			} else {
				stored[w.Key] = w.Value
			}
		}
	}
	loaded := loadStored(t, stored)
	if loaded.Digest() != r.f.s.Digest() {
		t.Fatal("the loaded state differs")
	}
	a, _ := r.f.s.ZoneKey()
	b, ok := loaded.ZoneKey()
	if !ok || a.GroupKey != b.GroupKey || !slices.Equal(a.VerificationShares, b.VerificationShares) || len(loaded.Ceremonies()) != 2 {
		t.Fatalf("loaded zone key %+v, want %+v", b, a)
	}
}

// FuzzDKGAction applies arbitrary dkg payloads, in any round, by any
// member, to a ceremony in its commit round and to one in its confirm
// round: nothing panics, a rejected action writes nothing but the block's
// meta, and an accepted one leaves a state that loads to the same digest.
func FuzzDKGAction(f *testing.F) {
	members := []string{"alpha", "beta", "delta", "gamma"}
	rounds := []string{action.RoundCommit, action.RoundShares, action.RoundComplaint, action.RoundConfirm}
	type stage struct {
		r      *ceremonyRun
		stored map[string][]byte
	}
	var stages []stage
	snapshot := func(r *ceremonyRun) {
		stored := map[string][]byte{}
		for _, w := range r.f.s.TakeWrites() {
			stored[w.Key] = w.Value
		}
		stages = append(stages, stage{r, stored})
	}
	// Stage 0: the commit round, alpha committed; its package and a
	// second one are seeds.
	r0 := startCeremony(f, 3)
	r0.commit("alpha")
	c0 := r0.cer()
	_, beta, err := threshold.DKGRound1(rand.Reader, c0.Params(r0.f.c.Origin), 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(0), uint8(1), uint8(0), beta.Encode())
	alphaPkg, _ := base64.StdEncoding.DecodeString(c0.Commits[0])
	f.Add(uint8(0), uint8(0), uint8(0), alphaPkg)
	snapshot(r0)
	// Stage 1: the confirm round after beta sent gamma a bad share.
	r1 := startCeremony(f, 3)
	r1.commit()
	r1.sendShares(func(from string, ss []*threshold.SealedShare) {
		if from == "beta" {
			ss[2].Ciphertext[0] ^= 1
		}
	})
	r1.finish("alpha")
	_, comp := r1.finish("gamma")
	c1 := r1.cer()
	h, err := threshold.TranscriptHash(c1.Params(r1.f.c.Origin), r1.packages())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(1), uint8(3), uint8(2), comp.Encode())
	f.Add(uint8(1), uint8(1), uint8(3), h[:])
	f.Add(uint8(1), uint8(2), uint8(1), encodeSealed(c1.SealedFrom(3)))
	snapshot(r1)

	f.Fuzz(func(t *testing.T, st, signer, round uint8, data []byte) {
		if len(data) == 0 {
			return // the action package refuses empty data
		}
		sg := stages[int(st)%len(stages)]
		s := loadStored(t, sg.stored)
		c, _ := s.Ceremony(sg.r.id)
		name := members[int(signer)%len(members)]
		msg, err := action.Sign(action.Action{Origin: s.Constitution().Origin, Signer: name, Seq: s.NextNodeSeq(name),
			Expires: s.Time().Add(time.Hour).Format(time.RFC3339), Kind: action.KindDKG,
			Body: &action.DKG{Ceremony: c.ID, Attempt: c.Attempt, Round: rounds[int(round)%len(rounds)], Data: base64.StdEncoding.EncodeToString(data)}},
			sg.r.f.signers[name])
		if err != nil {
			return // too large for an action
		}
		applyChecked(t, s, sg.stored, msg)
	})
}

// loadStored loads a state from stored keys and values.
// storedForm returns s's persisted keys and values, as a node stores them.
func storedForm(s *State) map[string][]byte {
	s.settle()
	out := map[string][]byte{}
	for k := range s.elems {
		out[k] = s.encode(k)
	}
	return out
}

func loadStored(t testing.TB, stored map[string][]byte) *State {
	t.Helper()
	s, err := Load(func(yield func(string, []byte) error) error {
		for k, v := range stored {
			if err := yield(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// applyChecked applies msg in a block one second after s's last: a
// rejected action must write nothing but the block's meta, and an accepted
// one must leave a state that loads, from stored and the writes, to the
// same digest.
func applyChecked(t *testing.T, s *State, stored map[string][]byte, msg []byte) {
	t.Helper()
	out := s.Apply(s.Height()+1, s.Time().Add(time.Second), 100, [][]byte{msg})
	writes := s.TakeWrites()
	if out.Results[0].Code != OK {
		for _, w := range writes {
			if w.Key != keyMeta {
				t.Fatalf("rejected (%s) but wrote %q", out.Results[0].Reason, w.Key)
			}
		}
		return
	}
	stored = maps.Clone(stored)
	for _, w := range writes {
		if w.Value == nil {
			delete(stored, w.Key)
		} else {
			stored[w.Key] = w.Value
		}
	}
	if loadStored(t, stored).Digest() != s.Digest() {
		t.Fatal("an accepted action left a state that does not load to the same digest")
	}
}
