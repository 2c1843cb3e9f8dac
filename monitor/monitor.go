// Package monitor follows every member node of a commonroot federation
// from the outside and reports the first divergence with its evidence:
//
//   - every checkpoint a node serves must carry a quorum of member
//     signatures (checked with the constitution's keys);
//   - checkpoints of the same size must have the same root, whichever
//     nodes served them (otherwise: a fork, with both signed notes);
//   - every checkpoint must be consistent with every other one seen from
//     any node: the monitor keeps the checkpoints it saw as a chain sorted
//     by size, each consistent with the next, and checks a new one against
//     its neighbours with RFC 6962 consistency proofs fetched from the node
//     that served the larger one and checked with tlog.CheckTree;
//   - the zone each node serves over DNS (AXFR) must carry its own valid
//     ZONEMD and match the zone.version entry the log records for its
//     serial (verify's checks, see verify.CheckZone).
//
// Findings are [Alert]s, logged as structured slog records and counted in
// the Prometheus counter commonroot_monitor_alerts_total{kind}; the gauge
// commonroot_monitor_verified_size{node} holds the size of the last
// checkpoint verified per node.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/verify"
)

// Kinds of alert.
const (
	// KindFork: two checkpoints of the same size with different roots.
	KindFork = "fork"
	// KindInconsistent: two checkpoints of different sizes whose
	// consistency proof does not verify.
	KindInconsistent = "inconsistent"
	// KindCheckpoint: a node serves a checkpoint that does not verify
	// (a member signature fails, too few members signed, another origin).
	KindCheckpoint = "checkpoint"
	// KindZone: a node serves a zone the log does not explain.
	KindZone = "zone"
)

// Node is one member node to follow.
type Node struct {
	// Name labels the node in alerts and metrics (default: URL).
	Name string
	// URL is the node's HTTP API; DNS its DNS address (host:port), or ""
	// to skip its zone.
	URL string
	DNS string
}

// Config says what to follow.
type Config struct {
	Nodes        []Node
	Constitution *constitution.Constitution
	// Quorum is how many member signatures a checkpoint needs (default:
	// more than two thirds of the constitution's members).
	Quorum int
	// MaxScan bounds how many log entries are read back to find a zone
	// version (default 10,000).
	MaxScan int
	// Grace is how long a node may serve a zone whose zone.version entry
	// its served checkpoint does not cover yet (the checkpoint trails the
	// zone by a block or two) before that is an alert (default 30 s).
	Grace time.Duration
	// Logger gets one record per alert (default: discard).
	Logger *slog.Logger
	// Registerer, if set, gets the monitor's metrics.
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// An Alert is a divergence, with its evidence.
type Alert struct {
	Kind string
	// Nodes are the nodes involved, in the order the evidence lists them.
	Nodes []string
	// Size is the tree size at stake (the larger one for KindInconsistent).
	Size int64
	// Checkpoints are the signed notes that contradict each other (fork,
	// inconsistent) or the one that does not verify (checkpoint), one per
	// entry of Nodes.
	Checkpoints []string
	// Serial, Served, Logged and Index describe a zone alert: the served
	// serial, the served zone's ZONEMD, the ZONEMD the log records for it
	// (empty if none) and that log entry's index.
	Serial         uint32
	Served, Logged string
	Index          int64
	// Reason says what failed.
	Reason string
}

func (a *Alert) Error() string {
	return fmt.Sprintf("%s: %s (nodes %s)", a.Kind, a.Reason, strings.Join(a.Nodes, ", "))
}

// key identifies an alert so that each divergence is reported once.
func (a *Alert) key() string {
	return fmt.Sprintf("%s|%s|%d|%s|%d|%s|%s", a.Kind, strings.Join(a.Nodes, ","), a.Size, strings.Join(a.Checkpoints, "|"), a.Serial, a.Served, a.Logged)
}

// logAttrs returns the alert as slog attributes.
func (a *Alert) logAttrs() []any {
	attrs := []any{"kind", a.Kind, "nodes", a.Nodes, "reason", a.Reason}
	if a.Size > 0 {
		attrs = append(attrs, "size", a.Size)
	}
	for i, cp := range a.Checkpoints {
		attrs = append(attrs, fmt.Sprintf("checkpoint%d", i+1), cp)
	}
	if a.Kind == KindZone {
		attrs = append(attrs, "serial", a.Serial, "served_zonemd", a.Served, "logged_zonemd", a.Logged)
		if a.Logged != "" {
			attrs = append(attrs, "log_index", a.Index)
		}
	}
	return attrs
}

// seen is a checkpoint seen from a node and verified.
type seen struct {
	tree tlog.Tree
	note []byte
	node *Node
}

// logged is a zone version found in the log (and proven included).
type logged struct {
	index  int64
	zonemd string
}

// Monitor follows the nodes. Its methods are safe for one goroutine at a
// time.
type Monitor struct {
	cfg       Config
	verifiers note.Verifiers
	clients   map[string]*client.Client

	chain    []seen               // sorted by size, each consistent with the next
	versions map[uint32]logged    // serial → logged zone version
	pending  map[string]time.Time // node → since when its zone is not covered
	alerted  map[string]bool

	alerts   *prometheus.CounterVec
	verified *prometheus.GaugeVec
	errors   *prometheus.CounterVec
}

// maxChain bounds how many checkpoints the monitor remembers: the
// smallest are forgotten first (the chain stays consistent).
const maxChain = 4096

// New checks cfg and registers the metrics.
func New(cfg Config) (*Monitor, error) {
	c := cfg.Constitution
	if c == nil {
		return nil, errors.New("monitor: no constitution")
	}
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("monitor: no node to follow")
	}
	if cfg.Quorum <= 0 {
		cfg.Quorum = len(c.Members)*2/3 + 1
	}
	if cfg.MaxScan <= 0 {
		cfg.MaxScan = 10000
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	vs, err := verify.MemberVerifiers(c)
	if err != nil {
		return nil, fmt.Errorf("monitor: %v", err)
	}
	m := &Monitor{cfg: cfg, verifiers: vs, clients: map[string]*client.Client{},
		versions: map[uint32]logged{}, pending: map[string]time.Time{}, alerted: map[string]bool{}}
	m.cfg.Nodes = slices.Clone(cfg.Nodes)
	for i := range m.cfg.Nodes {
		n := &m.cfg.Nodes[i]
		if n.URL == "" {
			return nil, fmt.Errorf("monitor: node %d has no URL", i+1)
		}
		if n.Name == "" {
			n.Name = n.URL
		}
		if _, dup := m.clients[n.Name]; dup {
			return nil, fmt.Errorf("monitor: node %q given twice", n.Name)
		}
		cl := client.New(n.URL)
		cl.HTTP.Timeout = 30 * time.Second
		m.clients[n.Name] = cl
	}
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commonroot_monitor_alerts_total", Help: "Divergences found, by kind (fork, inconsistent, checkpoint, zone).",
	}, []string{"kind"})
	m.verified = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "commonroot_monitor_verified_size", Help: "Tree size of the last checkpoint verified, per node.",
	}, []string{"node"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commonroot_monitor_check_errors_total", Help: "Checks that could not be made (node unreachable, answer missing), per node.",
	}, []string{"node"})
	for _, k := range []string{KindFork, KindInconsistent, KindCheckpoint, KindZone} {
		m.alerts.WithLabelValues(k)
	}
	if cfg.Registerer != nil {
		for _, col := range []prometheus.Collector{m.alerts, m.verified, m.errors} {
			if err := cfg.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("monitor: registering metrics: %v", err)
			}
		}
	}
	return m, nil
}

// Check polls every node once. It returns the new alerts (each divergence
// is reported once over the monitor's life) and, per node it could not
// fully check, an error: unreachable, or a zone not covered by the log
// yet within the grace period.
func (m *Monitor) Check(ctx context.Context) (alerts []*Alert, errs []error) {
	// Fetch every checkpoint first, in parallel, so that the nodes are
	// compared at about the same moment.
	cps := make([][]byte, len(m.cfg.Nodes))
	fetchErrs := make([]error, len(m.cfg.Nodes))
	var wg sync.WaitGroup
	for i := range m.cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cps[i], fetchErrs[i] = m.clients[m.cfg.Nodes[i].Name].Get("/checkpoint")
		}()
	}
	wg.Wait()
	for i := range m.cfg.Nodes {
		n := &m.cfg.Nodes[i]
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			return alerts, errs
		}
		a, err := m.checkNode(n, cps[i], fetchErrs[i])
		for _, x := range a {
			if m.alerted[x.key()] {
				continue
			}
			m.alerted[x.key()] = true
			m.alerts.WithLabelValues(x.Kind).Inc()
			m.cfg.Logger.Error("divergence", x.logAttrs()...)
			alerts = append(alerts, x)
		}
		if err != nil {
			m.errors.WithLabelValues(n.Name).Inc()
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	return alerts, errs
}

// checkNode checks one node's checkpoint and zone.
func (m *Monitor) checkNode(n *Node, cp []byte, fetchErr error) ([]*Alert, error) {
	if fetchErr != nil {
		return nil, fmt.Errorf("fetching the checkpoint: %v", fetchErr)
	}
	c := m.cfg.Constitution
	tree, _, err := translog.VerifyCheckpoint(cp, c.Origin, m.verifiers, m.cfg.Quorum)
	if err != nil {
		return []*Alert{{Kind: KindCheckpoint, Nodes: []string{n.Name}, Checkpoints: []string{string(cp)},
			Reason: fmt.Sprintf("the served checkpoint does not verify: %v", err)}}, nil
	}
	if a, err := m.place(n, tree, cp); a != nil {
		return []*Alert{a}, nil
	} else if err != nil {
		return nil, err
	}
	m.verified.WithLabelValues(n.Name).Set(float64(tree.N))
	if n.DNS == "" {
		return nil, nil
	}
	a, err := m.checkZone(n, tree)
	if a != nil {
		return []*Alert{a}, nil
	}
	return nil, err
}

// place checks a verified checkpoint against the chain of those seen and
// inserts it: same size, same root; consistent with the neighbours.
func (m *Monitor) place(n *Node, tree tlog.Tree, cp []byte) (*Alert, error) {
	i, found := slices.BinarySearchFunc(m.chain, tree.N, func(s seen, size int64) int {
		switch {
		case s.tree.N < size:
			return -1
		case s.tree.N > size:
			return 1
		}
		return 0
	})
	if found {
		s := m.chain[i]
		if s.tree.Hash != tree.Hash {
			return &Alert{Kind: KindFork, Nodes: []string{s.node.Name, n.Name}, Size: tree.N,
				Checkpoints: []string{string(s.note), string(cp)},
				Reason:      fmt.Sprintf("two checkpoints of size %d with different roots %v and %v", tree.N, s.tree.Hash, tree.Hash)}, nil
		}
		return nil, nil
	}
	if i > 0 {
		if a, err := m.consistent(m.chain[i-1], seen{tree, cp, n}); a != nil || err != nil {
			return a, err
		}
	}
	if i < len(m.chain) {
		if a, err := m.consistent(seen{tree, cp, n}, m.chain[i]); a != nil || err != nil {
			return a, err
		}
	}
	m.chain = slices.Insert(m.chain, i, seen{tree, cp, n})
	if len(m.chain) > maxChain {
		m.chain = slices.Delete(m.chain, 0, len(m.chain)-maxChain)
	}
	return nil, nil
}

// consistent checks that old is consistent with new (old.tree.N <
// new.tree.N), with a proof fetched from the node that served new.
func (m *Monitor) consistent(old, new seen) (*Alert, error) {
	path := fmt.Sprintf("/proof/consistency?old=%d&new=%d", old.tree.N, new.tree.N)
	var proof []tlog.Hash
	var err error
	if old.tree.N > 0 {
		proof, err = verify.FetchProof(m.clients[new.node.Name], path)
		if err != nil {
			return nil, fmt.Errorf("%s (from %s): %v", path, new.node.Name, err)
		}
		err = tlog.CheckTree(proof, new.tree.N, new.tree.Hash, old.tree.N, old.tree.Hash)
	} else if empty, _ := tlog.TreeHash(0, nil); old.tree.Hash != empty {
		err = fmt.Errorf("the empty tree's root is %v, not %v", empty, old.tree.Hash)
	}
	if err != nil {
		return &Alert{Kind: KindInconsistent, Nodes: []string{old.node.Name, new.node.Name}, Size: new.tree.N,
			Checkpoints: []string{string(old.note), string(new.note)},
			Reason: fmt.Sprintf("the checkpoint of size %d is not consistent with the one of size %d (proof from %s): %v",
				new.tree.N, old.tree.N, new.node.Name, err)}, nil
	}
	return nil, nil
}

// checkZone transfers the node's zone and checks it against the log.
func (m *Monitor) checkZone(n *Node, tree tlog.Tree) (*Alert, error) {
	records, err := verify.Transfer(n.DNS, m.cfg.Constitution.Apex)
	if err != nil {
		return nil, fmt.Errorf("zone transfer from %s: %v", n.DNS, err)
	}
	serial, served, err := verify.ServedVersion(records)
	if err != nil {
		return &Alert{Kind: KindZone, Nodes: []string{n.Name}, Served: served, Serial: serial,
			Reason: fmt.Sprintf("the zone served at %s: %v", n.DNS, err)}, nil
	}
	v, ok := m.versions[serial]
	if !ok {
		i, md, err := verify.FindZoneVersion(m.clients[n.Name], tree, serial, m.cfg.MaxScan)
		switch {
		case errors.Is(err, verify.ErrNotLogged):
			since, waiting := m.pending[n.Name]
			if !waiting {
				since = m.cfg.Now()
				m.pending[n.Name] = since
			}
			if m.cfg.Now().Sub(since) < m.cfg.Grace {
				return nil, fmt.Errorf("the served zone (serial %d) is not in the log of size %d yet: %v", serial, tree.N, err)
			}
			return &Alert{Kind: KindZone, Nodes: []string{n.Name}, Serial: serial, Served: served, Size: tree.N,
				Reason: fmt.Sprintf("the zone served at %s (serial %d, ZONEMD %s) has no zone.version entry in the log for %s: %v",
					n.DNS, serial, served, m.cfg.Grace, err)}, nil
		case err != nil:
			return nil, err
		}
		v = logged{index: i, zonemd: md}
		m.versions[serial] = v
	}
	delete(m.pending, n.Name)
	if !strings.EqualFold(v.zonemd, served) {
		e := &verify.ZoneMismatchError{Serial: serial, Served: served, Logged: v.zonemd, Index: v.index}
		return &Alert{Kind: KindZone, Nodes: []string{n.Name}, Serial: serial, Served: served, Logged: v.zonemd, Index: v.index, Size: tree.N,
			Reason: fmt.Sprintf("%s serves at %s %v", n.Name, n.DNS, e)}, nil
	}
	return nil, nil
}

// ErrUnverified says that Once could not check every node in time.
var ErrUnverified = errors.New("monitor: not every node could be checked")

// Once checks every node until each was checked without error (nil), a
// divergence is found (the alerts), or wait has passed (an error wrapping
// [ErrUnverified] that names each node's last problem).
func (m *Monitor) Once(ctx context.Context, wait time.Duration) ([]*Alert, error) {
	deadline := time.Now().Add(wait)
	for {
		alerts, errs := m.Check(ctx)
		if len(alerts) > 0 {
			return alerts, nil
		}
		if len(errs) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnverified, errors.Join(errs...))
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Run checks every node every interval until ctx ends. Problems that are
// not divergences (an unreachable node) are logged as warnings.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_, errs := m.Check(ctx)
		for _, err := range errs {
			m.cfg.Logger.Warn("check incomplete", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
