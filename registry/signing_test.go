package registry

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/threshold"
)

// signingRun is a ceremonyRun whose members then sign through the
// registry as their nodes would: nonces kept here, commitments and shares
// sent as sign actions.
type signingRun struct {
	*ceremonyRun
	zk     ZoneKey
	pkp    *threshold.PublicKeyPackage
	nonces map[string]map[[64]byte]*threshold.SigningNonces
}

func newSigningRun(t testing.TB, tweaks ...func(*constitution.Constitution)) *signingRun {
	r := startCeremony(t, 3, tweaks...)
	zk := r.complete()
	pkp, err := zk.PublicKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	r.f.step = time.Second // within every signing deadline
	return &signingRun{ceremonyRun: r, zk: zk, pkp: pkp, nonces: map[string]map[[64]byte]*threshold.SigningNonces{}}
}

// soon applies a block one second after the last (within every deadline).
func (r *signingRun) soon(txs ...[]byte) *Output { return r.blockAt(r.f.now.Add(time.Second), txs...) }

func (r *signingRun) signTx(m string, b *action.Signing) []byte {
	return r.f.act(m, action.KindSign, b)
}

// fill makes n nonces for member m and returns the action carrying their
// commitments.
func (r *signingRun) fill(m string, n int) []byte {
	return r.signTx(m, &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(r.fillData(m, n))})
}

// fillData makes n nonces for member m and returns their commitments.
func (r *signingRun) fillData(m string, n int) []byte {
	r.t.Helper()
	if r.nonces[m] == nil {
		r.nonces[m] = map[[64]byte]*threshold.SigningNonces{}
	}
	var data []byte
	for range n {
		no, err := threshold.Commit(rand.Reader, r.shares[m])
		if err != nil {
			r.t.Fatal(err)
		}
		c := no.Commitment().Encode()[threshold.IDSize:]
		r.nonces[m][[64]byte(c)] = no
		data = append(data, c...)
	}
	return data
}

// commitments returns message i's commitment list of the open request.
func (r *signingRun) commitments(req SigningRequest, i int) []threshold.SigningCommitment {
	list, err := req.CommitmentList(r.zk, i)
	if err != nil {
		r.t.Fatal(err)
	}
	return list
}

// shares signs msgs as m, the signer of the open request's session, and
// returns its share actions; tamper changes the share of message 0.
func (r *signingRun) shareTxs(m string, msgs [][]byte, tamper bool) [][]byte {
	r.t.Helper()
	req, _ := r.f.s.SigningRequest()
	j := req.SignerIndex(m)
	var data []byte
	for i, msg := range msgs {
		no := r.nonces[m][[64]byte(req.Commitment(j, i))]
		if no == nil {
			r.t.Fatalf("%s has no nonce for commitment %d of the request", m, i)
		}
		sh, err := threshold.Sign(r.shares[m], no, msg, r.commitments(req, i))
		if err != nil {
			r.t.Fatal(err)
		}
		z := sh.Z.Bytes()
		if tamper && i == 0 {
			z[0] ^= 1
		}
		data = append(data, z...)
	}
	var txs [][]byte
	for c := 0; c*action.SharesPerChunk < len(msgs); c++ {
		part := data[c*action.SharesPerChunk*action.ShareSize : min(len(data), (c+1)*action.SharesPerChunk*action.ShareSize)]
		txs = append(txs, r.signTx(m, &action.Signing{Step: action.StepShares, Request: req.ID, Session: req.Session, Chunk: c, Data: base64.StdEncoding.EncodeToString(part)}))
	}
	return txs
}

// aggregate aggregates the open request's shares for msgs as the signing
// step does; it returns the signatures or the culprits.
func (r *signingRun) aggregate(msgs [][]byte) ([]byte, []string) {
	req, _ := r.f.s.SigningRequest()
	var sigs []byte
	for i, msg := range msgs {
		shares, err := req.SignatureShares(r.zk, i)
		if err != nil {
			r.t.Fatal(err)
		}
		sig, err := threshold.Aggregate(r.pkp, msg, r.commitments(req, i), shares)
		if ie, ok := err.(*threshold.InvalidSharesError); ok {
			var names []string
			for _, id := range ie.IDs {
				names = append(names, r.zk.Participants[id-1])
			}
			return nil, names
		}
		if err != nil {
			r.t.Fatal(err)
		}
		sigs = append(sigs, sig...)
	}
	return sigs, nil
}

func messages(n int, tag string) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, fmt.Appendf(nil, "%s message %d", tag, i))
	}
	return out
}

func TestSigningThroughRegistry(t *testing.T) {
	r := newSigningRun(t)
	if got := r.f.s.NextNodeSeq("alpha"); got <= 1 {
		t.Fatalf("alpha's node lane is at %d after a ceremony", got)
	}
	if got := r.f.s.NextSeq("alpha"); got != 3 { // one proposal, one vote
		t.Errorf("alpha's own lane is at %d, want 3: dkg actions must not use it", got)
	}
	// 1,500 messages: two chunks of shares per signer.
	msgs := messages(1500, "rrsets")
	for _, m := range r.zk.Participants {
		for range 3 {
			r.accept(r.fill(m, 500))
		}
	}
	if p, _ := r.f.s.Pool("beta"); p.Len() != 1500 || p.Ceremony != r.zk.Ceremony {
		t.Fatalf("beta's pool holds %d commitments of ceremony %d", p.Len(), p.Ceremony)
	}
	entries := r.f.s.OpenSigning(7, 0, r.f.now.Add(-time.Hour), r.f.now.Add(24*time.Hour), len(msgs))
	req, ok := r.f.s.SigningRequest()
	if !ok || len(req.Signers) != 3 || req.Session != 1 || req.Round != RoundRRsets || req.Chunks() != 2 || len(entries) != 2 {
		t.Fatalf("request %+v, %d entries", req, len(entries))
	}
	// The session's window comes from its block time.
	validity := time.Duration(r.f.s.Constitution().SigningPolicy().Validity)
	checkWindow := func(req SigningRequest) {
		t.Helper()
		now := r.f.s.Time()
		if !req.Inception.Equal(now.Add(-InceptionOffset)) || !req.Expiration.Equal(now.Add(validity)) {
			t.Errorf("session %d at %s signs valid %s – %s, want an hour before the block time to %s after it", req.Session, now, req.Inception, req.Expiration, validity)
		}
	}
	checkWindow(req)
	for _, m := range req.Signers {
		if p, _ := r.f.s.Pool(m); p.Len() != 0 || p.Used != 1500 {
			t.Errorf("%s's pool after the session took its commitments: %d left, %d used", m, p.Len(), p.Used)
		}
	}
	// A second chunk 0, a wrong session, a non-signer are refused.
	first := req.Signers[0]
	txs := r.shareTxs(first, msgs, false)
	r.accept(txs[0])
	if req.Shares[0][0] != nil { // a node's signer reads its copy outside the state's lock
		t.Error("a block wrote a share chunk into a copy of the request taken before it")
	}
	r.f.rejected(txs[0], "") // a replay: its sequence number is spent
	r.soon(txs[1])
	again := r.signTx(first, &action.Signing{Step: action.StepShares, Request: req.ID, Session: req.Session, Chunk: 0, Data: base64.StdEncoding.EncodeToString(make([]byte, 32*action.SharesPerChunk))})
	r.f.rejected(again, "chunk 0 of session 1 of signing request 1 was already received from")
	r.f.rejected(r.signTx(first, &action.Signing{Step: action.StepShares, Request: req.ID, Session: 2, Chunk: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 32))}), "") // wrong length too
	r.f.rejected(r.signTx(first, &action.Signing{Step: action.StepShares, Request: req.ID, Session: 2, Chunk: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 32*500))}), "session 2 of signing request 1 is over (the current one is 1)")
	r.f.rejected(r.signTx(first, &action.Signing{Step: action.StepShares, Request: req.ID, Session: 1, Chunk: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 32*499))}), "chunk 1 of signing request 1 holds 15968 bytes, want 16000")
	r.f.rejected(r.signTx(first, &action.Signing{Step: action.StepShares, Request: req.ID, Session: 1, Chunk: 2, Data: base64.StdEncoding.EncodeToString(make([]byte, 32))}), "chunk 2 of signing request 1: the round has 2")
	var outsider string
	for _, m := range r.zk.Participants {
		if req.SignerIndex(m) < 0 {
			outsider = m
		}
	}
	r.f.rejected(r.signTx(outsider, &action.Signing{Step: action.StepShares, Request: req.ID, Session: 1, Chunk: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 32*500))}), fmt.Sprintf("%q is not a signer of session 1 of signing request 1", outsider))
	// The second signer cheats on message 0; the third is honest.
	r.soon(r.shareTxs(req.Signers[1], msgs, true)...)
	r.soon(r.shareTxs(req.Signers[2], msgs, false)...)
	req, _ = r.f.s.SigningRequest()
	if !req.Complete() {
		t.Fatal("request incomplete after every signer sent every chunk")
	}
	sigs, culprits := r.aggregate(msgs)
	if sigs != nil || !slices.Equal(culprits, []string{req.Signers[1]}) {
		t.Fatalf("aggregate with one bad share blamed %v", culprits)
	}
	cheat := culprits[0]
	// Blamed: a new session without the cheat; the others need new
	// commitments first.
	r.f.s.SigningBlame(culprits, "invalid signature share")
	req, _ = r.f.s.SigningRequest()
	if len(req.Signers) != 0 || req.Session != 1 {
		t.Fatalf("session chosen without enough commitments: %+v", req.Signers)
	}
	var fills [][]byte
	for _, m := range r.zk.Participants {
		for range 3 {
			fills = append(fills, r.fill(m, 500))
		}
	}
	r.soon(fills...)
	req, _ = r.f.s.SigningRequest()
	if req.Session != 2 || len(req.Signers) != 3 || req.SignerIndex(cheat) >= 0 {
		t.Fatalf("session %d signers %v; want 3 without %s", req.Session, req.Signers, cheat)
	}
	checkWindow(req) // later than session 1's: the nonces took time
	var all [][]byte
	for _, m := range req.Signers {
		all = append(all, r.shareTxs(m, msgs, false)...)
	}
	r.soon(all...)
	sigs, culprits = r.aggregate(msgs)
	if culprits != nil {
		t.Fatalf("honest session blamed %v", culprits)
	}
	for i, msg := range msgs {
		if !ed25519.Verify(r.zk.PublicKey(), msg, sigs[i*64:(i+1)*64]) {
			t.Fatalf("signature %d does not verify under the group key", i)
		}
	}
	// The zonemd round keeps the same signers.
	signers := req.Signers
	var more [][]byte
	for _, m := range r.zk.Participants {
		more = append(more, r.fill(m, 5))
	}
	r.soon(more...)
	r.f.s.SigningAggregated(sigs)
	req, _ = r.f.s.SigningRequest()
	if req.Round != RoundZONEMD || req.Count != 1 || !slices.Equal(req.Signers, signers) || !bytes.Equal(r.f.s.RoundSignatures(), sigs) {
		t.Fatalf("zonemd round: %s, count %d, signers %v (want %v)", req.Round, req.Count, req.Signers, signers)
	}
	zm := messages(1, "zonemd")
	var zs [][]byte
	for _, m := range req.Signers {
		zs = append(zs, r.shareTxs(m, zm, false)...)
	}
	r.soon(zs...)
	if _, culprits := r.aggregate(zm); culprits != nil {
		t.Fatal(culprits)
	}
	entries = r.f.s.PublishSigned(SignedVersion{Serial: 7, KeyTag: 1, ZONEMD: "AB", Signatures: 1501, Expires: r.f.now.Add(6 * 24 * time.Hour)})
	if _, open := r.f.s.SigningRequest(); open || len(entries) != 1 || !bytes.Contains(entries[0], []byte(`"event":"zone.signed"`)) {
		t.Fatalf("after publishing: open %v, entries %q", open, entries)
	}
	if v, _ := r.f.s.Signed(); !slices.Equal(v.Signers, signers) || v.Request != 1 {
		t.Errorf("signed version %+v, want request 1 by %v", v, signers)
	}
	// A second request: one signer stays silent past the deadline; it is
	// excluded, marked silent and replaced by the fourth key holder.
	r.f.s.OpenSigning(8, 1, r.f.now.Add(-time.Hour), r.f.now.Add(24*time.Hour), 1)
	req, _ = r.f.s.SigningRequest()
	silent := req.Signers[0]
	for _, m := range req.Signers[1:] {
		r.soon(r.shareTxs(m, zm, false)...)
	}
	out := r.blockAt(r.f.now.Add(time.Minute))
	req, _ = r.f.s.SigningRequest()
	if req.SignerIndex(silent) >= 0 || len(req.Signers) != 3 || req.Session != 2 || !slices.Equal(r.f.s.Silent(), []string{silent}) {
		t.Fatalf("after the deadline: session %d, signers %v, silent %v; want %s out", req.Session, req.Signers, r.f.s.Silent(), silent)
	}
	if !strings.Contains(string(bytes.Join(out.Entries, nil)), `"event":"signing.excluded"`) {
		t.Error("the exclusion is not in the log")
	}
	// The silent member's next sign action clears the mark.
	r.accept(r.fill(silent, 10))
	if len(r.f.s.Silent()) != 0 {
		t.Errorf("silent after sending nonces: %v", r.f.s.Silent())
	}
	zs = nil
	for _, m := range req.Signers {
		zs = append(zs, r.shareTxs(m, zm, false)...)
	}
	r.soon(zs...)
	if _, culprits := r.aggregate(zm); culprits != nil {
		t.Fatal(culprits)
	}
	r.f.s.PublishSigned(SignedVersion{Serial: 8, KeyTag: 1, ZONEMD: "CD", Signatures: 2, Expires: r.f.now.Add(6 * 24 * time.Hour)})
	// Signatures expiring within the refresh time make a new version.
	serial := r.f.s.Serial()
	if out = r.soon(); out.ZoneChanged {
		t.Errorf("a refresh with signatures expiring in 6 days (refresh %s)", time.Duration(r.f.c.SigningPolicy().Refresh))
	}
	if out = r.blockAt(r.f.now.Add(24*time.Hour + time.Second)); !out.ZoneChanged || r.f.s.Serial() != serial+1 {
		t.Errorf("no refresh with signatures expiring in 5 days less a second (refresh %s)", time.Duration(r.f.c.SigningPolicy().Refresh))
	}
	// A replica replaying the same blocks (and the same calls) agrees; a
	// reload of the stored state has the same digest.
	reloaded := reload(t, r.f.s)
	if v, ok := reloaded.Signed(); !ok || v.Serial != 8 || !slices.Equal(v.Signers, req.Signers) {
		t.Errorf("reloaded signed version %+v", v)
	}
}

func TestSigningRejections(t *testing.T) {
	r := newSigningRun(t)
	goodData := r.fillData("alpha", 2)
	small := make([]byte, 64) // the identity point's encoding is 1 then zeros
	small[0] = 1
	copy(small[32:], small[:32])
	lowOrder, _ := base64.StdEncoding.DecodeString("7P///////////////////////////////////////38=") // order 2 point (-1)
	one := r.fillData("beta", 1)
	dup := append(bytes.Clone(one), one...)
	tests := []struct {
		name string
		tx   func() []byte
		want string
	}{
		{"wrong ceremony", func() []byte {
			return r.signTx("alpha", &action.Signing{Step: action.StepNonces, Ceremony: 99, Data: base64.StdEncoding.EncodeToString(r.fillData("alpha", 1))})
		}, "nonce commitments for the key of ceremony 99; the zone key is ceremony"},
		{"identity point", func() []byte {
			return r.signTx("alpha", &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(small)})
		}, "nonce commitment 0: hiding point"},
		{"low-order binding point", func() []byte {
			return r.signTx("alpha", &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(append(r.fillData("alpha", 1)[:32], lowOrder...))})
		}, "nonce commitment 0: binding point"},
		{"commitment twice", func() []byte {
			return r.signTx("beta", &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(dup)})
		}, "nonce commitment 1 ("},
		{"shares without a request", func() []byte {
			return r.signTx("alpha", &action.Signing{Step: action.StepShares, Request: 1, Session: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 32))})
		}, "no signing request 1 is open"},
		{"not a key holder", func() []byte {
			return r.f.act("op1", action.KindSign, &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(r.fillData("alpha", 1))})
		}, `"op1" holds no share of the zone key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.f.t = t
			r.f.rejected(tt.tx(), tt.want)
		})
	}
	r.f.t = t
	r.accept(r.signTx("alpha", &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(goodData)}))
	// The commitments already in the pool cannot come again.
	again := r.signTx("alpha", &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(goodData)})
	r.f.rejected(again, "is already in the pool: a nonce is used once")
}

// FuzzSignAction applies arbitrary sign payloads (nonces or share chunks),
// by any member, to a state with filled pools and an open request: nothing
// panics, a rejected action writes nothing but the block's meta, and an
// accepted one leaves a state that loads to the same digest.
func FuzzSignAction(f *testing.F) {
	r := newSigningRun(f)
	for _, m := range r.zk.Participants {
		r.accept(r.fill(m, 20))
	}
	r.f.s.OpenSigning(7, 0, r.f.now.Add(-time.Hour), r.f.now.Add(24*time.Hour), 3)
	req, _ := r.f.s.SigningRequest()
	stored := storedForm(r.f.s)
	members := r.zk.Participants
	f.Add(uint8(0), false, uint8(0), r.fillData(members[0], 2))
	f.Add(uint8(1), true, uint8(0), make([]byte, 3*action.ShareSize))
	f.Add(uint8(2), true, uint8(1), make([]byte, action.ShareSize))
	f.Fuzz(func(t *testing.T, signer uint8, shares bool, chunk uint8, data []byte) {
		if len(data) == 0 {
			return
		}
		s := loadStored(t, stored)
		name := members[int(signer)%len(members)]
		b := &action.Signing{Step: action.StepNonces, Ceremony: r.zk.Ceremony, Data: base64.StdEncoding.EncodeToString(data)}
		if shares {
			b = &action.Signing{Step: action.StepShares, Request: req.ID, Session: req.Session, Chunk: int(chunk % 4), Data: b.Data}
		}
		msg, err := action.Sign(action.Action{Origin: s.Constitution().Origin, Signer: name, Seq: s.NextNodeSeq(name),
			Expires: s.Time().Add(time.Hour).Format(time.RFC3339), Kind: action.KindSign, Body: b}, r.f.signers[name])
		if err != nil {
			return // not a valid sign body, or too large
		}
		applyChecked(t, s, stored, msg)
	})
}

// reload rebuilds s from its stored form and checks that the copy has the
// same digest.
func reload(t testing.TB, s *State) *State {
	t.Helper()
	reloaded, err := Load(func(yield func(string, []byte) error) error {
		for k, v := range storedForm(s) {
			if err := yield(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.Digest() != s.Digest() {
		t.Error("reloaded state has another digest")
	}
	return reloaded
}

// TestSigningInBatches: with a signing batch of 500, a request of 1,200
// messages is signed in sessions of 500, 500 and 200, one after another,
// each needing only its own batch of commitments in the pools; the
// batches' signatures are kept, and survive a reload, until the version
// is published; every batch signs with the first batch's window.
func TestSigningInBatches(t *testing.T) {
	r := newSigningRun(t, func(c *constitution.Constitution) {
		sp := constitution.DefaultSigning
		sp.Batch = 500
		c.Signing = &sp
	})
	fillAll := func() {
		var txs [][]byte
		for _, m := range r.zk.Participants {
			txs = append(txs, r.fill(m, 500))
		}
		r.soon(txs...)
	}
	msgs := messages(1200, "rrsets")
	fillAll()
	r.f.s.OpenSigning(9, 0, r.f.now.Add(-time.Hour), r.f.now.Add(24*time.Hour), len(msgs))
	first, _ := r.f.s.SigningRequest()
	var all []byte
	for b, want := range []struct{ done, count int }{{0, 500}, {500, 500}, {1000, 200}} {
		req, _ := r.f.s.SigningRequest()
		if req.Round != RoundRRsets || req.RRsets != 1200 || req.Done != want.done || req.Count != want.count || len(req.Signers) != 3 {
			t.Fatalf("batch %d: round %s, %d of %d from %d, signers %v; want %d from %d", b, req.Round, req.Count, req.RRsets, req.Done, req.Signers, want.count, want.done)
		}
		if !req.Inception.Equal(first.Inception) || !req.Expiration.Equal(first.Expiration) {
			t.Errorf("batch %d signs valid %s – %s, the first %s – %s", b, req.Inception, req.Expiration, first.Inception, first.Expiration)
		}
		batch := msgs[want.done : want.done+want.count]
		var txs [][]byte
		for _, m := range req.Signers {
			txs = append(txs, r.shareTxs(m, batch, false)...)
		}
		r.soon(txs...)
		fillAll() // the next batch's commitments, a block later
		sigs, culprits := r.aggregate(batch)
		if culprits != nil {
			t.Fatalf("batch %d: culprits %v", b, culprits)
		}
		all = append(all, sigs...)
		entries := r.f.s.SigningAggregated(sigs)
		if got := r.f.s.RoundSignatures(); !bytes.Equal(got, all) {
			t.Fatalf("after batch %d: %d bytes of round signatures, want %d", b, len(got), len(all))
		}
		e, err := DecodeEvent(entries[len(entries)-1])
		if err != nil || e.Event != "signing.session" {
			t.Fatalf("after batch %d: last entry %q (%v)", b, entries[len(entries)-1], err)
		}
		if b < 2 && (e.Round != RoundRRsets || e.First != want.done+want.count || e.Total != 1200) {
			t.Errorf("after batch %d: session event %+v, want the rrsets batch from %d of 1200", b, e, want.done+want.count)
		}
		if b == 2 && (e.Round != RoundZONEMD || e.First != 0 || e.Total != 1 || e.Count != 1) {
			t.Errorf("after the last batch: session event %+v, want the zonemd round", e)
		}
		if got := reload(t, r.f.s).RoundSignatures(); !bytes.Equal(got, all) {
			t.Fatalf("after batch %d: the reloaded state has %d bytes of round signatures, want %d", b, len(got), len(all))
		}
	}
	for i, msg := range msgs {
		if !ed25519.Verify(r.zk.PublicKey(), msg, all[i*64:(i+1)*64]) {
			t.Fatalf("signature %d does not verify under the group key", i)
		}
	}
	r.f.s.PublishSigned(SignedVersion{Serial: 9, KeyTag: 1, ZONEMD: "EF", Signatures: 1201, Expires: r.f.now.Add(6 * 24 * time.Hour)})
	if n := len(r.f.s.RoundSignatures()); n != 0 {
		t.Errorf("%d bytes of round signatures kept after publishing", n)
	}
	for k := range storedForm(r.f.s) {
		if strings.HasPrefix(k, prefixSigs) {
			t.Errorf("state key %q kept after publishing", k)
		}
	}
}

// BenchmarkFillPool measures a block that fills a key holder's nonce pool
// from empty: thirteen sign actions of action.MaxNonces commitments each
// (7,800), applied, digested and written as a node does; "unseen" when the
// node meets the actions in the block, "checked" when its mempool checked
// them before (their points are not checked again).
func BenchmarkFillPool(b *testing.B) {
	r := newSigningRun(b)
	stored := storedForm(r.f.s)
	m := r.zk.Participants[0]
	var txs [][]byte
	for range 13 {
		txs = append(txs, r.fill(m, action.MaxNonces))
	}
	for _, checked := range []bool{false, true} {
		name := "unseen"
		if checked {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := loadStored(b, stored)
				if checked {
					for _, tx := range txs {
						if _, err := s.Check(tx); err != nil && !strings.Contains(err.Error(), "sequence") {
							b.Fatal(err)
						}
					}
				}
				b.StartTimer()
				out := s.Apply(s.Height()+1, s.Time().Add(time.Second), 100, txs)
				for _, res := range out.Results {
					if res.Code != OK {
						b.Fatal(res.Reason)
					}
				}
				s.Digest()
				s.TakeWrites()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/block")
		})
	}
}
