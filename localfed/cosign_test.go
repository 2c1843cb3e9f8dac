package localfed

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/node"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/translog"
)

// TestCosigningAndEquivocation: every checkpoint carries more than two
// thirds of the members' signatures two blocks after it was made (the
// cosignatures travel in vote extensions); a member that signs a wrong
// checkpoint is named in the log with the two notes as evidence, and the
// others go on.
func TestCosigningAndEquivocation(t *testing.T) {
	f, _ := startDev(t, 4)
	alpha := f.Nodes["alpha"]
	var vs []note.Verifier
	for _, m := range f.Constitution.Members {
		v, err := note.NewVerifier(m.Key)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	verifiers := note.VerifierList(vs...)

	// The height and log size of one commit, read together.
	first := make(chan node.Commit, 1)
	alpha.App().OnCommit(func(c node.Commit) {
		select {
		case first <- c:
		default:
		}
	})
	c := <-first
	h0, size := c.Height, c.LogSize
	eventually(t, "two more blocks", 30*time.Second, func() error {
		for name, n := range f.Nodes {
			if h, _ := n.App().Height(); h < h0+2 {
				return fmt.Errorf("%s at height %d", name, h)
			}
		}
		return nil
	})
	for name, n := range f.Nodes {
		msg, err := n.App().Log().CheckpointAt(size)
		if err != nil {
			t.Fatalf("%s: checkpoint of size %d: %v", name, size, err)
		}
		if _, signers, err := translog.VerifyCheckpoint(msg, f.Constitution.Origin, verifiers, 3); err != nil {
			t.Errorf("%s: checkpoint of size %d two blocks later: %v (signers %v)", name, size, err, signers)
		}
	}

	// delta turns hostile: its vote extensions sign a wrong root.
	f.Nodes["delta"].App().SetEquivocate(true)
	var ev *registry.Event
	eventually(t, "the equivocation is logged", 60*time.Second, func() error {
		lg := alpha.App().Log()
		for i := lg.Size() - 1; i >= 0; i-- {
			entry, err := lg.Entry(i)
			if err != nil {
				return err
			}
			if e, err := registry.DecodeEvent(entry); err == nil && e.Event == "checkpoint.equivocation" {
				ev = e
				return nil
			}
		}
		h, _ := alpha.App().Height()
		return fmt.Errorf("no checkpoint.equivocation entry in %d entries at height %d", lg.Size(), h)
	})
	if ev.Member != "delta" || len(ev.Evidence) != 2 {
		t.Fatalf("evidence names %q with %d notes", ev.Member, len(ev.Evidence))
	}
	if err := testtool.CheckEquivocation(ev.Evidence, f.Constitution.Members[3].Key); err != nil {
		t.Fatal(err)
	}
	// The evidence is logged once although three nodes saw it.
	count := 0
	lg := alpha.App().Log()
	for i := int64(0); i < lg.Size(); i++ {
		entry, _ := lg.Entry(i)
		if e, err := registry.DecodeEvent(entry); err == nil && e.Event == "checkpoint.equivocation" && e.Evidence[0] == ev.Evidence[0] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("the same evidence is logged %d times", count)
	}
	// The three honest members still commit and cosign.
	h1, _ := alpha.App().Height()
	size = alpha.App().Log().Size()
	eventually(t, "progress without delta's cosignature", 30*time.Second, func() error {
		if h, _ := alpha.App().Height(); h < h1+2 {
			return fmt.Errorf("alpha at height %d", h)
		}
		return nil
	})
	msg, err := alpha.App().Log().CheckpointAt(size)
	if err != nil {
		t.Fatal(err)
	}
	if _, signers, err := translog.VerifyCheckpoint(msg, f.Constitution.Origin, verifiers, 3); err != nil {
		t.Errorf("checkpoint with delta hostile: %v (signers %v)", err, signers)
	}
}
