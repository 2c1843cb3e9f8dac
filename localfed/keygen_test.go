package localfed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/node"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/threshold"
)

// TestKeyGenerationByVote: a 4-member federation votes a key.generate
// (t=3); the members' nodes run the ceremony through consensus on their
// own, one of them restarting in the middle. Every node ends with the same
// zone key in its state, the ceremony needs no second attempt, each holds a
// share file whose public part is its verification share in the state, 3
// of the 4 shares make a signature crypto/ed25519 accepts under the group
// key, and no share is in any log entry.
func TestKeyGenerationByVote(t *testing.T) {
	f, dir := startDev(t, 4)
	o := submitAs(t, f, dir, "alpha", "alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "sign the root", Threshold: 3})
	allAt(t, f, o.Height)
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		submitAs(t, f, dir, m, m, action.KindVote, &action.Vote{Proposal: o.Proposal, Vote: action.Yes})
	}
	// delta's node stops right after it committed: it comes back with a
	// seed and no share, so it can finish the ceremony only from its seed
	// file, with the same round-one package.
	eventually(t, "delta commits in the ceremony", 60*time.Second, func() error {
		var c registry.Ceremony
		f.Nodes["delta"].App().View(func(s *registry.State) { c, _ = s.Ceremony(o.Proposal) })
		if id := c.ParticipantID("delta"); id != 0 && c.Attempt == 1 && c.Commits[id-1] != "" {
			return nil
		}
		return fmt.Errorf("ceremony %s, attempt %d, round %s", c.Status, c.Attempt, c.Round)
	})
	f.StopMember("delta")
	seeds, _ := filepath.Glob(filepath.Join(setup.NodeHome(dir, "delta"), "dkg", "*.json"))
	if len(seeds) != 1 {
		t.Fatalf("delta's seed files when it stopped: %v, want one", seeds)
	}
	if _, err := os.Stat(node.ZoneSharePath(setup.NodeHome(dir, "delta"), o.Proposal)); !os.IsNotExist(err) {
		t.Fatalf("delta had a share file when it stopped (%v): the restart would prove nothing", err)
	}
	if err := f.StartMember("delta", ""); err != nil {
		t.Fatal(err)
	}
	var zk registry.ZoneKey
	eventually(t, "every node has the same zone key", 120*time.Second, func() error {
		var keys []string
		for _, m := range MemberNames[:4] {
			var c registry.Ceremony
			var ok bool
			f.Nodes[m].App().View(func(s *registry.State) {
				c, _ = s.Ceremony(o.Proposal)
				zk, ok = s.ZoneKey()
			})
			if !ok {
				return fmt.Errorf("%s: no zone key yet; ceremony %s, attempt %d, round %s, excluded %v", m, c.Status, c.Attempt, c.Round, c.Excluded)
			}
			keys = append(keys, zk.GroupKey)
		}
		for _, k := range keys[1:] {
			if k != keys[0] {
				return fmt.Errorf("group keys differ: %v", keys)
			}
		}
		return nil
	})
	if zk.Ceremony != o.Proposal || zk.Threshold != 3 || len(zk.Participants) != 4 {
		t.Fatalf("zone key %+v", zk)
	}
	var c registry.Ceremony
	f.Nodes["alpha"].App().View(func(s *registry.State) { c, _ = s.Ceremony(o.Proposal) })
	if c.Status != registry.CeremonyDone || c.Attempt != 1 || len(c.Excluded) != 0 {
		t.Errorf("ceremony %+v, want done at the first attempt without exclusions", c)
	}
	pkp, err := zk.PublicKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	shares := map[string]*threshold.KeyShare{}
	for i, m := range zk.Participants {
		home := setup.NodeHome(dir, m)
		fi, err := os.Stat(node.ZoneSharePath(home, zk.Ceremony))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s's share file has mode %v, want 0600", m, fi.Mode().Perm())
		}
		ks, err := node.LoadZoneShare(home, zk.Ceremony)
		if err != nil {
			t.Fatal(err)
		}
		if ks.ID != uint16(i+1) || !bytes.Equal(ks.GroupKey.Bytes(), zk.PublicKey()) || !bytes.Equal(ks.Public.Bytes(), pkp.VerificationShare(ks.ID).Bytes()) {
			t.Errorf("%s's share (id %d) does not match the state's zone key", m, ks.ID)
		}
		shares[m] = ks
		// The attempt's seed files are gone once the ceremony is done.
		eventually(t, m+"'s ceremony files removed", 30*time.Second, func() error {
			left, _ := filepath.Glob(filepath.Join(home, "dkg", "*.json"))
			if len(left) > 0 {
				return fmt.Errorf("%v", left)
			}
			return nil
		})
	}

	// Three of four sign; crypto/ed25519 accepts it under the group key.
	msg := []byte("commonroot: three of four")
	signers := []string{"bravo", "charlie", "delta"}
	var nonces []*threshold.SigningNonces
	var commitments []threshold.SigningCommitment
	for _, m := range signers {
		n, err := threshold.Commit(rand.Reader, shares[m])
		if err != nil {
			t.Fatal(err)
		}
		nonces, commitments = append(nonces, n), append(commitments, n.Commitment())
	}
	var sigShares []threshold.SignatureShare
	for i, m := range signers {
		s, err := threshold.Sign(shares[m], nonces[i], msg, commitments)
		if err != nil {
			t.Fatal(err)
		}
		sigShares = append(sigShares, s)
	}
	sig, err := threshold.Aggregate(pkp, msg, commitments, sigShares)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(zk.PublicKey(), msg, sig) {
		t.Fatal("crypto/ed25519 refuses the federation's signature")
	}

	// No share, in any encoding, in any log entry; the ceremony is logged.
	lg := f.Nodes["alpha"].App().Log()
	events := map[string]int{}
	for i := range lg.Size() {
		e, err := lg.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		for m, ks := range shares {
			raw := ks.Secret.Bytes()
			if bytes.Contains(e, raw) || bytes.Contains(e, []byte(base64.StdEncoding.EncodeToString(raw))) || bytes.Contains(e, []byte(fmt.Sprintf("%x", raw))) {
				t.Errorf("log entry %d holds %s's key share", i, m)
			}
		}
		if ev, err := registry.DecodeEvent(e); err == nil && ev.Ceremony == zk.Ceremony {
			events[ev.Event]++
		}
	}
	if events["dkg.attempt"] != 1 || events["key.generated"] != 1 {
		t.Errorf("ceremony events %v, want one dkg.attempt and one key.generated", events)
	}

	// The API shows the key and the ceremony.
	var keys api.KeysAnswer
	if err := client.New(f.HTTP("delta")).GetJSON("/v1/keys", &keys); err != nil {
		t.Fatal(err)
	}
	if keys.ZoneKey == nil || keys.ZoneKey.GroupKey != zk.GroupKey || len(keys.Ceremonies) != 1 || keys.Ceremonies[0].Status != registry.CeremonyDone {
		t.Fatalf("/v1/keys: %+v", keys)
	}
	if keys.ZoneKey.DS == "" || keys.ZoneKey.TrustAnchor == "" {
		t.Errorf("/v1/keys has no DS: %+v", keys.ZoneKey)
	}
	sameAppHash(t, f)
}

// TestKeyGenerationExcludesBadShare: bravo's node sends a sealed share its
// recipient cannot open; the recipient's node complains, the federation
// judges the complaint, excludes bravo (logged, with the reason) and the
// other three make the key without it.
func TestKeyGenerationExcludesBadShare(t *testing.T) {
	f, dir := startDev(t, 4)
	f.Nodes["bravo"].SetDKGCheat(true)
	o := submitAs(t, f, dir, "alpha", "alpha", action.KindPropose, &action.Propose{Proposal: constitution.KeyGenerate, Rationale: "sign the root", Threshold: 3})
	allAt(t, f, o.Height)
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		submitAs(t, f, dir, m, m, action.KindVote, &action.Vote{Proposal: o.Proposal, Vote: action.Yes})
	}
	var zk registry.ZoneKey
	eventually(t, "every node has the same zone key", 120*time.Second, func() error {
		var keys []string
		for _, m := range MemberNames[:4] {
			var ok bool
			var c registry.Ceremony
			f.Nodes[m].App().View(func(s *registry.State) { zk, ok = s.ZoneKey(); c, _ = s.Ceremony(o.Proposal) })
			if !ok {
				return fmt.Errorf("%s: no zone key yet; ceremony %s, attempt %d, round %s, excluded %v", m, c.Status, c.Attempt, c.Round, c.Excluded)
			}
			keys = append(keys, zk.GroupKey)
		}
		if keys[0] != keys[1] || keys[0] != keys[2] || keys[0] != keys[3] {
			return fmt.Errorf("group keys differ: %v", keys)
		}
		return nil
	})
	var c registry.Ceremony
	f.Nodes["charlie"].App().View(func(s *registry.State) { c, _ = s.Ceremony(o.Proposal) })
	if c.Attempt != 2 || len(c.Excluded) != 1 || c.Excluded[0].Member != "bravo" || c.Excluded[0].Action < 0 ||
		!strings.Contains(c.Excluded[0].Reason, "does not open") {
		t.Fatalf("ceremony %+v, want bravo excluded by a complaint in attempt 1", c)
	}
	if got := strings.Join(zk.Participants, " "); got != "alpha charlie delta" {
		t.Fatalf("key holders %q, want alpha charlie delta", got)
	}
	// The complaint and the exclusion are in the log.
	lg := f.Nodes["delta"].App().Log()
	complaint, err := lg.Entry(c.Excluded[0].Action)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := action.Decode(complaint); err != nil || a.Kind != action.KindDKG || a.Body.(*action.DKG).Round != action.RoundComplaint {
		t.Errorf("log entry %d is not a complaint: %s", c.Excluded[0].Action, complaint)
	}
	pkp, err := zk.PublicKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range zk.Participants {
		ks, err := node.LoadZoneShare(setup.NodeHome(dir, m), zk.Ceremony)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ks.Public.Bytes(), pkp.VerificationShare(ks.ID).Bytes()) {
			t.Errorf("%s's share does not match its verification share", m)
		}
	}
	if _, err := os.Stat(node.ZoneSharePath(setup.NodeHome(dir, "bravo"), zk.Ceremony)); !os.IsNotExist(err) {
		t.Errorf("the excluded bravo has a share file (%v)", err)
	}
	sameAppHash(t, f)
}
