package portal_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/net/html"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/portal"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/threshold"
)

// keyFed is a four-member federation on a real registry.State whose
// blocks are applied by the test, and the log of their entries.
type keyFed struct {
	t       *testing.T
	b       fakeBackend
	signers map[string]note.Signer
	seq     map[string]uint64
	now     time.Time
}

func newKeyFed(t *testing.T) *keyFed {
	genesis := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	f := &keyFed{t: t, signers: map[string]note.Signer{}, seq: map[string]uint64{}, now: genesis}
	var ms []constitution.Member
	for _, name := range []string{"alpha", "bravo", "charlie", "delta"} {
		k, err := setup.NewKey(name)
		if err != nil {
			t.Fatal(err)
		}
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		f.signers[name] = k.Signer
		ms = append(ms, constitution.Member{Name: name, Key: k.Verifier, Validator: base64.StdEncoding.EncodeToString(pub)})
	}
	c := constitution.Default("keys.example/fed", ".", genesis, ms,
		[]constitution.Host{{Name: "a.ns.example.", Addrs: []string{"192.0.2.1"}}, {Name: "b.ns.example.", Addrs: []string{"192.0.2.2"}}})
	st, err := registry.Genesis(c)
	if err != nil {
		t.Fatal(err)
	}
	f.b = fakeBackend{st: st, log: &memLog{}}
	f.b.log.append(st.GenesisEntry())
	return f
}

// block applies one block of actions; every one must be accepted.
func (f *keyFed) block(txs ...[]byte) {
	f.t.Helper()
	f.now = f.now.Add(time.Minute)
	out := f.b.st.Apply(f.b.st.Height()+1, f.now, f.b.log.Size(), txs)
	for i, r := range out.Results {
		if r.Code != registry.OK {
			f.t.Fatalf("action %d of the block: %s", i, r.Reason)
		}
	}
	for _, e := range out.Entries {
		f.b.log.append(e)
	}
}

// act signs an action; dkg actions count in the node's sequence lane.
func (f *keyFed) act(signer, kind string, body any) []byte {
	f.t.Helper()
	lane := signer
	if kind == action.KindDKG {
		lane += "#node"
	}
	f.seq[lane]++
	msg, err := action.Sign(action.Action{Origin: f.b.st.Constitution().Origin, Signer: signer, Seq: f.seq[lane],
		Expires: f.now.Add(time.Hour).Format(time.RFC3339), Kind: kind, Body: body}, f.signers[signer])
	if err != nil {
		f.t.Fatal(err)
	}
	return msg
}

func (f *keyFed) dkg(signer string, c registry.Ceremony, round string, data []byte) []byte {
	return f.act(signer, action.KindDKG, &action.DKG{Ceremony: c.ID, Attempt: c.Attempt, Round: round, Data: base64.StdEncoding.EncodeToString(data)})
}

// findEntry returns the index of the first log entry containing s.
func (f *keyFed) findEntry(s string) int64 {
	f.t.Helper()
	for i, e := range f.b.log.entries {
		if bytes.Contains(e, []byte(s)) {
			return int64(i)
		}
	}
	f.t.Fatalf("no log entry contains %q", s)
	return -1
}

// TestKeyCeremonyPages runs a whole key ceremony (a key.generate proposal
// with threshold 3, voted; the four nodes' commit, shares and confirm
// steps made with package threshold) and checks that the portal summarises
// each step for a reader, names the zone key on the proposal, and shows
// it on the overview with the figures of GET /v1/keys.
func TestKeyCeremonyPages(t *testing.T) {
	f := newKeyFed(t)
	h := portal.New(f.b, portal.Options{})
	members := []string{"alpha", "bravo", "charlie", "delta"}

	code, page := serve(t, h, "/ui/")
	if code != 200 || !bytes.Contains(page, []byte("No key ceremony has made a zone key yet")) {
		t.Fatalf("overview before any ceremony: %d, no word of the missing key", code)
	}

	f.block(f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "sign the zone", Threshold: 3}))
	var votes [][]byte
	for _, m := range members {
		votes = append(votes, f.act(m, action.KindVote, &action.Vote{Proposal: 1, Vote: action.Yes}))
	}
	f.block(votes...)
	c, ok := f.b.st.Ceremony(1)
	if !ok || c.Status != registry.CeremonyOpen {
		t.Fatalf("no open ceremony after key.generate passed: %+v", c)
	}
	code, page = serve(t, h, "/ui/")
	if code != 200 || !bytes.Contains(page, []byte("Key ceremony <a href=\"/ui/proposals/1\">1</a> is open: attempt 1, commit step, threshold 3 of 4; waiting for alpha, bravo, charlie, delta.")) {
		t.Errorf("overview during the ceremony: %d, no open ceremony line\n%s", code, page)
	}

	// The ceremony, as the nodes run it.
	p := c.Params(f.b.st.Constitution().Origin)
	secrets := map[string]*threshold.DKGSecret{}
	var commits [][]byte
	for i, m := range c.Participants {
		sec, pkg, err := threshold.DKGRound1(rand.Reader, p, uint16(i+1))
		if err != nil {
			t.Fatal(err)
		}
		secrets[m] = sec
		commits = append(commits, f.dkg(m, c, action.RoundCommit, pkg.Encode()))
	}
	f.block(commits...)
	c, _ = f.b.st.Ceremony(1)
	pkgs, err := c.Packages()
	if err != nil {
		t.Fatal(err)
	}
	var shares [][]byte
	for _, m := range c.Participants {
		sealed, err := secrets[m].Round2(rand.Reader, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		for _, s := range sealed {
			data = append(data, s.Encode()...)
		}
		shares = append(shares, f.dkg(m, c, action.RoundShares, data))
	}
	f.block(shares...)
	// A complaint by charlie about bravo's share, put in the log without
	// a block (its page is what is checked, not its judgment).
	c, _ = f.b.st.Ceremony(1)
	var fromBravo *threshold.SealedShare
	for _, sh := range c.SealedTo(3) {
		if sh.From == 2 {
			fromBravo = sh
		}
	}
	comp, err := secrets["charlie"].Complain(fromBravo)
	if err != nil {
		t.Fatal(err)
	}
	complaint := f.b.log.Size()
	f.b.log.append(f.dkg("charlie", c, action.RoundComplaint, comp.Encode()))
	f.seq["charlie#node"]--
	transcript, err := threshold.TranscriptHash(p, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	var confirms [][]byte
	for _, m := range c.Participants {
		confirms = append(confirms, f.dkg(m, c, action.RoundConfirm, transcript[:]))
	}
	f.block(confirms...)
	zk, ok := f.b.st.ZoneKey()
	if !ok {
		t.Fatal("no zone key after every participant confirmed")
	}

	commit := f.findEntry(`"round":"commit"`)
	sharesEntry := f.findEntry(`"round":"shares"`)
	confirm := f.findEntry(`"round":"confirm"`)
	generated := f.findEntry(`"event":"key.generated"`)
	tests := []struct {
		path string
		want []string
	}{
		{fmt.Sprintf("/ui/log/%d", commit), []string{
			"alpha: commit step of key ceremony 1, attempt 1",
			`<dt>Ceremony</dt><dd><a href="/ui/proposals/1">key ceremony 1 (made by proposal 1)</a>`,
			"<dt>Attempt</dt><dd>1</dd>",
			"<dt>Step</dt><dd>commit: publishes a commitment",
			"alpha, participant 1",
			"round-one package of participant 1 (alpha): 3 coefficient commitments (threshold 3)",
			hex.EncodeToString(pkgs[0].EncryptionKey[:]),
		}},
		{fmt.Sprintf("/ui/log/%d", sharesEntry), []string{
			"alpha: shares step of key ceremony 1, attempt 1",
			"<dt>Sealed shares</dt><dd>3, to participant 2 (bravo), participant 3 (charlie), participant 4 (delta)</dd>",
		}},
		{fmt.Sprintf("/ui/log/%d", complaint), []string{
			"charlie: complaint step of key ceremony 1, attempt 1",
			"<dt>Accuses</dt><dd>participant 2 (bravo) of a bad share sent to participant 3 (charlie)",
		}},
		{fmt.Sprintf("/ui/log/%d", confirm), []string{
			"<dt>Step</dt><dd>confirm:",
			hex.EncodeToString(transcript[:]),
		}},
		{fmt.Sprintf("/ui/log/%d", generated), []string{
			"Key ceremony 1 made the zone key: threshold 3 of 4 (alpha, bravo, charlie, delta)",
			`<a href="/ui/proposals/1">proposal 1</a>`,
		}},
		{"/ui/log/1", []string{"alpha proposed key.generate of the zone key (threshold 3)", "<dt>Threshold</dt><dd>3 of the participants must cooperate to sign</dd>"}},
		{"/ui/proposals/1", []string{
			"Proposal 1: <code>key.generate</code> of the zone key",
			"<h2>The zone key</h2>",
			"<dt>Threshold</dt><dd>3 of the participants must cooperate to sign</dd>",
			"<dt>Members now</dt><dd>4: alpha, bravo, charlie, delta</dd>",
			"<dt>Ceremony</dt><dd>done, attempt 1</dd>",
			"<dt>Participants</dt><dd>alpha, bravo, charlie, delta</dd>",
			zk.GroupKey,
		}},
		{"/ui/proposals", []string{"the zone key"}},
		{"/ui/", []string{
			`<h2 id="zonekey-h">Zone key</h2>`,
			"<dt>Threshold</dt><dd>3 of 4</dd>",
			zk.GroupKey,
			`<a href="/ui/members/charlie">charlie</a> (3)`,
			`made by <a href="/ui/proposals/1">key ceremony 1</a>`,
		}},
	}
	for _, tt := range tests {
		code, page := serve(t, h, tt.path)
		if code != 200 {
			t.Fatalf("GET %s: %d\n%s", tt.path, code, page)
		}
		if err := checkHTML(page); err != nil {
			t.Errorf("GET %s: %v", tt.path, err)
		}
		text := html.UnescapeString(string(page))
		for _, w := range tt.want {
			if !strings.Contains(text, w) {
				t.Errorf("GET %s: no %q in the page", tt.path, w)
			}
		}
	}
	// The overview shows /v1/keys's figures: the key tag and DS of the
	// group key.
	keys, err := api.Keys(f.b.st)
	info := keys.ZoneKey
	if err != nil || info == nil {
		t.Fatalf("api.Keys: %+v, %v", info, err)
	}
	_, page = serve(t, h, "/ui/")
	text := html.UnescapeString(string(page))
	for _, w := range []string{fmt.Sprintf("<dt>Key tag</dt><dd>%d ", info.KeyTag), info.DS} {
		if !strings.Contains(text, w) {
			t.Errorf("overview: no %q", w)
		}
	}
}

// TestSignActionEntry: a node's sign action (here its nonce commitments)
// is summarised in words, and its page shows it decoded.
func TestSignActionEntry(t *testing.T) {
	f := newKeyFed(t)
	msg := f.act("alpha", action.KindSign, &action.Signing{Step: "nonces", Ceremony: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 64))})
	f.b.log.append(msg)
	h := portal.New(f.b, portal.Options{})
	code, page := serve(t, h, "/ui/log/1")
	if code != 200 {
		t.Fatalf("GET /ui/log/1: %d\n%s", code, page)
	}
	if err := checkHTML(page); err != nil {
		t.Error(err)
	}
	for _, w := range []string{"alpha's node: nonce commitments for the key of ceremony 1", `"kind": "sign"`} {
		if !strings.Contains(html.UnescapeString(string(page)), w) {
			t.Errorf("no %q in the page", w)
		}
	}
}

// TestDirectoryFollowsProposals: the directory lists a TLD once its
// tld.create passes, and not before (the portal reads the names through
// the API's index, which patches itself at passed proposals).
func TestDirectoryFollowsProposals(t *testing.T) {
	f := newKeyFed(t)
	h := portal.New(f.b, portal.Options{})
	op, err := setup.NewKey("op-new")
	if err != nil {
		t.Fatal(err)
	}
	f.block(f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.TLDCreate, Rationale: "a new TLD", TLD: "newtld.", Operator: op.Verifier}))
	for _, want := range []struct {
		votes []string
		in    bool
	}{{nil, false}, {[]string{"alpha", "bravo", "charlie"}, true}} {
		var votes [][]byte
		for _, m := range want.votes {
			votes = append(votes, f.act(m, action.KindVote, &action.Vote{Proposal: 1, Vote: action.Yes}))
		}
		if len(votes) > 0 {
			f.block(votes...)
		}
		_, page := serve(t, h, "/ui/tlds")
		if got := bytes.Contains(page, []byte(`href="/ui/tlds/newtld."`)); got != want.in {
			t.Errorf("after votes %v: newtld. listed %v, want %v", want.votes, got, want.in)
		}
		code, _ := serve(t, h, "/ui/tlds/newtld.")
		if (code == 200) != want.in {
			t.Errorf("after votes %v: /ui/tlds/newtld. answers %d", want.votes, code)
		}
	}
}
