package node

import (
	"crypto/rand"
	"crypto/sha3"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/threshold"
)

// The keyholder is this member's part in the federation's key-generation
// ceremonies (see registry's dkg.go for the protocol). After every commit,
// if a ceremony is open and this member owes an action in its round, the
// node computes it and submits it through consensus, signed with the member
// key, from a goroutine of its own (never from inside Commit).
//
// Secrets stay in the node's home, never in an action, the log or the
// state:
//
//   - HOME/dkg/<ceremony>-<attempt>.json (0600) holds a 32-byte seed from
//     crypto/rand, written before the round-one package is submitted. The
//     polynomial and the encryption key of that attempt are derived from it
//     (SHAKE256), so a restarted node continues the attempt with the same
//     package. The files of a finished ceremony or an abandoned attempt are
//     removed.
//   - HOME/keys/zone-<ceremony>.share (0600) holds the final key share,
//     written before the confirmation that reports it kept.
//
// A complaint reveals only the attempt's encryption key, never a key share;
// the attempt is abandoned after it.

// keyholder serializes the node's ceremony steps.
type keyholder struct {
	mu      sync.Mutex
	running bool
	again   bool
	cheat   bool
	// sent names the last action handed to consensus (ceremony/attempt/
	// round) and sentAt the height it was sent at: it is not sent again
	// before resendAfter more blocks.
	sent   string
	sentAt int64
	// seqNext is the node lane's next sequence number as this node counts
	// it (ahead of the state while actions are in flight), seqAt the
	// height of the last one handed out.
	seqNext    uint64
	seqAt      int64
	sign       signerState
	signPaused bool
}

// lane is what a node needs, from the committed state, to sign an action
// of its own: the block height and time, the next number of its sequence
// lane and the federation's origin.
type lane struct {
	height int64
	now    time.Time
	next   uint64
	origin string
}

func laneOf(s *registry.State, member string) lane {
	return lane{height: s.Height(), now: s.Time(), next: s.NextNodeSeq(member), origin: s.Constitution().Origin}
}

// nodeSeqLocked hands out the next sequence number of the member's node
// lane: the state's next one, or past the actions still in flight; if the
// state has not caught up for resendAfter blocks, they were lost and the
// count starts again from the state. The caller holds keys.mu.
func (n *Node) nodeSeqLocked(stateNext uint64, height int64) uint64 {
	k := &n.keys
	if k.seqNext < stateNext || (k.seqNext > stateNext && height >= k.seqAt+resendAfter) {
		k.seqNext = stateNext
	}
	s := k.seqNext
	k.seqNext++
	k.seqAt = height
	return s
}

// resendAfter is how many blocks the node waits for its ceremony action
// before it sends the round's action again (it may have been dropped from
// the mempool, or lost its sequence number to another action).
const resendAfter = 5

// SetDKGCheat makes the node send, in key ceremonies, a sealed share that
// its recipient cannot open: only for tests of how the others catch a
// hostile member.
func (n *Node) SetDKGCheat(on bool) {
	n.keys.mu.Lock()
	defer n.keys.mu.Unlock()
	n.keys.cheat = on
}

// holdKeys runs dkgStep in the background after a commit; if a step is
// running, it runs once more when that one ends.
func (n *Node) holdKeys() {
	k := &n.keys
	k.mu.Lock()
	if k.running {
		k.again = true
		k.mu.Unlock()
		return
	}
	k.running = true
	k.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			if err := n.dkgStep(); err != nil {
				n.cfg.Logger.Warn("key ceremony", "err", err)
			}
			if err := n.signStep(); err != nil {
				n.cfg.Logger.Warn("signing", "err", err)
			}
			k.mu.Lock()
			select {
			case <-n.stop:
				k.again = false
			default:
			}
			if !k.again {
				k.running = false
				k.mu.Unlock()
				return
			}
			k.again = false
			k.mu.Unlock()
		}
	}()
}

// dkgSeed is the file that keeps an attempt's secret seed.
type dkgSeed struct {
	Ceremony uint64 `json:"ceremony"`
	Attempt  int    `json:"attempt"`
	Member   string `json:"member"`
	// Seed (base64, 32 bytes) determines the attempt's polynomial and
	// encryption key.
	Seed string `json:"seed"`
}

// ZoneShare is the file HOME/keys/zone-<ceremony>.share: this member's
// share of the zone key.
type ZoneShare struct {
	Ceremony uint64 `json:"ceremony"`
	Attempt  int    `json:"attempt"`
	Member   string `json:"member"`
	// Share is threshold.KeyShare.Encode() in base64: identifier, secret
	// share, verification share and group key.
	Share string `json:"share"`
}

func dkgSeedPath(home string, ceremony uint64, attempt int) string {
	return filepath.Join(home, "dkg", fmt.Sprintf("%d-%d.json", ceremony, attempt))
}

// ZoneSharePath is where a node keeps its share of the key a ceremony made.
func ZoneSharePath(home string, ceremony uint64) string {
	return filepath.Join(home, "keys", fmt.Sprintf("zone-%d.share", ceremony))
}

// LoadZoneShare reads and checks the node's share of the key of ceremony.
func LoadZoneShare(home string, ceremony uint64) (*threshold.KeyShare, error) {
	p := ZoneSharePath(home, ceremony)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("node: zone key share: %v", err)
	}
	var zs ZoneShare
	if err := json.Unmarshal(b, &zs); err != nil {
		return nil, fmt.Errorf("node: zone key share %s: %v", p, err)
	}
	raw, err := base64.StdEncoding.DecodeString(zs.Share)
	if err != nil {
		return nil, fmt.Errorf("node: zone key share %s: %v", p, err)
	}
	ks, err := threshold.DecodeKeyShare(raw)
	clear(raw)
	if err != nil {
		return nil, fmt.Errorf("node: zone key share %s: %v", p, err)
	}
	return ks, nil
}

// writeSecret writes a secret file atomically with mode 0600 and syncs it
// (and its directory) before returning.
func writeSecret(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	clear(b)
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// attemptSecret returns this member's secret for an attempt, from its seed
// file, creating the seed first if there is none.
func (n *Node) attemptSecret(c *registry.Ceremony, p threshold.DKGParams) (*threshold.DKGSecret, *threshold.Round1Package, error) {
	path := dkgSeedPath(n.cfg.Home, c.ID, c.Attempt)
	var seed []byte
	if b, err := os.ReadFile(path); err == nil {
		var f dkgSeed
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, nil, fmt.Errorf("node: %s: %v", path, err)
		}
		if seed, err = base64.StdEncoding.DecodeString(f.Seed); err != nil || len(seed) != 32 || f.Ceremony != c.ID || f.Attempt != c.Attempt || f.Member != n.cfg.Member {
			return nil, nil, fmt.Errorf("node: %s is not %s's seed for attempt %d of ceremony %d", path, n.cfg.Member, c.Attempt, c.ID)
		}
	} else if !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("node: %v", err)
	} else {
		seed = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, seed); err != nil {
			return nil, nil, err
		}
		if err := writeSecret(path, dkgSeed{Ceremony: c.ID, Attempt: c.Attempt, Member: n.cfg.Member, Seed: base64.StdEncoding.EncodeToString(seed)}); err != nil {
			return nil, nil, fmt.Errorf("node: writing the ceremony seed: %v", err)
		}
	}
	x := sha3.NewSHAKE256()
	x.Write([]byte("commonroot/dkg/seed/v1\x00"))
	x.Write(p.Context)
	x.Write(seed)
	clear(seed)
	return threshold.DKGRound1(x, p, c.ParticipantID(n.cfg.Member))
}

// cleanCeremonyFiles removes the seed files of every attempt but the open
// ceremony's current one.
func (n *Node) cleanCeremonyFiles(open *registry.Ceremony) {
	dir := filepath.Join(n.cfg.Home, "dkg")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		id, attempt, ok2 := strings.Cut(name, "-")
		if !ok || !ok2 {
			continue
		}
		if open != nil && id == strconv.FormatUint(open.ID, 10) && attempt == strconv.Itoa(open.Attempt) {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// cleanShareFiles removes the share files that are not this member's share
// of a key in use: those of aborted attempts (a member may finish an
// attempt that a complaint or a deadline then abandons), of failed
// ceremonies, and of keys a rollover retired (with their nonce files: a
// retired key signs nothing again).
func (n *Node) cleanShareFiles(ceremonies []registry.Ceremony, inUse map[uint64]bool) {
	for _, c := range ceremonies {
		if c.Status == registry.CeremonyDone && !inUse[c.ID] {
			for _, p := range []string{ZoneSharePath(n.cfg.Home, c.ID), noncePath(n.cfg.Home, c.ID)} {
				if err := os.Remove(p); err == nil {
					n.cfg.Logger.Info("key rollover: destroyed this member's share of a retired key", "ceremony", c.ID, "file", p)
				}
			}
			continue
		}
		p := ZoneSharePath(n.cfg.Home, c.ID)
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var zs ZoneShare
		json.Unmarshal(b, &zs)
		clear(b)
		stale := c.Status == registry.CeremonyFailed || zs.Attempt != c.Attempt ||
			c.Status == registry.CeremonyDone && c.ParticipantID(n.cfg.Member) == 0
		if stale {
			if err := os.Remove(p); err == nil {
				n.cfg.Logger.Info("key ceremony: removed the share of an abandoned attempt", "ceremony", c.ID, "attempt", zs.Attempt)
			}
		}
	}
}

// dkgStep computes and submits the action this member owes in the open
// ceremony's current round, if any.
func (n *Node) dkgStep() error {
	var (
		c     registry.Ceremony
		all   []registry.Ceremony
		inUse = map[uint64]bool{}
		open  bool
		l     lane
	)
	me := n.cfg.Member
	n.app.View(func(s *registry.State) {
		if s == nil {
			return
		}
		c, open = s.OpenCeremony()
		all = s.Ceremonies()
		for _, x := range all {
			if s.KeyInUse(x.ID) {
				inUse[x.ID] = true
			}
		}
		l = laneOf(s, me)
	})
	now, height, seq, origin := l.now, l.height, l.next, l.origin
	n.cleanShareFiles(all, inUse)
	if !open || c.ParticipantID(me) == 0 {
		n.cleanCeremonyFiles(nil)
		return nil
	}
	n.cleanCeremonyFiles(&c)
	if !c.Owes(me) {
		return nil
	}
	step := fmt.Sprintf("%d/%d/%s", c.ID, c.Attempt, c.Round)
	n.keys.mu.Lock()
	waiting := n.keys.sent == step && height < n.keys.sentAt+resendAfter
	n.keys.mu.Unlock()
	if waiting {
		return nil
	}
	p := c.Params(origin)
	id := c.ParticipantID(me)
	sec, pkg, err := n.attemptSecret(&c, p)
	if err != nil {
		return err
	}
	defer sec.Zero()
	round := c.Round
	var data []byte
	switch c.Round {
	case action.RoundCommit:
		data = pkg.Encode()
	case action.RoundShares:
		pkgs, err := c.Packages()
		if err != nil {
			return err
		}
		sealed, err := sec.Round2(rand.Reader, pkgs)
		if err != nil {
			return fmt.Errorf("node: ceremony %d attempt %d: %v", c.ID, c.Attempt, err)
		}
		n.keys.mu.Lock()
		if n.keys.cheat && len(sealed) > 0 {
			sealed[0].Ciphertext[0] ^= 1
		}
		n.keys.mu.Unlock()
		for _, s := range sealed {
			data = append(data, s.Encode()...)
		}
	case action.RoundConfirm:
		pkgs, err := c.Packages()
		if err != nil {
			return err
		}
		sealed := c.SealedTo(id)
		ks, _, err := sec.FinishSealed(pkgs, sealed)
		var be *threshold.BlameError
		switch {
		case errors.As(err, &be):
			var bad *threshold.SealedShare
			for _, s := range sealed {
				if s.From == be.Culprits[0] {
					bad = s
				}
			}
			comp, err := sec.Complain(bad)
			if err != nil {
				return err
			}
			n.cfg.Logger.Warn("key ceremony: complaining about a bad share", "ceremony", c.ID, "attempt", c.Attempt, "accused", c.Participants[be.Culprits[0]-1], "why", be.Reason)
			round, data = action.RoundComplaint, comp.Encode()
		case err != nil:
			return fmt.Errorf("node: ceremony %d attempt %d: %v", c.ID, c.Attempt, err)
		default:
			raw := ks.Encode()
			err := writeSecret(ZoneSharePath(n.cfg.Home, c.ID), ZoneShare{Ceremony: c.ID, Attempt: c.Attempt, Member: me, Share: base64.StdEncoding.EncodeToString(raw)})
			clear(raw)
			ks.Zero()
			if err != nil {
				return fmt.Errorf("node: writing the zone key share: %v", err)
			}
			h, err := threshold.TranscriptHash(p, pkgs)
			if err != nil {
				return err
			}
			data = h[:]
		}
	default:
		return nil
	}
	n.keys.mu.Lock()
	seq = n.nodeSeqLocked(seq, height)
	n.keys.mu.Unlock()
	tx, err := action.Sign(action.Action{Origin: origin, Signer: me, Seq: seq, Expires: now.Add(time.Hour).UTC().Format(time.RFC3339),
		Kind: action.KindDKG, Body: &action.DKG{Ceremony: c.ID, Attempt: c.Attempt, Round: round, Data: base64.StdEncoding.EncodeToString(data)}}, n.cfg.Key)
	if err != nil {
		return err
	}
	// Hand it to consensus without waiting for its block: the next
	// commits show whether it was accepted (see sent).
	if err := n.cons.Submit(tx); err != nil {
		return fmt.Errorf("node: submitting %s for attempt %d of ceremony %d: %v", round, c.Attempt, c.ID, err)
	}
	n.keys.mu.Lock()
	n.keys.sent, n.keys.sentAt = step, height
	n.keys.mu.Unlock()
	n.cfg.Logger.Info("key ceremony", "ceremony", c.ID, "attempt", c.Attempt, "round", round, "seq", seq)
	return nil
}
