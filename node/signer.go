package node

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/threshold"
)

// The signer is this member's part in signing zone versions (see
// registry's signing.go): after every commit, from the keyholder's
// goroutine, it keeps the member's pool of nonce commitments filled and,
// when the member is a signer of the open request's session, sends its
// signature shares.
//
// The secret nonces stay in HOME/keys/nonces-<ceremony>.json (0600),
// written before their commitments are sent, so that a restarted node can
// still sign with the commitments the federation holds. The state gives
// each commitment to exactly one session, and a share is a function of the
// nonces, the message and the session's commitments, so a node that signs
// again after a restart sends the same share: a nonce never signs two
// messages. Nonces whose commitments are in neither the pool nor the open
// request are deleted.

// PoolReserve is how many unused nonce commitments a key holder keeps in
// the federation's pool beyond what the open request needs.
const PoolReserve = 256

// maxNonceActions bounds the nonce actions a node has in flight.
const maxNonceActions = 6

// nonceFile is HOME/keys/nonces-<ceremony>.json.
type nonceFile struct {
	Ceremony uint64 `json:"ceremony"`
	Member   string `json:"member"`
	// Nonces are threshold.SigningNonces.Encode() in base64.
	Nonces []string `json:"nonces"`
}

func noncePath(home string, ceremony uint64) string {
	return filepath.Join(home, "keys", fmt.Sprintf("nonces-%d.json", ceremony))
}

// signerState is the signer's memory between steps (under keyholder.mu).
type signerState struct {
	ceremony uint64
	nonces   map[[64]byte][]byte // commitment → encoded nonces
	// noncesSent counts the commitments sent at height noncesAt, when
	// the pool had received noncesBase in all (used and unused); those
	// received since are no longer in flight.
	noncesSent int
	noncesAt   int64
	noncesBase uint64
	// sharesSent names the chunks of request sharesFor sent
	// (request/session/chunk) and when.
	sharesSent map[string]int64
	sharesFor  uint64
}

// loadNonces reads the nonce file of ceremony.
func (n *Node) loadNonces(ceremony uint64) (map[[64]byte][]byte, error) {
	out := map[[64]byte][]byte{}
	b, err := os.ReadFile(noncePath(n.cfg.Home, ceremony))
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var f nonceFile
	if err := json.Unmarshal(b, &f); err != nil || f.Ceremony != ceremony || f.Member != n.cfg.Member {
		return nil, fmt.Errorf("node: %s is not %s's nonce file for ceremony %d", noncePath(n.cfg.Home, ceremony), n.cfg.Member, ceremony)
	}
	for _, s := range f.Nonces {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("node: nonce file: %v", err)
		}
		no, err := threshold.DecodeSigningNonces(raw)
		if err != nil {
			return nil, fmt.Errorf("node: nonce file: %v", err)
		}
		out[commitmentKey(no.Commitment())] = raw
	}
	return out, nil
}

func (n *Node) saveNonces(ceremony uint64, nonces map[[64]byte][]byte) error {
	f := nonceFile{Ceremony: ceremony, Member: n.cfg.Member, Nonces: []string{}}
	for _, raw := range nonces {
		f.Nonces = append(f.Nonces, base64.StdEncoding.EncodeToString(raw))
	}
	return writeSecret(noncePath(n.cfg.Home, ceremony), f)
}

func commitmentKey(c threshold.SigningCommitment) [64]byte {
	return [64]byte(c.Encode()[threshold.IDSize:])
}

// SetSigningPaused stops (or resumes) this node's part in signing while it
// goes on taking part in consensus: only for tests of a federation with
// fewer than the threshold of signers.
func (n *Node) SetSigningPaused(on bool) {
	n.keys.mu.Lock()
	defer n.keys.mu.Unlock()
	n.keys.signPaused = on
}

// signStep runs the signer's duties once.
func (n *Node) signStep() error {
	n.keys.mu.Lock()
	paused := n.keys.signPaused
	n.keys.mu.Unlock()
	if paused {
		return nil
	}
	var (
		zk       registry.ZoneKey
		keyed    bool
		pool     registry.Pool
		req      registry.SigningRequest
		open     bool
		l        lane
		isMember bool
	)
	me := n.cfg.Member
	n.app.View(func(s *registry.State) {
		if s == nil {
			return
		}
		zk, keyed = s.ZoneKey()
		pool, _ = s.Pool(me)
		req, open = s.SigningRequest()
		l = laneOf(s, me)
		_, isMember = s.Member(me)
	})
	if !keyed || !isMember || zk.KeyParticipantID(me) == 0 {
		return nil
	}
	// The key share is read from disk only when there is work for it.
	var share *threshold.KeyShare
	loadShare := func() (*threshold.KeyShare, error) {
		if share == nil {
			var err error
			if share, err = LoadZoneShare(n.cfg.Home, zk.Ceremony); err != nil {
				return nil, err
			}
		}
		return share, nil
	}
	defer func() {
		if share != nil {
			share.Zero()
		}
	}()
	txs, err := n.signActions(zk, loadShare, pool, req, open, l)
	// Submit outside the lock: CheckTx waits while a block commits, and
	// the commit hook takes the lock.
	for _, tx := range txs {
		if err := n.cons.Submit(tx); err != nil {
			return fmt.Errorf("node: submitting a sign action: %v", err)
		}
	}
	return err
}

// signActions decides and signs the sign actions this member's node owes.
func (n *Node) signActions(zk registry.ZoneKey, loadShare func() (*threshold.KeyShare, error), pool registry.Pool, req registry.SigningRequest, open bool, l lane) ([][]byte, error) {
	me, height := n.cfg.Member, l.height
	k := &n.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	ss := &k.sign
	if ss.ceremony != zk.Ceremony || ss.nonces == nil {
		nonces, err := n.loadNonces(zk.Ceremony)
		if err != nil {
			return nil, err
		}
		*ss = signerState{ceremony: zk.Ceremony, nonces: nonces, sharesSent: map[string]int64{}}
	}
	if pool.Ceremony != zk.Ceremony {
		pool = registry.Pool{}
	}
	var txs [][]byte
	send := func(b *action.Signing) error {
		seq := n.nodeSeqLocked(l.next, height)
		tx, err := action.Sign(action.Action{Origin: l.origin, Signer: me, Seq: seq, Expires: l.now.Add(time.Hour).UTC().Format(time.RFC3339),
			Kind: action.KindSign, Body: b}, n.cfg.Key)
		if err != nil {
			return err
		}
		txs = append(txs, tx)
		return nil
	}

	// Signature shares first: they are what the federation waits for.
	if open {
		if j := req.SignerIndex(me); j >= 0 {
			if err := n.sendShares(req, j, loadShare, zk, height, send); err != nil {
				return txs, err
			}
		}
	}

	// Commitments still in flight: those sent less what the pool received
	// since (all of them counted, used or not). After resendAfter blocks
	// the rest count as dropped. Counting right matters: a pool refuses
	// what would take it past MaxPool, and a refused action leaves a gap
	// in this node's sequence numbers that holds up its shares.
	received := pool.Used + uint64(pool.Len())
	if ss.noncesSent > 0 && (received < ss.noncesBase || received >= ss.noncesBase+uint64(ss.noncesSent) || height >= ss.noncesAt+resendAfter) {
		ss.noncesSent = 0
	}
	inFlight := 0
	if ss.noncesSent > 0 {
		inFlight = ss.noncesSent - int(received-ss.noncesBase)
	}
	if ss.noncesSent == 0 {
		keep := map[[64]byte]bool{}
		for off := 0; off+action.NonceSize <= len(pool.Commitments); off += action.NonceSize {
			keep[[64]byte(pool.Commitments[off:])] = true
		}
		if open {
			if j := req.SignerIndex(me); j >= 0 {
				for i := range req.Count {
					keep[[64]byte(req.Commitment(j, i))] = true
				}
			}
		}
		dropped := 0
		for c := range ss.nonces {
			if !keep[c] {
				delete(ss.nonces, c)
				dropped++
			}
		}
		if dropped > 0 {
			if err := n.saveNonces(zk.Ceremony, ss.nonces); err != nil {
				return txs, fmt.Errorf("node: saving nonces: %v", err)
			}
		}
	}

	// Fill the pool.
	want := PoolReserve
	if open && req.Round == registry.RoundRRsets {
		want += req.RRsets - req.Done // the batches still to come, as far as the pool holds
	}
	want = min(want, registry.MaxPool)
	have := pool.Len() + inFlight
	if have >= want {
		return txs, nil
	}
	share, err := loadShare()
	if err != nil {
		return txs, err
	}
	var batches [][]byte
	for have < want && len(batches) < maxNonceActions {
		m := min(action.MaxNonces, want-have)
		var data []byte
		for range m {
			no, err := threshold.Commit(rand.Reader, share)
			if err != nil {
				return txs, err
			}
			raw, err := no.Encode()
			if err != nil {
				return txs, err
			}
			c := commitmentKey(no.Commitment())
			ss.nonces[c] = raw
			data = append(data, c[:]...)
		}
		batches = append(batches, data)
		have += m
	}
	// The nonces are on disk before their commitments leave the node.
	if err := n.saveNonces(zk.Ceremony, ss.nonces); err != nil {
		return txs, fmt.Errorf("node: saving nonces: %v", err)
	}
	if ss.noncesSent == 0 {
		ss.noncesBase = received
	}
	for _, data := range batches {
		if err := send(&action.Signing{Step: action.StepNonces, Ceremony: zk.Ceremony, Data: base64.StdEncoding.EncodeToString(data)}); err != nil {
			return txs, err
		}
		ss.noncesSent += len(data) / action.NonceSize
	}
	ss.noncesAt = height
	n.cfg.Logger.Debug("signing: nonce commitments sent", "count", have-pool.Len(), "pool", pool.Len())
	return txs, nil
}

// sendShares computes this member's signature shares for its session of
// req and sends the chunks the federation has not received.
func (n *Node) sendShares(req registry.SigningRequest, j int, loadShare func() (*threshold.KeyShare, error), zk registry.ZoneKey, height int64, send func(*action.Signing) error) error {
	ss := &n.keys.sign
	if ss.sharesFor != req.ID {
		ss.sharesSent, ss.sharesFor = map[string]int64{}, req.ID
	}
	var owed []int
	for c := range req.Chunks() {
		key := fmt.Sprintf("%d/%d/%d", req.ID, req.Session, c)
		if req.Shares[j][c] != nil {
			continue
		}
		if at, ok := ss.sharesSent[key]; ok && height < at+resendAfter {
			continue
		}
		owed = append(owed, c)
	}
	if len(owed) == 0 {
		return nil
	}
	share, err := loadShare()
	if err != nil {
		return err
	}
	r, msgs, err := n.app.SigningMessages()
	if err != nil {
		return err
	}
	if r.ID != req.ID || r.Session != req.Session || r.Round != req.Round || len(msgs) != req.Count {
		return nil // the request moved on meanwhile
	}
	for _, c := range owed {
		lo, hi := c*action.SharesPerChunk, min(req.Count, (c+1)*action.SharesPerChunk)
		data := make([]byte, 0, (hi-lo)*action.ShareSize)
		for i := lo; i < hi; i++ {
			list, err := req.CommitmentList(zk, i)
			if err != nil {
				return err
			}
			raw, ok := ss.nonces[[64]byte(req.Commitment(j, i))]
			if !ok {
				return fmt.Errorf("node: signing request %d session %d: no nonce for this member's commitment %d (the nonce file was lost?)", req.ID, req.Session, i)
			}
			no, err := threshold.DecodeSigningNonces(raw)
			if err != nil {
				return err
			}
			sh, err := threshold.SignChecked(share, no, msgs[i], list)
			if err != nil {
				return fmt.Errorf("node: signing message %d of request %d: %v", i, req.ID, err)
			}
			data = append(data, sh.Z.Bytes()...)
		}
		if err := send(&action.Signing{Step: action.StepShares, Request: req.ID, Session: req.Session, Chunk: c, Data: base64.StdEncoding.EncodeToString(data)}); err != nil {
			return err
		}
		ss.sharesSent[fmt.Sprintf("%d/%d/%d", req.ID, req.Session, c)] = height
	}
	n.cfg.Logger.Info("signing: shares sent", "request", req.ID, "session", req.Session, "round", req.Round, "count", req.Count)
	return nil
}
