package fedtest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/translog"
)

// cli runs the command line in h's namespace against h's node, with
// member's key (h's own when member is ""), and returns what it printed.
func (h *host) cli(args ...string) string {
	t := h.cl.t
	t.Helper()
	out, err := h.in(append([]string{h.cl.bin}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// act runs an action command (propose, vote, delegate) in h's namespace,
// signed with h's member key and sent to h's own node.
func (h *host) act(cmd string, args ...string) string {
	h.cl.t.Helper()
	return h.cli(append([]string{cmd, "--node", "http://" + h.ip + ":8053", "--key", setup.MemberDirKey(h.dir, h.name)}, args...)...)
}

func (h *host) proposal(id string) (*api.ProposalInfo, error) {
	p := new(api.ProposalInfo)
	return p, h.api.GetJSON("/v1/proposals/"+id, p)
}

// admit has h's member make its keys on its own host (commonroot init
// --member), the founders admit it by vote through the command line, and
// h's node start from the founders' constitution with its peers from
// founders.json; h joins cl.hosts. It returns h's public part.
func (cl *cluster) admit(h *host) setup.Public {
	t := cl.t
	t.Helper()
	var pub setup.Public
	if err := json.Unmarshal([]byte(h.cli("init", "--member", h.name, "--dir", h.dir, "--p2p", h.ip+":26656")), &pub); err != nil {
		t.Fatal(err)
	}
	id := cl.hosts[0].act("propose", "member.admit", h.name, "--member-key", pub.Key, "--validator", pub.Validator, "--rationale", h.name+" asked to join")
	for _, v := range cl.hosts[:quorum(len(cl.hosts))] {
		v.act("vote", id, "yes")
	}
	// The last vote was sent to its voter's own node: the first host's
	// node may apply that block a moment later.
	eventually(t, "the admission of "+h.name+" is decided on "+cl.hosts[0].name, 30*time.Second, func() error {
		p, err := cl.hosts[0].proposal(id)
		if err != nil {
			return err
		}
		if p.Status != registry.StatusPassed {
			return fmt.Errorf("member.admit %s of %s: %s (%s), %d votes", id, h.name, p.Status, p.Reason, len(p.Votes))
		}
		return nil
	})
	h.cfg = filepath.Join(h.dir, "node.json")
	h.writeConfig(nil)
	h.start()
	cl.hosts = append(cl.hosts, h)
	return pub
}

// quorum is the number of yes votes that decide a proposal among n
// members under constitution assemble's default rules (two thirds of the
// votes, decided as soon as the other votes cannot change it).
func quorum(n int) int { return n*2/3 + 1 }

// TestAdmitFifthMember: four founders on four hosts admit a fifth member
// by vote. The fifth host ran `commonroot init --member echo` on its own
// (its keys never leave it) and starts its node from the founders'
// constitution; the node block-syncs from genesis, becomes a validator,
// votes on the next proposal through its own node and cosigns
// checkpoints. A second vote removes it again: it is no validator any
// more, and the four go on without it.
func TestAdmitFifthMember(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 5)
	echo := cl.hosts[4]
	cl.hosts = cl.hosts[:4] // the founders
	cl.found(2)
	cl.startAll()
	alpha, bravo, charlie, delta := cl.hosts[0], cl.hosts[1], cl.hosts[2], cl.hosts[3]

	// Some history for echo to sync: a delegation change by an operator.
	t00 := filepath.Join(cl.dir, "t00.key")
	if err := setup.WriteKey(t00, cl.ops["t00.fed.test."]); err != nil {
		t.Fatal(err)
	}
	bravo.cli("delegate", "--node", "http://"+bravo.ip+":8053", "--key", t00, "t00.fed.test.", "--ns", "a.example.net.", "--ns", "c.example.net.")

	pub := cl.admit(echo)
	agree(t, cl.hosts, 120*time.Second)
	var m api.MemberInfo
	if err := echo.api.GetJSON("/v1/members/echo", &m); err != nil || m.Validator != pub.Validator {
		t.Fatalf("echo's node on echo: %+v, %v", m, err)
	}

	// echo votes on the next proposal through its own node.
	removal := bravo.act("propose", "member.remove", "echo", "--rationale", "a test of removal")
	eventually(t, "echo's node has the removal proposal", 30*time.Second, func() error {
		_, err := echo.proposal(removal)
		return err
	})
	echo.act("vote", removal, "no", "--rationale", "I would rather stay")

	// echo cosigns: its signature is on a checkpoint that alpha serves.
	ev, err := note.NewVerifier(pub.Key)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a checkpoint cosigned by echo", 60*time.Second, func() error {
		msg, err := alpha.api.Get("/checkpoint")
		if err != nil {
			return err
		}
		_, _, err = translog.VerifyCheckpoint(msg, cl.c.Origin, note.VerifierList(ev), 1)
		return err
	})

	// The four founders vote yes: echo is removed.
	for _, h := range []*host{alpha, bravo, charlie, delta} {
		h.act("vote", removal, "yes")
	}
	eventually(t, "the removal is decided on alpha", 30*time.Second, func() error {
		p, err := alpha.proposal(removal)
		if err != nil {
			return err
		}
		if p.Status != registry.StatusPassed {
			return fmt.Errorf("removal %s: %s (%s)", removal, p.Status, p.Reason)
		}
		if !slices.ContainsFunc(p.Votes, func(v registry.Vote) bool { return v.Member == "echo" && v.Vote == "no" }) {
			t.Fatalf("echo's vote is not in the proposal: %+v", p.Votes)
		}
		return nil
	})
	if err := alpha.api.GetJSON("/v1/members/echo", &m); err == nil {
		t.Fatalf("echo is still a member after its removal: %+v", m)
	}

	// echo is out of the validator set: with echo's node and delta's
	// stopped, three of four validators still commit (three of five could
	// not: more than two thirds of the voting power must vote).
	// CometBFT applies a validator update two blocks after the block that
	// returned it: wait for those (empty blocks come every 5 s at most).
	decided, err := alpha.status()
	if err != nil {
		t.Fatal(err)
	}
	alpha.waitHeight(decided.ChainHeight+3, 60*time.Second)
	echo.signal(syscall.SIGKILL)
	cl.hosts = cl.hosts[:4]
	delta.signal(syscall.SIGKILL)
	before, err := alpha.status()
	if err != nil {
		t.Fatal(err)
	}
	charlie.cli("delegate", "--node", "http://"+charlie.ip+":8053", "--key", t00, "t00.fed.test.", "--ns", "a.example.net.", "--ns", "b.example.net.")
	after := agree(t, cl.hosts[:3], 60*time.Second)
	if after.Serial <= before.Serial {
		t.Fatalf("serial %d after the change, %d before", after.Serial, before.Serial)
	}
}
