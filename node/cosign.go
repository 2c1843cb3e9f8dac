package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/translog"
)

// Checkpoint cosigning runs through consensus. When a validator precommits
// block H it attaches, as its vote extension, its member key's signature
// on the log's checkpoint after block H-1. The proposer of block H+1 puts
// the extensions it received into a cosign transaction at the head of the
// block; every node checks them in ProcessProposal and merges them into its
// stored checkpoint at Commit. So every checkpoint carries the signatures
// of more than two thirds of the members one block after it was made, and
// the node serves only checkpoints that do (translog.SetServeQuorum).
//
// A member whose extension carries a valid signature on a checkpoint that
// is not the log's at that size has signed two different trees of the same
// size (the one the federation agreed on in consensus, and this one): the
// node that sees it submits the signed note as evidence, and the state
// machine logs a checkpoint.equivocation entry naming the member, with the
// offending note and the checkpoint it contradicts.

// Prefixes of the transactions the nodes make themselves (never a user's
// action: those are signed notes that start with "{").
const (
	cosignPrefix   = "commonroot/cosign/v1\n"
	evidencePrefix = "commonroot/evidence/v1\n"
)

// cosignTx is the body of a cosign transaction.
type cosignTx struct {
	Notes []string `json:"notes"`
}

// evidenceTx is the body of an evidence transaction.
type evidenceTx struct {
	Member string `json:"member"`
	Note   string `json:"note"`
}

// SetSigner gives the app its member's key: it signs the checkpoint in
// each vote extension. Without it the node votes with empty extensions.
func (a *App) SetSigner(member string, s note.Signer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.member, a.signer = member, s
}

// SetEquivocate makes the app sign a wrong checkpoint in its vote
// extensions: only for tests of how the others catch a hostile member.
func (a *App) SetEquivocate(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.equivocate = on
}

// SetAdmitAll makes the app's CheckTx admit every transaction, so that
// invalid actions enter its mempool, are gossiped to the other nodes and
// fill the blocks it proposes: only for tests of how the others bear a
// hostile member's flood.
func (a *App) SetAdmitAll(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.admitAll = on
}

// ExtendVote signs the committed checkpoint.
func (a *App) ExtendVote(context.Context, *abci.RequestExtendVote) (*abci.ResponseExtendVote, error) {
	a.mu.RLock()
	s, lie := a.signer, a.equivocate
	a.mu.RUnlock()
	if s == nil {
		return &abci.ResponseExtendVote{}, nil
	}
	if lie {
		t := a.log.Tree()
		t.Hash[0] ^= 0xff
		msg, err := note.Sign(&note.Note{Text: string(translog.FormatCheckpoint(a.log.Origin(), t.N, t.Hash))}, s)
		if err != nil {
			return &abci.ResponseExtendVote{}, nil
		}
		return &abci.ResponseExtendVote{VoteExtension: msg}, nil
	}
	msg, err := a.log.Sign(s)
	if err != nil {
		return &abci.ResponseExtendVote{}, nil // a vote without a cosignature is still a vote
	}
	return &abci.ResponseExtendVote{VoteExtension: msg}, nil
}

// VerifyVoteExtension accepts an empty extension or a valid cosignature by
// the voting validator's member of our committed checkpoint. A valid
// signature on another checkpoint of the same size is kept as evidence.
func (a *App) VerifyVoteExtension(_ context.Context, req *abci.RequestVerifyVoteExtension) (*abci.ResponseVerifyVoteExtension, error) {
	accept := &abci.ResponseVerifyVoteExtension{Status: abci.ResponseVerifyVoteExtension_ACCEPT}
	reject := &abci.ResponseVerifyVoteExtension{Status: abci.ResponseVerifyVoteExtension_REJECT}
	if len(req.VoteExtension) == 0 {
		return accept, nil
	}
	member, v := a.memberByValidator(req.ValidatorAddress)
	if v == nil {
		return reject, nil
	}
	if err := a.checkCosignature(req.VoteExtension, member, v); err != nil {
		var eq *translog.EquivocationError
		if errors.As(err, &eq) {
			a.noteEquivocation(member, req.VoteExtension)
		}
		return reject, nil
	}
	return accept, nil
}

// checkCosignature checks that msg is member's signature on our committed
// checkpoint at its size.
func (a *App) checkCosignature(msg []byte, member string, v note.Verifier) error {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("cosignature of %q: %v", member, err)
	}
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return fmt.Errorf("cosignature of %q carries other signatures", member)
	}
	origin, size, _, err := translog.ParseCheckpoint([]byte(n.Text))
	if err != nil || origin != a.log.Origin() {
		return fmt.Errorf("cosignature of %q is not a checkpoint of this log", member)
	}
	ours, err := a.log.CheckpointBody(size)
	if err != nil {
		return err
	}
	if n.Text != string(ours) {
		return &translog.EquivocationError{Size: size, Ours: ours, Theirs: msg}
	}
	return nil
}

// memberByValidator finds the member whose validator has the CometBFT
// address addr (the first 20 bytes of the SHA-256 of its public key).
func (a *App) memberByValidator(addr []byte) (string, note.Verifier) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.state == nil {
		return "", nil
	}
	for _, m := range a.state.Members() {
		pub, _ := base64.StdEncoding.DecodeString(m.Validator)
		h := sha256.Sum256(pub)
		if bytes.Equal(h[:20], addr) {
			v, err := note.NewVerifier(m.Key)
			if err != nil {
				return "", nil
			}
			return m.Name, v
		}
	}
	return "", nil
}

// noteEquivocation remembers evidence to submit after the next commit.
func (a *App) noteEquivocation(member string, msg []byte) {
	b, _ := json.Marshal(evidenceTx{Member: member, Note: string(msg)})
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evidence = append(a.evidence, append([]byte(evidencePrefix), b...))
}

// takeEvidence returns and forgets the evidence transactions to submit.
func (a *App) takeEvidence() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.evidence
	a.evidence = nil
	return e
}

// PrepareProposal puts the cosignatures of the last commit at the head of
// the block, then the mempool's transactions that fit.
func (a *App) PrepareProposal(_ context.Context, req *abci.RequestPrepareProposal) (*abci.ResponsePrepareProposal, error) {
	// CometBFT adds a precommit that arrives after the commit to the last
	// commit without asking VerifyVoteExtension: check every extension here.
	var notes []string
	for _, v := range req.LocalLastCommit.Votes {
		if v.BlockIdFlag != cmtproto.BlockIDFlagCommit || len(v.VoteExtension) == 0 {
			continue
		}
		member, verifier := a.memberByValidator(v.Validator.Address)
		if verifier == nil {
			continue
		}
		if err := a.checkCosignature(v.VoteExtension, member, verifier); err != nil {
			var eq *translog.EquivocationError
			if errors.As(err, &eq) {
				a.noteEquivocation(member, v.VoteExtension)
			}
			continue
		}
		notes = append(notes, string(v.VoteExtension))
	}
	var txs [][]byte
	var size int64
	if len(notes) > 0 {
		b, _ := json.Marshal(cosignTx{Notes: notes})
		tx := append([]byte(cosignPrefix), b...)
		txs, size = append(txs, tx), int64(len(tx))
	}
	for _, tx := range req.Txs {
		if bytes.HasPrefix(tx, []byte(cosignPrefix)) {
			continue
		}
		if size+int64(len(tx)) > req.MaxTxBytes {
			break
		}
		txs, size = append(txs, tx), size+int64(len(tx))
	}
	return &abci.ResponsePrepareProposal{Txs: txs}, nil
}

// ProcessProposal refuses a block whose cosign transaction is misplaced or
// carries a signature that is not a member's on our checkpoint.
func (a *App) ProcessProposal(_ context.Context, req *abci.RequestProcessProposal) (*abci.ResponseProcessProposal, error) {
	accept := &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_ACCEPT}
	reject := &abci.ResponseProcessProposal{Status: abci.ResponseProcessProposal_REJECT}
	for i, tx := range req.Txs {
		if !bytes.HasPrefix(tx, []byte(cosignPrefix)) {
			continue
		}
		if i != 0 {
			return reject, nil
		}
		if _, err := a.cosignatures(tx); err != nil {
			return reject, nil
		}
	}
	return accept, nil
}

// cosignatures checks a cosign transaction and returns its notes.
func (a *App) cosignatures(tx []byte) ([][]byte, error) {
	var c cosignTx
	if err := json.Unmarshal(tx[len(cosignPrefix):], &c); err != nil {
		return nil, fmt.Errorf("cosign transaction: %v", err)
	}
	verifiers := a.memberVerifiers()
	var out [][]byte
	for _, n := range c.Notes {
		msg := []byte(n)
		opened, err := note.Open(msg, verifiers)
		if err != nil || len(opened.Sigs) != 1 {
			return nil, fmt.Errorf("cosign transaction: a note not signed by exactly one member")
		}
		v, _ := verifiers.Verifier(opened.Sigs[0].Name, opened.Sigs[0].Hash)
		if err := a.checkCosignature(msg, opened.Sigs[0].Name, v); err != nil {
			return nil, err
		}
		out = append(out, msg)
	}
	return out, nil
}

func (a *App) memberVerifiers() note.Verifiers {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.memberVerifiersLocked()
}

// memberVerifiersLocked is memberVerifiers with a.mu held.
func (a *App) memberVerifiersLocked() note.Verifiers {
	var vs []note.Verifier
	if a.state != nil {
		for _, m := range a.state.Members() {
			if v, err := note.NewVerifier(m.Key); err == nil {
				vs = append(vs, v)
			}
		}
	}
	return note.VerifierList(vs...)
}

// systemTx handles a node-made transaction in FinalizeBlock: a cosign
// transaction (checked in ProcessProposal; merged at Commit) or evidence
// (judged here, deterministically, and logged). It reports whether tx was
// one.
func (a *App) systemTx(tx []byte, b *translog.Batch, height int64) (ok bool, res registry.Result, cosigned [][]byte) {
	switch {
	case bytes.HasPrefix(tx, []byte(cosignPrefix)):
		notes, err := a.cosignaturesLocked(tx)
		if err != nil {
			return true, registry.Result{Code: registry.CodeInvalid, Reason: err.Error(), Index: -1}, nil
		}
		return true, registry.Result{Index: -1}, notes
	case bytes.HasPrefix(tx, []byte(evidencePrefix)):
		entry, err := a.judgeEvidence(tx)
		if err != nil {
			return true, registry.Result{Code: registry.CodeInvalid, Reason: err.Error(), Index: -1}, nil
		}
		var e evidenceTx
		json.Unmarshal(tx[len(evidencePrefix):], &e)
		if !a.state.RecordEvidence(fmt.Sprintf("%x", sha256.Sum256([]byte(e.Note))), e.Member) {
			return true, registry.Result{Code: registry.CodeInvalid, Reason: "this evidence is already in the log", Index: -1}, nil
		}
		i, err := b.Append(entry)
		if err != nil {
			return true, registry.Result{Code: registry.CodeInvalid, Reason: err.Error(), Index: -1}, nil
		}
		return true, registry.Result{Index: i}, nil
	}
	return false, registry.Result{}, nil
}

// cosignaturesLocked is cosignatures for callers holding a.mu.
func (a *App) cosignaturesLocked(tx []byte) ([][]byte, error) {
	var c cosignTx
	if err := json.Unmarshal(tx[len(cosignPrefix):], &c); err != nil {
		return nil, fmt.Errorf("cosign transaction: %v", err)
	}
	var out [][]byte
	for _, n := range c.Notes {
		out = append(out, []byte(n))
	}
	return out, nil
}

// judgeEvidence checks an evidence transaction: a note validly signed by
// the named member, a checkpoint of this log at a size the log has, whose
// root is not the log's. It returns the log entry that records it. The
// caller holds a.mu.
func (a *App) judgeEvidence(tx []byte) ([]byte, error) {
	var e evidenceTx
	if err := json.Unmarshal(tx[len(evidencePrefix):], &e); err != nil {
		return nil, fmt.Errorf("evidence: %v", err)
	}
	if a.state.HasEvidence(fmt.Sprintf("%x", sha256.Sum256([]byte(e.Note)))) {
		return nil, fmt.Errorf("evidence: already in the log")
	}
	m, ok := a.state.Member(e.Member)
	if !ok {
		return nil, fmt.Errorf("evidence against %q, not a member", e.Member)
	}
	v, err := note.NewVerifier(m.Key)
	if err != nil {
		return nil, err
	}
	n, err := note.Open([]byte(e.Note), note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("evidence: the note is not signed by %q: %v", e.Member, err)
	}
	origin, size, _, err := translog.ParseCheckpoint([]byte(n.Text))
	if err != nil || origin != a.log.Origin() {
		return nil, fmt.Errorf("evidence: not a checkpoint of this log")
	}
	ours, err := a.log.CheckpointBody(size)
	if err != nil {
		return nil, fmt.Errorf("evidence: %v", err)
	}
	if n.Text == string(ours) {
		return nil, fmt.Errorf("evidence: %q signed the log's own checkpoint of size %d: no equivocation", e.Member, size)
	}
	return registry.EncodeEvent(registry.Event{
		Event: "checkpoint.equivocation", Height: a.state.Height(), Time: a.state.Time(), Member: e.Member,
		Evidence: []string{e.Note, string(ours)},
		Reason:   fmt.Sprintf("%s signed a checkpoint of size %d whose root is not the log's", e.Member, size),
	}), nil
}
