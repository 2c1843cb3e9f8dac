// Package node wires one member's node together: the embedded store, the
// registry state machine, the transparency log, the zone, CometBFT, the DNS
// server and the HTTP API. It holds no business rules: those are the
// registry's.
package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/dnsname"
	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/internal/consensus"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/signing"
	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/zone"
)

// Store layout: the registry's state in bucket "state" (its keys and
// values as the registry writes them), the app's committed height and app
// hash in bucket "app", and the log's own buckets (see translog).
var (
	bucketState = []byte("state")
	bucketApp   = []byte("app")
	// bucketSigning holds the signing step's zone versions (see
	// signing.Step): the open request's zone ("target"), the newest
	// signed version's zone and signatures ("signed-zone",
	// "signed-sigs"). The state's digest covers their digests.
	bucketSigning = []byte("signing")
	keyTarget     = []byte("target")
	keySignedZone = []byte("signed-zone")
	keySignedSigs = []byte("signed-sigs")
	keyHeight     = []byte("height")
	keyAppHash    = []byte("apphash")
	keyChain      = []byte("chain")
)

// App is the ABCI application: deterministic in everything it returns to
// CometBFT. Readers (the API, the DNS server) see committed data through
// View and Zone.
type App struct {
	abci.BaseApplication

	db    *bbolt.DB
	c     *constitution.Constitution
	log   *translog.Log
	chain string

	mu       sync.RWMutex
	state    *registry.State
	zone     *zone.Zone
	history  []*zone.Zone // recent committed versions, oldest first
	height   int64
	appHash  []byte
	batch    *translog.Batch // the log entries of the block being built
	sign     signing.Step
	pending  *pendingBlock
	waiters  map[string][]chan Outcome
	onCommit []func(Commit)

	// Checkpoint cosigning (see cosign.go).
	member     string
	signer     note.Signer
	equivocate bool
	evidence   [][]byte

	// admitAll makes CheckTx admit every transaction (SetAdmitAll).
	admitAll bool
}

// pendingBlock is a finalized block not yet committed.
type pendingBlock struct {
	height  int64
	appHash []byte
	writes  []registry.Write
	batch   *translog.Batch
	zone    *zone.Zone
	results map[string]Outcome
	changed bool
	// actions and rejected count the block's actions and refusals.
	actions, rejected int
	cosign            [][]byte
	// target and signed are the signing step's versions to persist.
	target *zone.Zone
	signed *dnssec.Signed
}

// Outcome is what became of a submitted action.
type Outcome struct {
	registry.Result
	Height int64 `json:"height"`
}

// Commit describes a committed block to the hooks registered with OnCommit.
type Commit struct {
	Height      int64
	AppHash     []byte
	LogSize     int64
	Zone        *zone.Zone
	ZoneChanged bool
	// Signed is the newest signed version (nil before the first);
	// SignedChanged says this block published it. Keyed says the zone has
	// a key: from then on only signed versions may be served.
	Signed        *dnssec.Signed
	SignedChanged bool
	Keyed         bool
	// Actions counts the block's actions (node-made transactions aside)
	// and Rejected those the state machine refused in the block: a
	// hostile proposer's invalid actions show up there.
	Actions, Rejected int
}

// KeepVersions is how many zone versions are kept for IXFR and diffs.
const KeepVersions = 32

// ErrTampered says the store does not hash to the app hash it recorded.
var ErrTampered = errors.New("app-hash mismatch")

// OpenApp opens (or creates) the store at path for the federation c. An
// existing store must belong to the same federation and must hash to the
// app hash it recorded at its last commit; otherwise OpenApp fails rather
// than serve data the federation never decided.
func OpenApp(path string, c *constitution.Constitution) (*App, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("node: opening store %s: %v", path, err)
	}
	a := &App{db: db, c: c, chain: c.ChainID(), waiters: map[string][]chan Outcome{}}
	if err := a.load(); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) load() error {
	var chain []byte
	err := a.db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketState, bucketApp, bucketSigning} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		app := tx.Bucket(bucketApp)
		chain = append([]byte(nil), app.Get(keyChain)...)
		if chain == nil {
			return app.Put(keyChain, []byte(a.chain))
		}
		if h := app.Get(keyHeight); len(h) == 8 {
			a.height = int64(binary.BigEndian.Uint64(h))
		}
		a.appHash = append([]byte(nil), app.Get(keyAppHash)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("node: store: %v", err)
	}
	if chain != nil && string(chain) != a.chain {
		return fmt.Errorf("node: the data directory belongs to federation %s, not %s (%s)", chain, a.chain, a.c.Origin)
	}
	a.log, err = translog.Open(a.db, a.c.Origin)
	if err != nil {
		return fmt.Errorf("node: log: %v", err)
	}
	if a.height == 0 {
		return nil // InitChain comes
	}
	err = a.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketState)
		s, err := registry.Load(func(yield func(string, []byte) error) error {
			return b.ForEach(func(k, v []byte) error { return yield(string(k), v) })
		})
		a.state = s
		return err
	})
	if err != nil {
		return fmt.Errorf("node: loading state: %v", err)
	}
	a.zone, err = buildZone(a.state)
	if err != nil {
		return fmt.Errorf("node: rebuilding the zone: %v", err)
	}
	a.history = []*zone.Zone{a.zone}
	if err := a.loadSigning(); err != nil {
		return err
	}
	root, err := a.log.Root()
	if err != nil {
		return fmt.Errorf("node: log root: %v", err)
	}
	if got := appHash(a.state, a.log.Size(), root, a.zone); string(got) != string(a.appHash) {
		return fmt.Errorf("node: %w at height %d: the store hashes to %X but recorded %X: it was modified outside the node", ErrTampered, a.height, got, a.appHash)
	}
	return nil
}

// Close closes the store.
func (a *App) Close() error { return a.db.Close() }

// appHash binds the state, the log and the zone: H(state digest, log size,
// log root, zone serial, ZONEMD).
func appHash(s *registry.State, logSize int64, logRoot [32]byte, z *zone.Zone) []byte {
	h := sha256.New()
	h.Write([]byte("commonroot/apphash/v1\n"))
	d := s.Digest()
	h.Write(d[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(logSize))
	h.Write(n[:])
	h.Write(logRoot[:])
	binary.BigEndian.PutUint32(n[:4], z.Serial())
	h.Write(n[:4])
	h.Write(z.Digest())
	return h.Sum(nil)
}

// Info tells CometBFT where the app's committed state stands.
func (a *App) Info(context.Context, *abci.RequestInfo) (*abci.ResponseInfo, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return &abci.ResponseInfo{Data: "commonroot", Version: "1", AppVersion: 1, LastBlockHeight: a.height, LastBlockAppHash: a.appHash}, nil
}

// InitChain builds the genesis state from the constitution in the genesis
// document, which must be the one this node was started with.
func (a *App) InitChain(_ context.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// CometBFT re-indents the app state: compare the documents compacted.
	var got, want bytes.Buffer
	if json.Compact(&got, req.AppStateBytes) != nil || json.Compact(&want, a.c.Bytes) != nil || got.String() != want.String() {
		return nil, errors.New("node: the genesis constitution differs from the node's")
	}
	s, err := registry.Genesis(a.c)
	if err != nil {
		return nil, err
	}
	z, err := buildZone(s)
	if err != nil {
		return nil, fmt.Errorf("node: genesis zone: %v", err)
	}
	b := a.log.NewBatch()
	if _, err := b.Append(s.GenesisEntry()); err != nil {
		return nil, err
	}
	if _, err := b.Append(s.ZoneVersion(z.Serial(), z.Digest())); err != nil {
		return nil, err
	}
	root, err := b.Root()
	if err != nil {
		return nil, err
	}
	a.state, a.zone, a.batch = s, z, b
	a.history = []*zone.Zone{z}
	return &abci.ResponseInitChain{AppHash: appHash(s, b.Size(), root, z)}, nil
}

// CheckTx admits to the mempool only actions that could be accepted now.
func (a *App) CheckTx(_ context.Context, req *abci.RequestCheckTx) (*abci.ResponseCheckTx, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.state == nil {
		return &abci.ResponseCheckTx{Code: registry.CodeInvalid, Log: "the node has not started its chain yet"}, nil
	}
	if a.admitAll {
		return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}, nil
	}
	if bytes.HasPrefix(req.Tx, []byte(cosignPrefix)) {
		return &abci.ResponseCheckTx{Code: registry.CodeInvalid, Log: "cosignatures travel only in vote extensions"}, nil
	}
	if bytes.HasPrefix(req.Tx, []byte(evidencePrefix)) {
		if _, err := a.judgeEvidence(req.Tx); err != nil {
			return &abci.ResponseCheckTx{Code: registry.CodeInvalid, Log: err.Error()}, nil
		}
		return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}, nil
	}
	if _, err := a.state.Check(req.Tx); err != nil {
		var code uint32 = registry.CodeInvalid
		var r *registry.Rejection
		if errors.As(err, &r) {
			code = r.Code
		}
		return &abci.ResponseCheckTx{Code: code, Log: err.Error()}, nil
	}
	return &abci.ResponseCheckTx{Code: abci.CodeTypeOK}, nil
}

// FinalizeBlock applies a decided block. Nothing is persisted until Commit.
func (a *App) FinalizeBlock(_ context.Context, req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.batch == nil {
		a.batch = a.log.NewBatch()
	}
	b := a.batch
	// Node-made transactions first (cosignatures, evidence), then the
	// members' and operators' actions through the state machine.
	sys := map[int]registry.Result{}
	var cosign [][]byte
	var actions [][]byte
	for i, tx := range req.Txs {
		if ok, res, notes := a.systemTx(tx, b, req.Height); ok {
			sys[i] = res
			cosign = append(cosign, notes...)
			continue
		}
		actions = append(actions, tx)
	}
	out := a.state.Apply(req.Height, req.Time, b.Size(), actions)
	for _, e := range out.Entries {
		if _, err := b.Append(e); err != nil {
			return nil, fmt.Errorf("node: appending to the log: %v", err)
		}
	}
	z := a.zone
	if out.ZoneChanged {
		var err error
		z, err = updateZone(a.zone, a.state, out)
		if err != nil {
			return nil, fmt.Errorf("node: zone: %v", err)
		}
		if _, err := b.Append(a.state.ZoneVersion(z.Serial(), z.Digest())); err != nil {
			return nil, err
		}
	}
	sres, err := a.sign.Run(a.state, z)
	if err != nil {
		return nil, fmt.Errorf("node: signing: %v", err)
	}
	for _, e := range sres.Entries {
		if _, err := b.Append(e); err != nil {
			return nil, fmt.Errorf("node: appending to the log: %v", err)
		}
	}
	var target *zone.Zone
	if sres.Opened {
		target = a.sign.Target
	}
	root, err := b.Root()
	if err != nil {
		return nil, err
	}
	hash := appHash(a.state, b.Size(), root, z)
	resp := &abci.ResponseFinalizeBlock{AppHash: hash}
	results := map[string]Outcome{}
	next := 0
	for i, tx := range req.Txs {
		r, isSys := sys[i]
		if !isSys {
			r = out.Results[next]
			next++
		}
		data, _ := json.Marshal(r)
		resp.TxResults = append(resp.TxResults, &abci.ExecTxResult{Code: r.Code, Log: r.Reason, Data: data})
		results[consensus.TxKey(tx)] = Outcome{Result: r, Height: req.Height}
	}
	for _, v := range out.ValidatorUpdates {
		resp.ValidatorUpdates = append(resp.ValidatorUpdates, abci.Ed25519ValidatorUpdate(v.PubKey, v.Power))
	}
	rejected := 0
	for _, r := range out.Results {
		if r.Code != 0 {
			rejected++
		}
	}
	a.pending = &pendingBlock{height: req.Height, appHash: hash, writes: a.state.TakeWrites(), batch: b, zone: z, results: results, changed: out.ZoneChanged, cosign: cosign,
		actions: len(out.Results), rejected: rejected,
		target: target, signed: sres.Published}
	return resp, nil
}

// Commit persists the finalized block atomically: state, log and app hash
// in one store transaction.
func (a *App) Commit(context.Context, *abci.RequestCommit) (*abci.ResponseCommit, error) {
	a.mu.Lock()
	p := a.pending
	if p == nil {
		a.mu.Unlock()
		return nil, errors.New("node: Commit without FinalizeBlock")
	}
	err := a.db.Update(func(tx *bbolt.Tx) error {
		st := tx.Bucket(bucketState)
		for _, w := range p.writes {
			var err error
			if w.Value == nil {
				err = st.Delete([]byte(w.Key))
			} else {
				err = st.Put([]byte(w.Key), w.Value)
			}
			if err != nil {
				return err
			}
		}
		if err := p.batch.Write(tx); err != nil {
			return err
		}
		if err := writeSigning(tx.Bucket(bucketSigning), p.target, p.signed); err != nil {
			return err
		}
		app := tx.Bucket(bucketApp)
		var h [8]byte
		binary.BigEndian.PutUint64(h[:], uint64(p.height))
		if err := app.Put(keyHeight, h[:]); err != nil {
			return err
		}
		return app.Put(keyAppHash, p.appHash)
	})
	if err != nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("node: committing block %d: %v", p.height, err)
	}
	if err := a.log.Advance(p.batch); err != nil {
		a.mu.Unlock()
		return nil, fmt.Errorf("node: block %d: %v", p.height, err)
	}
	// The block's cosignatures are merged before its height is published,
	// so a reader that sees height H also sees every checkpoint cosigned
	// by block H with its signatures.
	verifiers := a.memberVerifiersLocked()
	for _, msg := range p.cosign {
		a.log.AddSignatures(msg, verifiers) // checked in ProcessProposal
	}
	a.height, a.appHash, a.zone = p.height, p.appHash, p.zone
	if p.changed {
		a.history = append(a.history, p.zone)
		if len(a.history) > KeepVersions {
			a.history = a.history[len(a.history)-KeepVersions:]
		}
	}
	a.batch, a.pending = nil, nil
	var notify []func()
	for key, o := range p.results {
		for _, ch := range a.waiters[key] {
			ch := ch
			o := o
			notify = append(notify, func() { ch <- o })
		}
		delete(a.waiters, key)
	}
	hooks := a.onCommit
	_, keyed := a.state.ZoneKey()
	c := Commit{Height: p.height, AppHash: p.appHash, LogSize: a.log.Size(), Zone: p.zone, ZoneChanged: p.changed,
		Signed: a.sign.Signed, SignedChanged: p.signed != nil, Keyed: keyed, Actions: p.actions, Rejected: p.rejected}
	a.mu.Unlock()
	for _, f := range notify {
		f()
	}
	for _, h := range hooks {
		h(c)
	}
	return &abci.ResponseCommit{}, nil
}

// OnCommit registers f to run after every commit, outside the app's lock.
func (a *App) OnCommit(f func(Commit)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.onCommit = append(a.onCommit, f)
}

// wait registers interest in the outcome of tx.
func (a *App) wait(key string) chan Outcome {
	ch := make(chan Outcome, 1)
	a.mu.Lock()
	a.waiters[key] = append(a.waiters[key], ch)
	a.mu.Unlock()
	return ch
}

func (a *App) unwait(key string, ch chan Outcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.waiters[key]
	for i, c := range list {
		if c == ch {
			a.waiters[key] = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(a.waiters[key]) == 0 {
		delete(a.waiters, key)
	}
}

// View runs f with the committed state (or the block being applied: the
// state between FinalizeBlock and Commit) under the read lock.
func (a *App) View(f func(s *registry.State)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	f(a.state)
}

// Zone returns the committed zone and the height it belongs to.
func (a *App) Zone() (*zone.Zone, int64) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.zone, a.height
}

// Signed returns the newest signed version (nil before the first) and
// whether the zone has a key.
func (a *App) Signed() (*dnssec.Signed, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.state == nil {
		return nil, false
	}
	_, keyed := a.state.ZoneKey()
	return a.sign.Signed, keyed
}

// SigningMessages returns the open signing request and the messages of
// its current round (see signing.Step.Messages).
func (a *App) SigningMessages() (registry.SigningRequest, [][]byte, error) {
	a.mu.Lock() // Messages fills the step's caches
	defer a.mu.Unlock()
	r, ok := a.state.SigningRequest()
	if !ok {
		return r, nil, errors.New("node: no signing request is open")
	}
	msgs, err := a.sign.Messages(a.state)
	return r, msgs, err
}

// Versions returns the recent committed zone versions, oldest first.
func (a *App) Versions() []*zone.Zone {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return append([]*zone.Zone(nil), a.history...)
}

// Log returns the transparency log.
func (a *App) Log() *translog.Log { return a.log }

// Height returns the committed height and app hash.
func (a *App) Height() (int64, []byte) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.height, a.appHash
}

// Constitution returns the constitution in force.
func (a *App) Constitution() *constitution.Constitution {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.state == nil {
		return a.c
	}
	return a.state.Constitution()
}

// zoneParams are the apex parameters from the constitution.
func zoneParams(c *constitution.Constitution) zone.Params {
	ns := make([]string, len(c.NameServers))
	for i, h := range c.NameServers {
		ns[i] = h.Name
	}
	return zone.Params{
		Origin: c.Apex,
		SOA:    zone.SOA{MName: c.SOA.MName, RName: c.SOA.RName, Refresh: c.SOA.Refresh, Retry: c.SOA.Retry, Expire: c.SOA.Expire, Minimum: c.SOA.Minimum},
		NS:     ns,
		TTLs:   zone.TTLs{SOA: c.TTLs.SOA, ApexNS: c.TTLs.ApexNS, NS: c.TTLs.NS, DS: c.TTLs.DS, Glue: c.TTLs.Glue},
	}
}

// buildZone builds the whole zone from state.
func buildZone(s *registry.State) (*zone.Zone, error) {
	var dels []zone.Delegation
	for _, name := range s.TLDNames() {
		if d, ok := zoneDelegation(s, name); ok {
			dels = append(dels, d)
		}
	}
	var hosts []zone.Host
	for _, name := range s.ZoneHostNames() {
		if h, ok := zoneHost(s, name); ok {
			hosts = append(hosts, h)
		}
	}
	return zone.Build(zoneParams(s.Constitution()), s.Serial(), dels, hosts)
}

// updateZone applies a block's changes to the previous zone; a change of
// the apex (a constitution amendment) rebuilds it whole.
func updateZone(prev *zone.Zone, s *registry.State, out *registry.Output) (*zone.Zone, error) {
	var set []zone.Delegation
	var remove []string
	for _, name := range out.ChangedTLDs {
		if name == s.Constitution().Apex {
			return buildZone(s)
		}
		if d, ok := zoneDelegation(s, name); ok {
			set = append(set, d)
		} else if _, was := prev.Delegation(name); was {
			remove = append(remove, name)
		}
	}
	var setHosts []zone.Host
	var removeHosts []string
	for _, name := range out.ChangedHosts {
		if h, ok := zoneHost(s, name); ok {
			setHosts = append(setHosts, h)
		} else if _, was := prev.Host(name); was {
			removeHosts = append(removeHosts, name)
		}
	}
	return prev.Update(s.Serial(), set, remove, setHosts, removeHosts)
}

func zoneDelegation(s *registry.State, name string) (zone.Delegation, bool) {
	ns, ds, ok := s.ZoneDelegation(name)
	if !ok {
		return zone.Delegation{}, false
	}
	d := zone.Delegation{Name: name, NS: ns}
	for _, text := range ds {
		v, err := dnsname.ParseDS(text)
		if err != nil {
			continue // stored DS were checked when accepted
		}
		d.DS = append(d.DS, zone.DS{KeyTag: v.KeyTag, Algorithm: v.Algorithm, DigestType: v.DigestType, Digest: v.Digest})
	}
	return d, true
}

func zoneHost(s *registry.State, name string) (zone.Host, bool) {
	addrs, ok := s.ZoneHost(name)
	if !ok {
		return zone.Host{}, false
	}
	h := zone.Host{Name: name}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			h.Addrs = append(h.Addrs, ip)
		}
	}
	return h, true
}
