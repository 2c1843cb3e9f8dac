package node

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/dnsserver"
	"github.com/commonroot/commonroot/internal/consensus"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/translog"
)

// Config is one member's node.
type Config struct {
	Constitution *constitution.Constitution
	// ConstitutionSigs, when set, is the founders' signatures note
	// (constitution.sigs): the node starts only if every founder signed.
	ConstitutionSigs []byte
	// Member is the member this node belongs to; Key signs its checkpoints.
	Member string
	Key    note.Signer
	// Home holds CometBFT's config and data and the store (data/commonroot.db).
	Home string
	// P2P is the consensus listen address; Peers are "ID@host:port".
	P2P   string
	Peers []string
	// HTTP and DNS are listen addresses ("127.0.0.1:0" picks a port).
	HTTP string
	DNS  string
	// PeerAPIs are the other members' HTTP base URLs, to collect their
	// checkpoint cosignatures.
	PeerAPIs []string
	// AllowTransfer lists who may AXFR/IXFR; Notify the secondaries to NOTIFY.
	AllowTransfer []netip.Prefix
	Notify        []string
	// Limits bounds API submissions per client address and per signer.
	Limits api.Limits
	// Witnesses are external witnesses (c2sp.org/tlog-witness), each
	// "URL VKEY": the node submits every served checkpoint to URL's
	// add-checkpoint and stores the cosignatures that verify with VKEY
	// (an Ed25519 cosignature key, type 0x04) with the members' signatures.
	Witnesses []string
	// Fast selects short consensus timeouts (local federations, tests).
	Fast     bool
	Logger   *slog.Logger
	CometLog io.Writer
}

// Node is a running member node.
type Node struct {
	cfg  Config
	app  *App
	cons *consensus.Node
	dns  *dnsserver.Server
	http *http.Server
	hl   net.Listener

	metrics *metrics
	keys    keyholder // this member's part in key ceremonies (keyholder.go)
	// tlds is the TLD index the API and the portal share; warmTLDs builds
	// it once a state exists, before a request needs it.
	tlds   api.TLDIndex
	warmed atomic.Bool

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Start opens the store, starts consensus, the DNS server and the HTTP API.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := cfg.Constitution
	witnesses, err := parseWitnesses(cfg.Witnesses)
	if err != nil {
		return nil, err
	}
	if cfg.ConstitutionSigs != nil {
		if err := setup.CheckConstitutionSigs(c, cfg.ConstitutionSigs); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	if cfg.Key == nil || cfg.Key.Name() != cfg.Member {
		return nil, fmt.Errorf("node: the member key is not %q's", cfg.Member)
	}
	id, err := consensus.InitHome(cfg.Home)
	if err != nil {
		return nil, err
	}
	var validators []consensus.Validator
	for _, mm := range c.Members {
		validators = append(validators, consensus.Validator{Name: mm.Name, PubKey: validatorKeyBytes(mm.Validator), Power: registry.Power})
	}
	// A founder's keys must be the constitution's. A member admitted later
	// is not in the genesis: its node syncs the chain and takes part as
	// soon as the federation has admitted its keys.
	if m, founder := c.Member(cfg.Member); founder {
		if v, err := note.NewVerifier(m.Key); err != nil || v.KeyHash() != cfg.Key.KeyHash() {
			return nil, fmt.Errorf("node: the member key file does not match %q's key in the constitution", m.Name)
		}
		if string(validatorKeyBytes(m.Validator)) != string(id.Validator) {
			return nil, fmt.Errorf("node: the validator key in %s is not %q's validator in the constitution", cfg.Home, m.Name)
		}
	} else {
		cfg.Logger.Info("not a founding member: syncing; the node takes part once the federation admits it", "member", cfg.Member)
	}
	app, err := OpenApp(filepath.Join(cfg.Home, "data", "commonroot.db"), c)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, app: app, metrics: newMetrics(), stop: make(chan struct{})}
	n.dns, err = dnsserver.New(dnsserver.Config{Addr: cfg.DNS, AllowTransfer: cfg.AllowTransfer, Notify: cfg.Notify, Logger: cfg.Logger})
	if err == nil {
		err = n.dns.Start()
	}
	if err != nil {
		app.Close()
		return nil, fmt.Errorf("node: DNS on %s: %v", cfg.DNS, err)
	}
	n.metrics.reg.MustRegister(newDNSCollector(n.dns.Stats))
	if z, h := app.Zone(); z != nil && h > 0 {
		signed, keyed := app.Signed()
		switch {
		case signed != nil:
			n.dns.Publish(signed)
		case !keyed:
			n.dns.Publish(z)
		}
	}
	app.SetSigner(cfg.Member, cfg.Key)
	app.Log().SetServeQuorum(quorum(len(c.Members)))
	app.OnCommit(n.committed)
	n.hl, err = net.Listen("tcp", cfg.HTTP)
	if err != nil {
		n.dns.Close()
		app.Close()
		return nil, fmt.Errorf("node: HTTP on %s: %v", cfg.HTTP, err)
	}
	n.http = &http.Server{Handler: n.handler(), ReadHeaderTimeout: 10 * time.Second}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(n.hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("http", "err", err)
		}
	}()
	n.cons, err = consensus.Start(consensus.Config{
		Home: cfg.Home, Moniker: cfg.Member, ChainID: c.ChainID(), GenesisTime: c.GenesisTime,
		Validators: validators, AppState: c.Bytes, P2P: cfg.P2P, Peers: cfg.Peers, Fast: cfg.Fast, Log: cfg.CometLog,
	}, app)
	if err != nil {
		n.http.Close()
		n.dns.Close()
		app.Close()
		return nil, err
	}
	n.wg.Add(1)
	go n.collectCosignatures()
	n.wg.Add(1)
	go n.watchExpiry()
	n.wg.Add(1)
	go n.pushWitnesses(witnesses) // stops with n.stop, like collectCosignatures
	cfg.Logger.Info("node started", "member", cfg.Member, "http", n.HTTPAddr(), "dns", n.DNSAddr(), "node_id", id.NodeID)
	return n, nil
}

// publish serves the newest version the node may serve: once the zone has
// a key, only whole signed versions (never an unsigned one, never one
// half-signed); before, the unsigned zone.
func (n *Node) publish(c Commit) {
	var z dnsserver.Zone
	switch {
	case c.Signed != nil && expired(c.Signed, time.Now()):
		n.withdrawExpired(c.Signed)
		return
	case c.Signed != nil:
		if !c.SignedChanged && n.dns.Serial() == c.Signed.Serial() {
			return
		}
		z = c.Signed
	case c.Keyed:
		return // the first signed version is on its way
	default:
		if !c.ZoneChanged && n.dns.Serial() == c.Zone.Serial() {
			return
		}
		z = c.Zone
	}
	if err := n.dns.Publish(z); err != nil {
		n.cfg.Logger.Error("publishing zone", "serial", z.Serial(), "err", err)
	}
}

// expired reports whether a signature of s has expired at now.
func expired(s *dnssec.Signed, now time.Time) bool { return !s.Expires(now).After(now) }

// withdrawExpired stops serving s, whose signatures expired: validators
// would refuse it, and nothing unsigned may take its place.
func (n *Node) withdrawExpired(s *dnssec.Signed) {
	if n.dns.Serial() == s.Serial() {
		n.cfg.Logger.Error("the served signed version expired and no newer one is signed: withdrawn", "serial", s.Serial(), "expired", s.Expires(time.Now()))
		n.dns.Withdraw()
	}
}

// watchExpiry withdraws an expired signed version, within a second of its
// first signature's expiry, even when no block comes (fewer than 2/3 of
// the validators up); it runs until Stop.
func (n *Node) watchExpiry() {
	defer n.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last *dnssec.Signed
	var expiry time.Time
	for now := range n.ticks(t) {
		s, _ := n.app.Signed()
		if s == nil {
			continue
		}
		if s != last { // Expires reads every signature: once a version
			last, expiry = s, s.Expires(now)
		}
		if !expiry.After(now) {
			n.withdrawExpired(s)
		}
	}
}

// ticks yields t's ticks until Stop.
func (n *Node) ticks(t *time.Ticker) func(yield func(time.Time) bool) {
	return func(yield func(time.Time) bool) {
		for {
			select {
			case <-n.stop:
				return
			case now := <-t.C:
				if !yield(now) {
					return
				}
			}
		}
	}
}

// committed runs after every commit: serve the new zone, cosign the new
// checkpoint.
func (n *Node) committed(c Commit) {
	n.warmTLDs()
	served, _ := n.app.Log().Checkpoint()
	n.metrics.committed(c, served)
	n.publish(c)
	if _, err := n.app.Log().Sign(n.cfg.Key); err != nil {
		n.cfg.Logger.Error("signing checkpoint", "size", c.LogSize, "err", err)
	}
	n.holdKeys()
	members := 0
	n.app.View(func(s *registry.State) { members = len(s.Members()) })
	n.app.Log().SetServeQuorum(quorum(members))
	if ev := n.app.takeEvidence(); len(ev) > 0 {
		n.metrics.equivocation.Add(float64(len(ev)))
		// Not from here: CometBFT holds the mempool during Commit.
		go func() {
			for _, tx := range ev {
				if err := n.cons.Submit(tx); err != nil {
					n.cfg.Logger.Warn("submitting equivocation evidence", "err", err)
				} else {
					n.cfg.Logger.Warn("equivocation evidence submitted")
				}
			}
		}()
	}
}

// quorum is the number of member signatures a served checkpoint needs:
// more than two thirds of the members.
func quorum(members int) int { return members*2/3 + 1 }

// collectCosignatures fetches the other members' checkpoints and merges
// their signatures into ours, until Stop.
func (n *Node) collectCosignatures() {
	defer n.wg.Done()
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		verifiers := n.memberVerifiers()
		for _, base := range n.cfg.PeerAPIs {
			resp, err := client.Get(base + "/checkpoint")
			if err != nil {
				continue
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				continue
			}
			if _, err := n.app.Log().AddSignatures(body, verifiers); err != nil {
				var eq *translog.EquivocationError
				if errors.As(err, &eq) {
					n.cfg.Logger.Error("checkpoint equivocation", "peer", base, "size", eq.Size)
				}
			}
		}
	}
}

func (n *Node) memberVerifiers() note.Verifiers {
	var vs []note.Verifier
	n.app.View(func(s *registry.State) {
		if s == nil {
			return
		}
		for _, m := range s.Members() {
			if v, err := note.NewVerifier(m.Key); err == nil {
				vs = append(vs, v)
			}
		}
	})
	return note.VerifierList(vs...)
}

// ErrTimeout says an action was admitted but not seen committed in time.
var ErrTimeout = errors.New("not committed in time")

// Submit hands a signed action to consensus and waits until the block with
// it is committed here.
func (n *Node) Submit(ctx context.Context, tx []byte) (Outcome, error) {
	key := consensus.TxKey(tx)
	ch := n.app.wait(key)
	if err := n.cons.Submit(tx); err != nil {
		n.app.unwait(key, ch)
		return Outcome{}, err
	}
	select {
	case o := <-ch:
		return o, nil
	case <-ctx.Done():
		n.app.unwait(key, ch)
		return Outcome{}, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
}

// Broadcast hands tx to consensus without waiting for its block: it
// returns the mempool's verdict (an error wrapping consensus.ErrRejected
// when CheckTx refuses it).
func (n *Node) Broadcast(tx []byte) error { return n.cons.Submit(tx) }

// App returns the node's application (state, log, zone).
func (n *Node) App() *App { return n.app }

// HTTPAddr and DNSAddr are the bound listen addresses.
func (n *Node) HTTPAddr() string { return n.hl.Addr().String() }
func (n *Node) DNSAddr() string  { return n.dns.Addr() }

// Synced reports whether the node takes part in consensus.
func (n *Node) Synced() bool { return n.cons.Synced() }

// Stop shuts the node down: consensus first, then the servers, then the store.
func (n *Node) Stop() {
	n.once.Do(func() {
		close(n.stop)
		n.cons.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		n.http.Shutdown(ctx)
		cancel()
		n.dns.Close()
		n.wg.Wait()
		n.app.Close()
	})
}

// fileExists reports whether p exists.
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func validatorKeyBytes(b64 string) []byte {
	k, _ := base64.StdEncoding.DecodeString(b64)
	return k
}
