package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
)

// fed is a test federation: four members (alpha owns aa., beta owns bb.),
// a shared TLD shared. run by operator op1 whose host ns1.shared. is also a
// name server of uses., a shared TLD run by op2.
type fed struct {
	t       testing.TB
	c       *constitution.Constitution
	s       *State
	signers map[string]note.Signer
	vkeys   map[string]string
	seq     map[string]uint64
	height  int64
	now     time.Time
	logSize int64
	step    time.Duration // between blocks; 0 means a minute
}

var genesisTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// newFed founds a test federation; tweaks change its constitution first.
func newFed(t testing.TB, tweaks ...func(*constitution.Constitution)) *fed {
	t.Helper()
	f := &fed{t: t, signers: map[string]note.Signer{}, vkeys: map[string]string{}, seq: map[string]uint64{}, now: genesisTime}
	var members []constitution.Member
	for _, name := range []string{"alpha", "beta", "gamma", "delta"} {
		f.key(name)
		members = append(members, constitution.Member{Name: name, Key: f.vkeys[name], Validator: newValidator(t)})
	}
	f.key("op1")
	f.key("op2")
	c := constitution.Default("example.org/test", ".", genesisTime, members,
		[]constitution.Host{{Name: "a.root.fed.", Addrs: []string{"192.0.2.53"}}, {Name: "b.root.fed.", Addrs: []string{"2001:db8::53"}}})
	r := c.Rules[constitution.RestrictionImpose]
	r.MaxDuration = constitution.Duration(30 * 24 * time.Hour)
	c.Rules[constitution.RestrictionImpose] = r
	c.TLDs = []constitution.TLD{
		{Name: "aa.", Owner: "alpha", NS: []string{"ns1.aa.", "ns2.aa."}, Glue: []constitution.Host{{Name: "ns1.aa.", Addrs: []string{"192.0.2.1"}}, {Name: "ns2.aa.", Addrs: []string{"192.0.2.2"}}}},
		{Name: "bb.", Owner: "beta", NS: []string{"ns1.aa.", "ns2.aa."}},
		{Name: "shared.", Operator: f.vkeys["op1"], NS: []string{"ns1.shared.", "ns2.shared."}, Glue: []constitution.Host{{Name: "ns1.shared.", Addrs: []string{"198.51.100.1"}}, {Name: "ns2.shared.", Addrs: []string{"198.51.100.2", "2001:db8::2"}}}},
		{Name: "uses.", Operator: f.vkeys["op2"], NS: []string{"ns1.shared.", "ns2.shared."}},
	}
	for _, tw := range tweaks {
		tw(c)
	}
	doc, err := constitution.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	f.c, err = constitution.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	f.s, err = Genesis(f.c)
	if err != nil {
		t.Fatal(err)
	}
	f.logSize = 1
	return f
}

func newValidator(t testing.TB) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub)
}

func (f *fed) key(name string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		f.t.Fatal(err)
	}
	f.signers[name], f.vkeys[name] = s, vkey
}

// act signs an action of signer with the next sequence number.
func (f *fed) act(signer, kind string, body any) []byte {
	l := lane(signer, kind)
	f.seq[l]++
	return f.actSeq(signer, f.seq[l], kind, body)
}

// lane is the key of signer's sequence lane for an action of kind.
func lane(signer, kind string) string {
	if kind == action.KindDKG || kind == action.KindSign {
		return signer + nodeLane
	}
	return signer
}

func (f *fed) actSeq(signer string, seq uint64, kind string, body any) []byte {
	f.t.Helper()
	msg, err := action.Sign(action.Action{Origin: f.c.Origin, Signer: signer, Seq: seq,
		Expires: f.now.Add(time.Hour).Format(time.RFC3339), Kind: kind, Body: body}, f.signers[signer])
	if err != nil {
		f.t.Fatal(err)
	}
	return msg
}

// edited signs, as signer, the text of an action with old replaced by new:
// for actions the action package would refuse to sign.
func (f *fed) edited(signer, kind string, body any, old, new string) []byte {
	f.t.Helper()
	text, err := action.Encode(action.Action{Origin: f.c.Origin, Signer: signer, Seq: f.seq[lane(signer, kind)] + 1,
		Expires: f.now.Add(time.Hour).Format(time.RFC3339), Kind: kind, Body: body})
	if err != nil {
		f.t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: strings.Replace(string(text), old, new, 1)}, f.signers[signer])
	if err != nil {
		f.t.Fatal(err)
	}
	return msg
}

// block applies txs in a block one minute (or f.step) after the previous one.
func (f *fed) block(txs ...[]byte) *Output {
	step := f.step
	if step == 0 {
		step = time.Minute
	}
	return f.blockAt(f.now.Add(step), txs...)
}

func (f *fed) blockAt(at time.Time, txs ...[]byte) *Output {
	f.height++
	f.now = at
	out := f.s.Apply(f.height, at, f.logSize, txs)
	f.logSize += int64(len(out.Entries))
	return out
}

// accepted applies one tx and fails the test unless it is accepted.
func (f *fed) accepted(tx []byte) (*Output, Result) {
	f.t.Helper()
	out := f.block(tx)
	if r := out.Results[0]; r.Code != OK {
		f.t.Fatalf("rejected: %s", r.Reason)
	}
	return out, out.Results[0]
}

// rejected applies one tx and fails the test unless it is rejected with a
// reason containing want; it also checks that the state did not change.
func (f *fed) rejected(tx []byte, want string) {
	f.t.Helper()
	before := f.s.Digest()
	beforeNext := f.s.meta.NextProposal
	ph, pt := f.s.meta.Height, f.s.meta.Time
	if a, err := action.Decode(tx); err == nil && a.Seq == f.seq[lane(a.Signer, a.Kind)] && a.Seq == f.s.nextSeq(a) {
		f.seq[lane(a.Signer, a.Kind)]-- // a rejected action does not use up its sequence number
	}
	out := f.block(tx)
	r := out.Results[0]
	if r.Code == OK {
		f.t.Fatalf("accepted; want rejection %q", want)
	}
	if !strings.Contains(r.Reason, want) {
		f.t.Errorf("reason = %q\nwant it to contain %q", r.Reason, want)
	}
	if len(out.Entries) != 0 || out.ZoneChanged || f.s.meta.NextProposal != beforeNext {
		f.t.Errorf("a rejected action changed something: %d entries, zone changed %v", len(out.Entries), out.ZoneChanged)
	}
	// Only the block's height and time may differ: compare everything else.
	f.s.meta.Height, f.s.meta.Time = ph, pt
	f.s.touch(keyMeta)
	if f.s.Digest() != before {
		f.t.Errorf("a rejected action changed the state")
	}
	f.s.meta.Height, f.s.meta.Time = f.height, f.now
	f.s.touch(keyMeta)
}

func (f *fed) propose(signer string, p *action.Propose) uint64 {
	f.t.Helper()
	_, r := f.accepted(f.act(signer, action.KindPropose, p))
	return r.Proposal
}

func (f *fed) vote(signer string, id uint64, v string) *Output {
	f.t.Helper()
	out, _ := f.accepted(f.act(signer, action.KindVote, &action.Vote{Proposal: id, Vote: v, Rationale: fmt.Sprintf("%s says %s", signer, v)}))
	return out
}
