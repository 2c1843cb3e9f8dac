// Package consensus keeps CometBFT (v0.38, linked in-process through ABCI
// 2.0's local client) behind one small API: make a node's keys, start a node
// for an application with the federation's genesis, submit transactions,
// stop it cleanly. No other package imports CometBFT's node machinery, so
// the engine's version can be changed here alone.
//
// It carries the workarounds that running several CometBFT nodes in one
// process needs (see the project's notes/cometbft.md): a database provider
// that survives reads after Close, the null transaction indexer, stopping
// the ABCI proxy after the node, and loopback-friendly p2p settings.
package consensus

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	"github.com/cometbft/cometbft/types"
)

// Identity is what a node's home directory holds about itself.
type Identity struct {
	// NodeID is the p2p node ID (hex), used in peer addresses "ID@host:port".
	NodeID string
	// Validator is the Ed25519 public key of the node's validator.
	Validator ed25519.PublicKey
}

// InitHome creates home/config and home/data with a node key and a
// validator key, unless they exist; it never overwrites a key or the
// validator's last-signed state (the double-sign guard).
func InitHome(home string) (Identity, error) {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	for _, d := range []string{filepath.Join(home, "config"), filepath.Join(home, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return Identity{}, fmt.Errorf("consensus: %v", err)
		}
	}
	nk, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
	if err != nil {
		return Identity{}, fmt.Errorf("consensus: node key %s: %v", c.NodeKeyFile(), err)
	}
	keyFile, stateFile := c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()
	var pv *privval.FilePV
	if fileExists(keyFile) {
		if !fileExists(stateFile) {
			return Identity{}, fmt.Errorf("consensus: %s exists but %s is missing: refusing to start a validator without its double-sign guard", keyFile, stateFile)
		}
		pv = privval.LoadFilePV(keyFile, stateFile)
	} else {
		pv = privval.GenFilePV(keyFile, stateFile)
		pv.Save()
	}
	pub, err := pv.GetPubKey()
	if err != nil {
		return Identity{}, fmt.Errorf("consensus: validator key: %v", err)
	}
	return Identity{NodeID: string(nk.ID()), Validator: ed25519.PublicKey(pub.Bytes())}, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Validator is one member's validator in the genesis.
type Validator struct {
	Name   string
	PubKey ed25519.PublicKey
	Power  int64
}

// Config says how to run one node.
type Config struct {
	Home        string
	Moniker     string
	ChainID     string
	GenesisTime time.Time
	Validators  []Validator
	// AppState is handed to the application's InitChain (the constitution).
	AppState []byte
	// P2P is the host:port to listen on for peers; Peers are "ID@host:port".
	P2P   string
	Peers []string
	// Fast selects short consensus timeouts (a local federation);
	// otherwise CometBFT's defaults suit nodes across the Internet.
	Fast bool
	// Log receives CometBFT's log lines (errors only unless Verbose).
	Log     io.Writer
	Verbose bool
}

// Node is a running CometBFT node.
type Node struct {
	n      *node.Node
	client *local.Local
	dbs    *dbTracker
	once   sync.Once
}

// Start starts a node for app. The caller must Stop it.
func Start(c Config, app abci.Application) (*Node, error) {
	if c.Log == nil {
		c.Log = io.Discard
	}
	conf := cfg.DefaultConfig()
	conf.SetRoot(c.Home)
	conf.Moniker = c.Moniker
	conf.DBBackend = string("goleveldb")
	conf.P2P.ListenAddress = "tcp://" + c.P2P
	conf.P2P.PersistentPeers = strings.Join(c.Peers, ",")
	conf.P2P.AllowDuplicateIP = true
	conf.P2P.AddrBookStrict = false
	conf.P2P.PexReactor = false
	conf.RPC.ListenAddress = ""
	conf.TxIndex.Indexer = "null"
	conf.Instrumentation.Prometheus = false
	conf.Mempool.Size = 20000
	conf.Consensus.CreateEmptyBlocks = true
	conf.Consensus.CreateEmptyBlocksInterval = 5 * time.Second
	if c.Fast {
		conf.Consensus.TimeoutPropose = 400 * time.Millisecond
		conf.Consensus.TimeoutPrevote = 200 * time.Millisecond
		conf.Consensus.TimeoutPrecommit = 200 * time.Millisecond
		// Long enough for the shares of every signer a block chose to
		// reach the next proposer: each signing round then takes one
		// block, not two (measured: BenchmarkChangeSignedServed).
		conf.Consensus.TimeoutCommit = 150 * time.Millisecond
		conf.Consensus.PeerGossipSleepDuration = 10 * time.Millisecond
	}
	if err := conf.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("consensus: config: %v", err)
	}
	if _, err := InitHome(c.Home); err != nil {
		return nil, err
	}
	nk, err := p2p.LoadNodeKey(conf.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("consensus: node key: %v", err)
	}
	pv := privval.LoadFilePV(conf.PrivValidatorKeyFile(), conf.PrivValidatorStateFile())
	gen, err := Genesis(c)
	if err != nil {
		return nil, err
	}
	genJSON, err := cmtjson.MarshalIndent(gen, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("consensus: genesis: %v", err)
	}
	if err := os.WriteFile(conf.GenesisFile(), genJSON, 0o600); err != nil {
		return nil, fmt.Errorf("consensus: %v", err)
	}
	provider := func() (*types.GenesisDoc, error) { return types.GenesisDocFromJSON(genJSON) }
	level := "error"
	if c.Verbose {
		level = "info"
	}
	opt, _ := cmtlog.AllowLevel(level)
	logger := cmtlog.NewFilter(cmtlog.NewTMLogger(cmtlog.NewSyncWriter(c.Log)), opt).With("member", c.Moniker)
	dbs := &dbTracker{}
	n, err := node.NewNode(conf, pv, nk, proxy.NewConnSyncLocalClientCreator(app), provider, dbs.provide, node.DefaultMetricsProvider(conf.Instrumentation), logger)
	if err != nil {
		dbs.closeAll()
		return nil, fmt.Errorf("consensus: starting node %s: %v", c.Moniker, err)
	}
	if err := n.Start(); err != nil {
		n.ProxyApp().Stop()
		dbs.closeAll()
		return nil, fmt.Errorf("consensus: starting node %s: %v", c.Moniker, err)
	}
	return &Node{n: n, client: local.New(n), dbs: dbs}, nil
}

// Genesis returns the CometBFT genesis document of a federation.
func Genesis(c Config) (*types.GenesisDoc, error) {
	g := &types.GenesisDoc{
		GenesisTime:     c.GenesisTime.UTC(),
		ChainID:         c.ChainID,
		InitialHeight:   1,
		ConsensusParams: types.DefaultConsensusParams(),
		AppState:        c.AppState,
	}
	g.ConsensusParams.Block.MaxBytes = 8 << 20
	// Vote extensions carry each member's cosignature of the log's checkpoint.
	g.ConsensusParams.ABCI.VoteExtensionsEnableHeight = 1
	for _, v := range c.Validators {
		if len(v.PubKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("consensus: validator %q: key of %d bytes", v.Name, len(v.PubKey))
		}
		pk := cmted25519.PubKey(v.PubKey)
		g.Validators = append(g.Validators, types.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: v.Power, Name: v.Name})
	}
	if err := g.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("consensus: genesis: %v", err)
	}
	return g, nil
}

// ErrRejected wraps a CheckTx refusal.
var ErrRejected = errors.New("rejected")

// Submit hands tx to the mempool and returns CheckTx's verdict: an error
// wrapping ErrRejected carries the application's reason.
func (n *Node) Submit(tx []byte) error {
	res, err := n.client.BroadcastTxSync(context.Background(), tx)
	if err != nil {
		return fmt.Errorf("consensus: submitting: %v", err)
	}
	if res.Code != abci.CodeTypeOK {
		return fmt.Errorf("%w: %s", ErrRejected, res.Log)
	}
	return nil
}

// Synced reports whether the node has caught up and takes part in consensus.
func (n *Node) Synced() bool { return !n.n.ConsensusReactor().WaitSync() }

// Height is the height of the latest block the node stored.
func (n *Node) Height() int64 { return n.n.BlockStore().Height() }

// TxKey is the hash CometBFT identifies a transaction by.
func TxKey(tx []byte) string {
	k := types.Tx(tx).Key()
	return hex.EncodeToString(k[:])
}

// Stop stops the node and closes everything it opened. It is safe to call
// more than once.
func (n *Node) Stop() {
	n.once.Do(func() {
		if err := n.n.Stop(); err == nil {
			n.n.Wait()
		}
		n.n.ProxyApp().Stop()
		n.dbs.closeAll()
	})
}
