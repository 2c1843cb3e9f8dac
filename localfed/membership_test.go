package localfed

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/translog"
)

// submitAs signs an action with a member's key and submits it to a node.
func submitAs(t testing.TB, f *Federation, dir, member, via, kind string, body any) *client.Outcome {
	t.Helper()
	k, err := setup.LoadKey(setup.MemberKeyPath(dir, member))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(f.HTTP(via))
	msg, err := c.Build(k.Signer, kind, body, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Submit(msg)
	if err != nil {
		t.Fatalf("%s's %s through %s: %v", member, kind, via, err)
	}
	return o
}

// TestAdmitAndRemoveMember: a fifth member is admitted by vote; its node,
// which is not in the genesis, syncs, becomes a validator, votes and
// cosigns; it is then removed again by vote.
func TestAdmitAndRemoveMember(t *testing.T) {
	f, dir := startDev(t, 4)
	key, val, err := f.Join("echo")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.StartMember("echo", ""); err != nil {
		t.Fatal(err)
	}
	o := submitAs(t, f, dir, "alpha", "alpha", action.KindPropose, &action.Propose{Proposal: constitution.MemberAdmit, Rationale: "welcome", Member: &action.Member{Name: "echo", Key: key, Validator: val}})
	allAt(t, f, o.Height)
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		submitAs(t, f, dir, m, m, action.KindVote, &action.Vote{Proposal: o.Proposal, Vote: action.Yes})
	}
	echo := f.Nodes["echo"]
	eventually(t, "echo syncs and is a member", 60*time.Second, func() error {
		var ok bool
		echo.App().View(func(s *registry.State) {
			if s != nil {
				_, ok = s.Member("echo")
			}
		})
		if !ok || !echo.Synced() {
			return fmt.Errorf("echo: member %v, synced %v", ok, echo.Synced())
		}
		return nil
	})
	// Every node has applied the admission before bravo proposes the
	// removal through its own.
	eh, _ := echo.App().Height()
	allAt(t, f, eh)
	// echo votes on the next proposal through its own node.
	o = submitAs(t, f, dir, "bravo", "bravo", action.KindPropose, &action.Propose{Proposal: constitution.MemberRemove, Rationale: "a test", Member: &action.Member{Name: "echo"}})
	removal := o.Proposal
	eventually(t, "echo's node has the proposal", 30*time.Second, func() error {
		var ok bool
		echo.App().View(func(s *registry.State) { _, ok = s.Proposal(removal) })
		if !ok {
			return fmt.Errorf("no proposal %d on echo's node yet", removal)
		}
		return nil
	})
	submitAs(t, f, dir, "echo", "echo", action.KindVote, &action.Vote{Proposal: removal, Vote: action.No, Rationale: "I'd rather stay"})
	// echo cosigns checkpoints: its signature shows up in a served one.
	ev, _ := note.NewVerifier(key)
	eventually(t, "a checkpoint cosigned by echo", 60*time.Second, func() error {
		lg := f.Nodes["alpha"].App().Log()
		msg, err := lg.CheckpointAt(lg.Size())
		if err != nil {
			return err
		}
		if _, _, err := translog.VerifyCheckpoint(msg, f.Constitution.Origin, note.VerifierList(ev), 1); err != nil {
			return err
		}
		return nil
	})
	// Four of five vote yes: echo is removed and is a validator no more.
	allAt(t, f, o.Height)
	var last *client.Outcome
	for _, m := range []string{"alpha", "bravo", "charlie", "delta"} {
		last = submitAs(t, f, dir, m, m, action.KindVote, &action.Vote{Proposal: removal, Vote: action.Yes})
	}
	allAt(t, f, last.Height) // the last vote went through delta's node: let alpha's have its block too
	var p registry.Proposal
	f.Nodes["alpha"].App().View(func(s *registry.State) { p, _ = s.Proposal(removal) })
	if p.Status != registry.StatusPassed {
		t.Fatalf("removal: %s (%s)", p.Status, p.Reason)
	}
	// The federation goes on with four validators.
	f.StopMember("echo")
	o = submitAs(t, f, dir, "delta", "delta", action.KindPropose, &action.Propose{Proposal: constitution.TLDDelete, Rationale: "after echo left", TLD: "museum."})
	if o.Proposal == 0 {
		t.Fatal("no proposal id")
	}
	sameAppHash(t, f)
}
