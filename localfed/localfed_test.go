package localfed

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/internal/devzone"
	"github.com/commonroot/commonroot/setup"
)

// startDev creates and starts a dev federation of n members in a temp dir.
func startDev(t *testing.T, n int) (*Federation, string) {
	t.Helper()
	return startDevSigning(t, n, nil)
}

// startDevSigning is startDev with a signing policy (nil: the default).
func startDevSigning(t *testing.T, n int, signing *constitution.Signing) (*Federation, string) {
	t.Helper()
	return startDevZone(t, n, signing, devzone.Root)
}

// startDevZone is startDevSigning with the master file zone imported
// instead of the real root.
func startDevZone(t testing.TB, n int, signing *constitution.Signing, zone []byte) (*Federation, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := createDevZone(dir, n, signing, zone); err != nil {
		t.Fatal(err)
	}
	log := &syncWriter{w: new(bytes.Buffer)}
	f, err := Start(Options{Dir: dir, CometLog: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			t.Logf("consensus log:\n%s", log.String())
		}
	})
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return f, dir
}

// query asks a node's DNS server.
func query(t testing.TB, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s at %s: %v", name, dns.TypeToString[qtype], addr, err)
	}
	return r
}

func nsOf(r *dns.Msg) string {
	var ns []string
	for _, rr := range append(r.Answer, r.Ns...) {
		if n, ok := rr.(*dns.NS); ok {
			ns = append(ns, n.Ns)
		}
	}
	return strings.Join(ns, " ")
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allAt waits until every running node has committed height h.
func allAt(t testing.TB, f *Federation, h int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("every node at height %d", h), 30*time.Second, func() error {
		for name, n := range f.Nodes {
			if got, _ := n.App().Height(); got < h {
				return fmt.Errorf("%s at height %d", name, got)
			}
		}
		return nil
	})
}

// sameAppHash waits until every running node has committed the same height
// with the same app hash.
func sameAppHash(t *testing.T, f *Federation) {
	t.Helper()
	eventually(t, "same app hash on every node", 60*time.Second, func() error {
		var h0 int64
		var a0 []byte
		for name, n := range f.Nodes {
			h, a := n.App().Height()
			if a0 == nil {
				h0, a0 = h, a
				continue
			}
			if h != h0 {
				return fmt.Errorf("%s at height %d, another at %d", name, h, h0)
			}
			if !bytes.Equal(a, a0) {
				t.Fatalf("app hash of %s at height %d is %X, another node's is %X", name, h, a, a0)
			}
		}
		return nil
	})
}

func TestFederation(t *testing.T) {
	f, dir := startDev(t, 4)
	// An operator's delegation change submitted to alpha is served by all four.
	op, err := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(f.HTTP("alpha"))
	newNS := []string{"a.gtld-servers.net.", "b.gtld-servers.net.", "c.gtld-servers.net."}
	msg, err := cl.Build(op.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: newNS}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := cl.Submit(msg)
	if err != nil {
		t.Fatal(err)
	}
	if o.Index < 2 {
		t.Errorf("log index %d", o.Index)
	}
	for name, n := range f.Nodes {
		eventually(t, name+" serves the new com. NS", 30*time.Second, func() error {
			if got := nsOf(query(t, n.DNSAddr(), "com.", dns.TypeNS)); got != strings.Join(newNS, " ") {
				return fmt.Errorf("com. NS = %q", got)
			}
			return nil
		})
	}

	// A proposal passes with three yes votes and its TLD appears everywhere.
	alphaKey, _ := setup.LoadKey(setup.MemberKeyPath(dir, "alpha"))
	newOp, _ := setup.NewKey("op-newtld")
	p := &action.Propose{Proposal: constitution.TLDCreate, Rationale: "a test TLD", TLD: "newtld.", Operator: newOp.Verifier,
		Delegation: &action.Delegate{NS: []string{"ns1.newtld.", "a.gtld-servers.net."}, Glue: []action.Glue{{Host: "ns1.newtld.", Addrs: []string{"203.0.113.53"}}}}}
	msg, err = cl.Build(alphaKey.Signer, action.KindPropose, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err = cl.Submit(msg)
	if err != nil {
		t.Fatal(err)
	}
	id := o.Proposal
	allAt(t, f, o.Height) // each member votes through its own node: let them all have the proposal
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		k, _ := setup.LoadKey(setup.MemberKeyPath(dir, m))
		vc := client.New(f.HTTP(m)) // each votes through its own node
		msg, err := vc.Build(k.Signer, action.KindVote, &action.Vote{Proposal: id, Vote: action.Yes}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vc.Submit(msg); err != nil {
			t.Fatalf("%s's vote: %v", m, err)
		}
	}
	for name, n := range f.Nodes {
		eventually(t, name+" serves newtld.", 30*time.Second, func() error {
			r := query(t, n.DNSAddr(), "www.newtld.", dns.TypeA)
			if got := nsOf(r); got != "a.gtld-servers.net. ns1.newtld." && got != "ns1.newtld. a.gtld-servers.net." {
				return fmt.Errorf("referral NS = %q (rcode %s)", got, dns.RcodeToString[r.Rcode])
			}
			return nil
		})
	}
	sameAppHash(t, f)

	// Its metrics say so.
	eventually(t, "metrics", 30*time.Second, func() error {
		b, err := client.New(f.HTTP("bravo")).Get("/metrics")
		if err != nil {
			return err
		}
		for _, want := range []string{"commonroot_height ", "commonroot_blocks_committed_total ", "commonroot_checkpoint_cosigners 4", `commonroot_actions_submitted_total{code="0",outcome="accepted"}`, `commonroot_dns_responses_total{rcode="NOERROR",transport="tcp"}`} {
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("/metrics has no %q", want)
			}
		}
		return nil
	})

	// One node down: the other three go on.
	f.StopMember("delta")
	msg, err = cl.Build(op.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: newNS[:2]}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Submit(msg); err != nil {
		t.Fatalf("with delta down: %v", err)
	}
	// Delta restarts, catches up to the same app hash and serves the change.
	if err := f.StartMember("delta", ""); err != nil {
		t.Fatal(err)
	}
	// A restarted node block-syncs before it votes: give it time on a
	// loaded machine.
	if err := f.WaitReady(120 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delta serves the change it missed", 60*time.Second, func() error {
		if got := nsOf(query(t, f.Nodes["delta"].DNSAddr(), "com.", dns.TypeNS)); got != strings.Join(newNS[:2], " ") {
			return fmt.Errorf("com. NS = %q", got)
		}
		return nil
	})
	sameAppHash(t, f)
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }
