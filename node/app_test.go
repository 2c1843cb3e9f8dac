package node

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"go.etcd.io/bbolt"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/devzone"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
)

// newFederation writes a 4-member federation importing the real root zone.
func newFederation(t *testing.T) (*constitution.Constitution, string) {
	t.Helper()
	dir := t.TempDir()
	c, err := setup.Create(setup.Options{Dir: dir, Origin: "example.org/test", Apex: ".", Members: []string{"alpha", "bravo", "charlie", "delta"},
		Genesis: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Import: devzone.Root, Owned: map[string][]string{"alpha": {"de."}}})
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

func openApp(t *testing.T, path string, c *constitution.Constitution) *App {
	t.Helper()
	a, err := OpenApp(path, c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// block runs one block through an app as CometBFT would and returns its app hash.
func block(t *testing.T, a *App, height int64, at time.Time, txs [][]byte) []byte {
	t.Helper()
	ctx := context.Background()
	resp, err := a.FinalizeBlock(ctx, &abci.RequestFinalizeBlock{Height: height, Time: at, Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TxResults) != len(txs) {
		t.Fatalf("%d results for %d txs", len(resp.TxResults), len(txs))
	}
	if _, err := a.Commit(ctx, &abci.RequestCommit{}); err != nil {
		t.Fatal(err)
	}
	return resp.AppHash
}

func zoneText(t *testing.T, a *App) string {
	z, _ := a.Zone()
	var b bytes.Buffer
	if _, err := z.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestDeterminism feeds the same blocks to two independent apps, one of
// which is closed and reopened half way, and compares app hash, log root
// and zone bytes after every block.
func TestDeterminism(t *testing.T) {
	c, dir := newFederation(t)
	pathA, pathB := filepath.Join(t.TempDir(), "a.db"), filepath.Join(t.TempDir(), "b.db")
	a, b := openApp(t, pathA, c), openApp(t, pathB, c)
	defer func() { a.Close(); b.Close() }()
	for _, app := range []*App{a, b} {
		if _, err := app.InitChain(context.Background(), &abci.RequestInitChain{AppStateBytes: c.Bytes}); err != nil {
			t.Fatal(err)
		}
	}
	op, err := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	if err != nil {
		t.Fatal(err)
	}
	alpha, _ := setup.LoadKey(setup.MemberKeyPath(dir, "alpha"))
	sign := func(k *setup.Key, seq uint64, kind string, body any) []byte {
		msg, err := action.Sign(action.Action{Origin: c.Origin, Signer: k.Signer.Name(), Seq: seq, Expires: "2026-11-02T00:00:00Z", Kind: kind, Body: body}, k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	blocks := [][][]byte{
		{sign(op, 1, action.KindDelegate, &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."}})},
		{sign(alpha, 1, action.KindDelegate, &action.Delegate{TLD: "de.", NS: []string{"a.nic.de.", "f.nic.de."}}), []byte("not an action")},
		nil,
		{sign(alpha, 2, action.KindPropose, &action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "r", TLD: "com.", LegalBasis: "b", Evidence: strings.Repeat("ab", 32), Duration: "1h"})},
		{sign(op, 1, action.KindDelegate, &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net."}})}, // a replay
	}
	genesis := c.GenesisTime
	for i, txs := range blocks {
		h := int64(i + 1)
		at := genesis.Add(time.Duration(h) * time.Minute)
		ha, hb := block(t, a, h, at, txs), block(t, b, h, at, txs)
		if !bytes.Equal(ha, hb) {
			t.Fatalf("block %d: app hashes differ: %X vs %X", h, ha, hb)
		}
		ra, _ := a.Log().Root()
		rb, _ := b.Log().Root()
		if ra != rb || a.Log().Size() != b.Log().Size() {
			t.Fatalf("block %d: logs differ", h)
		}
		if zoneText(t, a) != zoneText(t, b) {
			t.Fatalf("block %d: zones differ", h)
		}
		if h == 2 { // restart b from its store
			b.Close()
			b = openApp(t, pathB, c)
			info, _ := b.Info(context.Background(), &abci.RequestInfo{})
			if info.LastBlockHeight != 2 || !bytes.Equal(info.LastBlockAppHash, ha) {
				t.Fatalf("after reopening: height %d app hash %X, want 2 %X", info.LastBlockHeight, info.LastBlockAppHash, ha)
			}
		}
	}
	if a.Log().Size() < 6 {
		t.Errorf("log size %d: want genesis, zone versions, actions", a.Log().Size())
	}
	if z, _ := a.Zone(); z.Serial() != 3 {
		t.Errorf("zone serial %d after two delegation changes, want 3", z.Serial())
	}
}

// TestTamperedStoreRefused edits a delegation in a node's store on disk:
// the node refuses to start instead of serving it.
func TestTamperedStoreRefused(t *testing.T) {
	c, dir := newFederation(t)
	path := filepath.Join(t.TempDir(), "a.db")
	a := openApp(t, path, c)
	if _, err := a.InitChain(context.Background(), &abci.RequestInitChain{AppStateBytes: c.Bytes}); err != nil {
		t.Fatal(err)
	}
	op, _ := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	msg, _ := action.Sign(action.Action{Origin: c.Origin, Signer: op.Signer.Name(), Seq: 1, Expires: "2026-11-02T00:00:00Z", Kind: action.KindDelegate,
		Body: &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."}}}, op.Signer)
	block(t, a, 1, c.GenesisTime.Add(time.Minute), [][]byte{msg})
	a.Close()
	// Reopening untouched works.
	openApp(t, path, c).Close()

	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketState)
		v := b.Get([]byte("tld/com."))
		return b.Put([]byte("tld/com."), bytes.Replace(v, []byte("b.gtld-servers.net."), []byte("x.gtld-servers.net."), 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenApp(path, c)
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("OpenApp on a tampered store: %v, want an app-hash mismatch", err)
	}
	t.Log(err)
}

// TestOtherFederationRefused: a data directory belongs to one federation.
func TestOtherFederationRefused(t *testing.T) {
	c1, _ := newFederation(t)
	c2, _ := newFederation(t)
	path := filepath.Join(t.TempDir(), "a.db")
	openApp(t, path, c1).Close()
	if _, err := OpenApp(path, c2); err == nil || !strings.Contains(err.Error(), "belongs to federation") {
		t.Fatalf("OpenApp with another constitution: %v", err)
	}
}

// TestZoneFollowsState drives proposals and delegations that add, remove,
// suspend and restore delegations and hosts, and checks after every block
// that the incrementally updated zone is byte for byte the zone built from
// scratch from the state.
func TestZoneFollowsState(t *testing.T) {
	c, dir := newFederation(t)
	a := openApp(t, filepath.Join(t.TempDir(), "a.db"), c)
	defer a.Close()
	if _, err := a.InitChain(context.Background(), &abci.RequestInitChain{AppStateBytes: c.Bytes}); err != nil {
		t.Fatal(err)
	}
	keys := map[string]*setup.Key{}
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		keys[m], _ = setup.LoadKey(setup.MemberKeyPath(dir, m))
	}
	keys["op-museum"], _ = setup.LoadKey(setup.OperatorKeyPath(dir, "museum."))
	newOp, _ := setup.NewKey("op-newtld")
	keys["op-newtld"] = newOp
	seq := map[string]uint64{}
	sign := func(who, kind string, body any) []byte {
		seq[who]++
		msg, err := action.Sign(action.Action{Origin: c.Origin, Signer: who, Seq: seq[who], Expires: "2026-11-05T00:00:00Z", Kind: kind, Body: body}, keys[who].Signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	votes := func(id uint64) [][]byte {
		var out [][]byte
		for _, m := range []string{"alpha", "bravo", "charlie"} {
			out = append(out, sign(m, action.KindVote, &action.Vote{Proposal: id, Vote: action.Yes}))
		}
		return out
	}
	evidence := strings.Repeat("cd", 32)
	blocks := [][][]byte{
		// 1: a TLD created without a delegation (in state, not in the zone)
		{sign("alpha", action.KindPropose, &action.Propose{Proposal: constitution.TLDCreate, Rationale: "r", TLD: "newtld.", Operator: newOp.Verifier})},
		votes(1),
		// 3: its operator delegates it, with a new host of its own
		{sign("op-newtld", action.KindDelegate, &action.Delegate{TLD: "newtld.", NS: []string{"ns1.newtld.", "a.gtld-servers.net."}, Glue: []action.Glue{{Host: "ns1.newtld.", Addrs: []string{"203.0.113.7"}}}})},
		// 4: museum. is restricted (leaves the zone) for an hour
		{sign("bravo", action.KindPropose, &action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "r", TLD: "museum.", LegalBasis: "b", Evidence: evidence, Duration: "1h"})},
		votes(2),
		// 6: museum.'s operator changes its delegation while restricted
		{sign("op-museum", action.KindDelegate, &action.Delegate{TLD: "museum.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."}})},
		// 7: newtld. is deleted
		{sign("charlie", action.KindPropose, &action.Propose{Proposal: constitution.TLDDelete, Rationale: "r", TLD: "newtld."})},
		votes(3),
		nil, // 9: two hours later: the restriction lapses, museum. is back
	}
	at := c.GenesisTime
	for i, txs := range blocks {
		h := int64(i + 1)
		at = at.Add(time.Minute)
		if i == len(blocks)-1 {
			at = at.Add(2 * time.Hour)
		}
		resp, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Height: h, Time: at, Txs: txs})
		if err != nil {
			t.Fatalf("block %d: %v", h, err)
		}
		for j, r := range resp.TxResults {
			if r.Code != 0 {
				t.Fatalf("block %d tx %d rejected: %s", h, j, r.Log)
			}
		}
		if _, err := a.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
			t.Fatal(err)
		}
		var want *bytes.Buffer
		a.View(func(s *registry.State) {
			z, err := buildZone(s)
			if err != nil {
				t.Fatal(err)
			}
			want = new(bytes.Buffer)
			z.WriteTo(want)
		})
		if got := zoneText(t, a); got != want.String() {
			t.Fatalf("block %d: the updated zone differs from the zone built from state", h)
		}
	}
	z, _ := a.Zone()
	if _, ok := z.Delegation("newtld."); ok {
		t.Error("newtld. is still in the zone after its deletion")
	}
	if d, ok := z.Delegation("museum."); !ok || len(d.NS) != 2 {
		t.Errorf("museum. after the lapse: %+v %v", d, ok)
	}
	if _, ok := z.Host("ns1.newtld."); ok {
		t.Error("the deleted TLD's host is still in the zone")
	}
}
