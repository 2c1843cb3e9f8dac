package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/strictjson"
	"github.com/commonroot/commonroot/node"
	"github.com/commonroot/commonroot/setup"
)

// nodeConfig is the file `commonroot node --config` reads (strict JSON).
// Relative paths are relative to the config file's directory.
type nodeConfig struct {
	// Constitution and ConstitutionSigs are the genesis document and every
	// founder's signature on it (both required).
	Constitution     string `json:"constitution"`
	ConstitutionSigs string `json:"constitution_sigs"`
	Member           string `json:"member"`
	// Dir is the member directory `commonroot init --member` made: the key
	// is Dir/keys/<member>.key and the data directory Dir/node, unless Key
	// or Home say otherwise.
	Dir  string `json:"dir,omitempty"`
	Key  string `json:"key,omitempty"`
	Home string `json:"home,omitempty"`
	// P2P, HTTP and DNS are listen addresses (host:port). P2P defaults to
	// the one in Dir/public.json.
	P2P  string `json:"p2p,omitempty"`
	HTTP string `json:"http"`
	DNS  string `json:"dns"`
	// Peers are CometBFT peers "ID@host:port"; Founders, a founders.json
	// from `constitution assemble`, adds every other founder with a p2p
	// address.
	Peers    []string `json:"peers,omitempty"`
	Founders string   `json:"founders,omitempty"`
	// PeerAPIs are other members' HTTP base URLs (checkpoint cosignatures
	// are also collected from them).
	PeerAPIs []string `json:"peer_apis,omitempty"`
	// AllowTransfer are prefixes allowed to AXFR/IXFR; Notify the
	// secondaries (host:port) to NOTIFY of every new zone version.
	AllowTransfer []string `json:"allow_transfer,omitempty"`
	Notify        []string `json:"notify,omitempty"`
	// Witnesses are external witnesses, each "URL VKEY" (the witness's
	// add-checkpoint prefix and its cosignature key): every served
	// checkpoint goes to them and comes back cosigned.
	Witnesses []string `json:"witnesses,omitempty"`
	// Limits bounds API submissions: sustained actions per second per
	// client address and per signer, and the burst (0: no limit).
	Limits struct {
		PerAddress float64 `json:"per_address,omitempty"`
		PerSigner  float64 `json:"per_signer,omitempty"`
		Burst      float64 `json:"burst,omitempty"`
	} `json:"limits,omitzero"`
	// Fast selects short consensus timeouts (a LAN or a test).
	Fast bool `json:"fast,omitempty"`
	// PeerTimeout is how long to wait before warning of unreachable peers
	// (default 10s).
	PeerTimeout string `json:"peer_timeout,omitempty"`
	// LogLevel is debug, info (default), warn or error; ConsensusLog also
	// shows CometBFT's error lines.
	LogLevel     string `json:"log_level,omitempty"`
	ConsensusLog bool   `json:"consensus_log,omitempty"`
}

// afterStart, when set, runs once the node has started. Only test builds
// set it (hostile.go, built with -tags hostile, makes a hostile member).
var afterStart func(*node.Node, node.Config)

// nodeSetup is a checked nodeConfig.
type nodeSetup struct {
	cfg         node.Config
	home        string
	peerTimeout time.Duration
}

func runNode(args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	path := fs.String("config", "", "the node's config file (JSON)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *path == "" {
		return errors.New("usage: commonroot node --config FILE")
	}
	ns, err := loadNodeConfig(*path)
	if err != nil {
		return err
	}
	logger := ns.cfg.Logger
	n, err := node.Start(ns.cfg)
	if err != nil {
		return err
	}
	if afterStart != nil {
		afterStart(n, ns.cfg)
	}
	stopWatch := make(chan struct{})
	go watchPeers(logger, ns.cfg.Peers, ns.peerTimeout, stopWatch)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	s := <-sigs
	close(stopWatch)
	logger.Info("stopping", "signal", s.String())
	go func() {
		<-sigs
		logger.Error("second signal: exiting without a clean stop (the store and CometBFT recover on restart)")
		os.Exit(1)
	}()
	n.Stop()
	logger.Info("stopped")
	return nil
}

// loadNodeConfig reads and checks a node config file, with errors that
// name the file, the field and what to do.
func loadNodeConfig(path string) (*nodeSetup, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nc nodeConfig
	if err := strictjson.Unmarshal(b, &nc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	fail := func(field, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", path, field, fmt.Sprintf(format, a...))
	}
	for _, f := range []struct{ name, v string }{{"constitution", nc.Constitution}, {"constitution_sigs", nc.ConstitutionSigs}, {"member", nc.Member}, {"http", nc.HTTP}, {"dns", nc.DNS}} {
		if f.v == "" {
			return nil, fail(f.name, "missing")
		}
	}
	if nc.Dir == "" && (nc.Key == "" || nc.Home == "") {
		return nil, fail("dir", "missing (or give both key and home)")
	}
	key, home := rel(nc.Key), rel(nc.Home)
	if key == "" {
		key = setup.MemberDirKey(rel(nc.Dir), nc.Member)
	}
	if home == "" {
		home = setup.MemberDirHome(rel(nc.Dir))
	}
	c, err := readConstitution(rel(nc.Constitution))
	if err != nil {
		return nil, fail("constitution", "%v", err)
	}
	sigs, err := os.ReadFile(rel(nc.ConstitutionSigs))
	if err != nil {
		return nil, fail("constitution_sigs", "%v", err)
	}
	k, err := setup.LoadKey(key)
	if err != nil {
		return nil, fail("key", "%v", err)
	}
	if k.Signer.Name() != nc.Member {
		return nil, fail("key", "%s is %q's key, not member %q's", key, k.Signer.Name(), nc.Member)
	}
	if m, ok := c.Member(nc.Member); ok {
		if v, err := note.NewVerifier(m.Key); err != nil || v.KeyHash() != k.Signer.KeyHash() {
			return nil, fail("key", "%s is not member %q's key: the constitution has %s, the file holds %s", key, nc.Member, m.Key, k.Verifier)
		}
	}
	if err := checkHome(home, c); err != nil {
		return nil, fail("home", "%v", err)
	}
	p2p := nc.P2P
	if p2p == "" && nc.Dir != "" {
		if b, err := os.ReadFile(setup.MemberDirPublic(rel(nc.Dir))); err == nil {
			if p, err := setup.ParsePublic(b); err == nil {
				p2p = p.P2P
			}
		}
	}
	if p2p == "" {
		return nil, fail("p2p", "missing (and not in the member directory's public.json)")
	}
	for _, a := range []struct{ name, v string }{{"p2p", p2p}, {"http", nc.HTTP}, {"dns", nc.DNS}} {
		if _, err := netip.ParseAddrPort(a.v); err != nil && checkHostPort(a.v) != nil {
			return nil, fail(a.name, "%q is not HOST:PORT", a.v)
		}
	}
	peers := slices.Clone(nc.Peers)
	if nc.Founders != "" {
		var fs []setup.Public
		if err := readStrict(rel(nc.Founders), &fs); err != nil {
			return nil, fail("founders", "%v", err)
		}
		for _, f := range fs {
			if f.Name != nc.Member && f.Peer() != "" && !slices.Contains(peers, f.Peer()) {
				peers = append(peers, f.Peer())
			}
		}
	}
	for _, p := range peers {
		if err := checkPeer(p); err != nil {
			return nil, fail("peers", "%q: %v", p, err)
		}
	}
	var allow []netip.Prefix
	for _, s := range nc.AllowTransfer {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fail("allow_transfer", "%q is not a prefix such as 192.0.2.0/24: %v", s, err)
		}
		allow = append(allow, p)
	}
	for _, s := range nc.Notify {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fail("notify", "%q is not HOST:PORT", s)
		}
	}
	timeout := 10 * time.Second
	if nc.PeerTimeout != "" {
		if timeout, err = time.ParseDuration(nc.PeerTimeout); err != nil || timeout <= 0 {
			return nil, fail("peer_timeout", "%q is not a positive duration such as 10s", nc.PeerTimeout)
		}
	}
	var level slog.Level
	if nc.LogLevel != "" {
		if err := level.UnmarshalText([]byte(nc.LogLevel)); err != nil {
			return nil, fail("log_level", "%q: want debug, info, warn or error", nc.LogLevel)
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("member", nc.Member)
	cfg := node.Config{
		Constitution: c, ConstitutionSigs: sigs, Member: nc.Member, Key: k.Signer, Home: home,
		P2P: p2p, Peers: peers, HTTP: nc.HTTP, DNS: nc.DNS, PeerAPIs: nc.PeerAPIs,
		AllowTransfer: allow, Notify: nc.Notify, Witnesses: nc.Witnesses, Fast: nc.Fast, Logger: logger,
		Limits: api.Limits{PerAddress: nc.Limits.PerAddress, PerSigner: nc.Limits.PerSigner, Burst: nc.Limits.Burst},
	}
	if nc.ConsensusLog {
		cfg.CometLog = os.Stderr
	}
	return &nodeSetup{cfg: cfg, home: home, peerTimeout: timeout}, nil
}

// checkHome refuses a data directory that CometBFT already ran for
// another federation (its genesis names another chain). The store checks
// the same on open; this says it before anything is touched.
func checkHome(home string, c *constitution.Constitution) error {
	b, err := os.ReadFile(filepath.Join(home, "config", "genesis.json"))
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var g struct {
		ChainID string `json:"chain_id"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return fmt.Errorf("%s/config/genesis.json: %v", home, err)
	}
	if g.ChainID != c.ChainID() {
		return fmt.Errorf("the data directory %s belongs to another federation (chain %s), not this constitution's (chain %s, origin %q): give this node a fresh data directory, or the constitution it was made for", home, g.ChainID, c.ChainID(), c.Origin)
	}
	return nil
}

// checkPeer checks a CometBFT peer address "ID@host:port".
func checkPeer(p string) error {
	id, addr, ok := strings.Cut(p, "@")
	if !ok {
		return errors.New("want NODE-ID@HOST:PORT")
	}
	if b, err := hex.DecodeString(id); err != nil || len(b) != 20 {
		return fmt.Errorf("node ID %q is not 40 hex digits", id)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("address %q is not HOST:PORT", addr)
	}
	return nil
}

// watchPeers warns, after timeout, of every peer whose address does not
// accept a TCP connection, and again every timeout until it does (CometBFT
// keeps redialling on its own; this only tells the operator).
func watchPeers(logger *slog.Logger, peers []string, timeout time.Duration, stop <-chan struct{}) {
	pending := map[string]bool{}
	for _, p := range peers {
		pending[p] = true
	}
	for len(pending) > 0 {
		select {
		case <-stop:
			return
		case <-time.After(timeout):
		}
		for _, p := range peers {
			if !pending[p] {
				continue
			}
			_, addr, _ := strings.Cut(p, "@")
			conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				logger.Warn("peer unreachable; consensus keeps redialling", "peer", p, "addr", addr, "err", err)
				continue
			}
			conn.Close()
			delete(pending, p)
		}
	}
}
