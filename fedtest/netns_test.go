package fedtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.etcd.io/bbolt"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/setup"
)

// TestFounding runs the founding ceremony of 4 members on 4 hosts through
// the command line, checks the start-up refusals (a constitution a founder
// has not signed, a wrong key, a data directory of another federation),
// the warning about an unreachable peer, then makes a shared TLD by
// proposal and votes and changes it by its operator, all through the
// command line in the members' namespaces, and checks that every node
// serves the same zone (AXFR) and checkpoint.
func TestFounding(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 4)
	cl.found(2)
	alpha, bravo, charlie, delta := cl.hosts[0], cl.hosts[1], cl.hosts[2], cl.hosts[3]

	// Start-up refusals, each with its reason.
	partial := filepath.Join(cl.dir, "partial.sigs")
	run(t, cl.bin, "constitution", "merge", "--out", partial, filepath.Join(cl.dir, "constitution.json"),
		filepath.Join(cl.dir, "alpha.sig"), filepath.Join(cl.dir, "bravo.sig"))
	impostor, _ := setup.NewKey("bravo")
	impostorFile := filepath.Join(cl.dir, "impostor.key")
	if err := setup.WriteKey(impostorFile, impostor); err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name  string
		h     *host
		extra map[string]any
		want  string
	}{
		{"unsigned", alpha, map[string]any{"constitution_sigs": partial}, `the constitution lacks the signatures of founders "charlie", "delta"`},
		{"another member's key", bravo, map[string]any{"key": setup.MemberDirKey(alpha.dir, "alpha"), "home": "node"}, `is "alpha"'s key, not member "bravo"'s`},
		{"a key not the member's", bravo, map[string]any{"key": impostorFile, "home": "node"}, `is not member "bravo"'s key`},
		{"bad peer", charlie, map[string]any{"peers": []string{"10.77.0.9:26656"}}, `want NODE-ID@HOST:PORT`},
	}
	for _, r := range refusals {
		r.h.writeConfig(r.extra)
		r.h.start()
		err := r.h.exited(30 * time.Second)
		if err == nil || !strings.Contains(r.h.log.String(), r.want) {
			t.Fatalf("%s: node %s: exit %v, want a refusal with %q; log:\n%s", r.name, r.h.name, err, r.want, tail(r.h.log.String(), 20))
		}
		r.h.writeConfig(nil)
	}

	// Three start; the first warns that delta's address does not answer.
	for _, h := range cl.hosts[:3] {
		h.start()
	}
	alpha.waitHeight(1, 90*time.Second)
	eventually(t, "alpha warns of delta", 30*time.Second, func() error {
		if l := alpha.log.String(); !strings.Contains(l, "peer unreachable") || !strings.Contains(l, delta.ip+":26656") {
			return fmt.Errorf("no warning naming %s:26656 yet", delta.ip)
		}
		return nil
	})
	delta.start()
	delta.waitHeight(1, 90*time.Second)

	// A shared TLD by proposal, through the CLI in the members' namespaces.
	opFile := filepath.Join(cl.dir, "op-new.key")
	opKey, err := alpha.in(cl.bin, "keys", "generate", "op-new-fed-test", "--out", opFile)
	if err != nil {
		t.Fatal(err)
	}
	node := func(h *host) string { return "http://" + h.ip + ":8053" }
	key := func(h *host) string { return setup.MemberDirKey(h.dir, h.name) }
	out, err := alpha.in(cl.bin, "propose", "--node", node(alpha), "--key", key(alpha), "tld.create", "new.fed.test.",
		"--operator", strings.TrimSpace(opKey), "--ns", "a.example.net.", "--ns", "c.example.net.", "--rationale", "a test TLD")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	for _, h := range []*host{alpha, bravo, charlie} {
		if _, err := h.in(cl.bin, "vote", "--node", node(h), "--key", key(h), id, "yes"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "delta knows new.fed.test.", 30*time.Second, func() error {
		_, err := delta.api.Get("/v1/tlds/new.fed.test.")
		return err
	})
	if _, err := delta.in(cl.bin, "delegate", "--node", node(delta), "--key", opFile, "new.fed.test.", "--ns", "a.example.net.", "--ns", "d.example.net."); err != nil {
		t.Fatal(err)
	}
	t00 := filepath.Join(cl.dir, "t00.key")
	if err := setup.WriteKey(t00, cl.ops["t00.fed.test."]); err != nil {
		t.Fatal(err)
	}
	if _, err := charlie.in(cl.bin, "delegate", "--node", node(charlie), "--key", t00, "t00.fed.test.", "--ns", "b.example.net.", "--ns", "e.example.net."); err != nil {
		t.Fatal(err)
	}

	// Every node: same app hash, same zone by AXFR, same checkpoint.
	st := agree(t, cl.hosts, 60*time.Second)
	var want []string
	for _, h := range cl.hosts {
		rrs, err := h.axfr("fed.test.")
		if err != nil {
			t.Fatalf("AXFR from %s: %v", h.name, err)
		}
		var got []string
		for _, rr := range rrs {
			got = append(got, rr.String())
		}
		if !slices.Contains(got, "new.fed.test.\t172800\tIN\tNS\td.example.net.") || !slices.Contains(got, "t00.fed.test.\t172800\tIN\tNS\te.example.net.") {
			t.Errorf("the zone of %s lacks the new delegations:\n%s", h.name, strings.Join(got, "\n"))
		}
		if soa, ok := rrs[0].(*dns.SOA); !ok || soa.Serial < st.Serial {
			t.Errorf("the zone of %s starts with %v, want the SOA of serial ≥ %d", h.name, rrs[0], st.Serial)
		}
		if want == nil {
			want = got
		} else if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the zone of %s differs from alpha's:\n%s\n---\n%s", h.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	eventually(t, "same checkpoint everywhere", 30*time.Second, func() error {
		var first string
		for _, h := range cl.hosts {
			head, err := h.checkpointHead()
			if err != nil {
				return err
			}
			if first == "" {
				first = head
			} else if head != first {
				return fmt.Errorf("%s serves %q, alpha %q", h.name, head, first)
			}
		}
		return nil
	})

	// SIGTERM stops a node cleanly; its data directory then refuses another
	// federation's constitution (same founders, another origin).
	if err := alpha.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("alpha after SIGTERM: %v, want a clean exit", err)
	}
	if !strings.Contains(alpha.log.String(), "stopped") {
		t.Errorf("alpha's log does not say it stopped:\n%s", tail(alpha.log.String(), 10))
	}
	other := filepath.Join(cl.dir, "other")
	os.Mkdir(other, 0o755)
	var pubs []string
	for _, h := range cl.hosts {
		pubs = append(pubs, setup.MemberDirPublic(h.dir))
	}
	run(t, cl.bin, append([]string{"constitution", "assemble", "--origin", "fedtest.example/other", "--apex", "fed.test.", "--ns", "ns1.fed.test.=" + alpha.ip,
		"--out", filepath.Join(other, "constitution.json")}, pubs...)...)
	for _, h := range cl.hosts {
		run(t, cl.bin, "constitution", "sign", "--key", key(h), "--add", filepath.Join(other, "constitution.sigs"), filepath.Join(other, "constitution.json"))
	}
	alpha.writeConfig(map[string]any{"constitution": "../other/constitution.json", "constitution_sigs": "../other/constitution.sigs"})
	alpha.start()
	if err := alpha.exited(30 * time.Second); err == nil || !strings.Contains(alpha.log.String(), "belongs to another federation") {
		t.Fatalf("alpha on another federation's constitution: exit %v; log:\n%s", err, tail(alpha.log.String(), 10))
	}
}

// toggle is the i-th change of a genesis TLD's delegation: odd changes add
// a third name server, even ones take it away again.
func toggle(tld string, i int) *action.Delegate {
	ns := []string{"a.example.net.", "b.example.net."}
	if i%2 == 1 {
		ns = append(ns, "c.example.net.")
	}
	return &action.Delegate{TLD: tld, NS: ns}
}

// submitted is a pre-signed action and what became of it.
type submitted struct {
	msg     []byte
	outcome *client.Outcome
	err     error
}

// TestKillNine streams 1,000 actions, pre-signed by 100 TLD operators,
// into three nodes while the fourth is killed with SIGKILL and later
// restarted: the three keep committing, every action is accepted, the
// restarted node catches up to the same app hash, and every accepted
// action's log index holds exactly its bytes on every node.
func TestKillNine(t *testing.T) {
	t.Parallel()
	const operators, perOperator = 100, 10
	cl := newCluster(t, 4)
	cl.found(operators)
	cl.startAll()
	alpha, delta := cl.hosts[0], cl.hosts[3]
	first, err := alpha.api.NextSeq(cl.ops[cl.tlds[0]].Signer.Name())
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	streams := make([][]*submitted, operators)
	for i, tld := range cl.tlds {
		k := cl.ops[tld]
		for j := range perOperator {
			msg, err := action.Sign(action.Action{Origin: cl.c.Origin, Signer: k.Signer.Name(), Seq: first + uint64(j), Expires: expires,
				Kind: action.KindDelegate, Body: toggle(tld, j+1)}, k.Signer)
			if err != nil {
				t.Fatal(err)
			}
			streams[i] = append(streams[i], &submitted{msg: msg})
		}
	}

	// Each operator's actions go one after the other (a signer's sequence
	// numbers must arrive in order) to one of the three nodes that stay up.
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := cl.hosts[i%3]
			for _, s := range streams[i] {
				s.outcome, s.err = h.api.Submit(s.msg)
				if s.err != nil {
					return
				}
				accepted.Add(1)
			}
		}()
	}
	waitAccepted := func(n int64) {
		eventually(t, fmt.Sprintf("%d actions accepted", n), 120*time.Second, func() error {
			if got := accepted.Load(); got < n {
				return fmt.Errorf("%d accepted", got)
			}
			return nil
		})
	}
	began := time.Now()
	waitAccepted(250)
	t.Logf("250 accepted after %s", time.Since(began))
	delta.signal(syscall.SIGKILL)
	killedAt, err := alpha.status()
	if err != nil {
		t.Fatal(err)
	}
	waitAccepted(600)
	for _, h := range cl.hosts[:3] {
		h.waitHeight(killedAt.ChainHeight+3, 30*time.Second)
	}
	t.Logf("600 accepted after %s; restarting delta", time.Since(began))
	delta.start()
	wg.Wait()
	t.Logf("1000 accepted after %s", time.Since(began))
	for i, st := range streams {
		for j, s := range st {
			if s.err != nil {
				t.Fatalf("action %d of %s: %v", j, cl.tlds[i], s.err)
			}
		}
	}
	if got := accepted.Load(); got != operators*perOperator {
		t.Fatalf("%d actions accepted, want %d", got, operators*perOperator)
	}
	if !strings.Contains(delta.log.String(), "node started") {
		t.Fatalf("delta did not restart:\n%s", tail(delta.log.String(), 20))
	}
	st := agree(t, cl.hosts, 90*time.Second)
	t.Logf("all four at height %d, app hash %s, log size %d", st.ChainHeight, st.AppHash, st.LogSize)

	// No accepted action is lost: its index holds exactly its bytes, on
	// the restarted node and on another; every operator's next sequence
	// number counts its accepted actions.
	want := map[int64][]byte{}
	var indexes []int64
	for _, st := range streams {
		for _, s := range st {
			if _, ok := want[s.outcome.Index]; ok {
				t.Fatalf("two accepted actions at log index %d", s.outcome.Index)
			}
			want[s.outcome.Index] = s.msg
			indexes = append(indexes, s.outcome.Index)
		}
	}
	for _, h := range []*host{delta, alpha} {
		got, err := h.entries(indexes)
		if err != nil {
			t.Fatal(err)
		}
		var errs []string
		for _, i := range indexes {
			if !bytes.Equal(got[i], want[i]) {
				errs = append(errs, fmt.Sprintf("%s: entry %d holds %q, want %q", h.name, i, got[i], want[i]))
			}
		}
		if len(errs) > 0 {
			t.Fatalf("%d accepted actions not in the log as accepted, e.g. %s", len(errs), errs[0])
		}
	}
	for _, tld := range cl.tlds {
		name := cl.ops[tld].Signer.Name()
		if next, err := delta.api.NextSeq(name); err != nil || next != first+perOperator {
			t.Fatalf("delta: next sequence of %s = %d (%v), want %d", name, next, err, first+perOperator)
		}
	}
}

// partition moves the hosts' links to the second bridge: they reach one
// another but not the hosts left on the first. heal moves every link back.
func (cl *cluster) partition(hosts ...*host) {
	for _, h := range hosts {
		run(cl.t, "ip", "-n", cl.hub, "link", "set", h.port, "master", "br1")
	}
}

func (cl *cluster) heal() {
	for _, h := range cl.hosts {
		run(cl.t, "ip", "-n", cl.hub, "link", "set", h.port, "master", "br0")
	}
}

// heights reads every host's committed height.
func heights(t testing.TB, hosts []*host) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, h := range hosts {
		s, err := h.status()
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		out[h.name] = s.ChainHeight
	}
	return out
}

// TestPartition splits 4 nodes 2|2: neither side commits (CometBFT needs
// more than two thirds of the power); healed, they go on by themselves
// and agree. Then 3|1: the three commit an action, the one stands still;
// healed, it catches up to the same app hash.
func TestPartition(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 4)
	cl.found(1)
	cl.startAll()
	alpha, charlie, delta := cl.hosts[0], cl.hosts[2], cl.hosts[3]
	agree(t, cl.hosts, 60*time.Second)

	// 2|2: after a moment for a block already voted on to land, no height
	// moves for longer than the empty-block interval (5 s) and several
	// consensus rounds.
	cl.partition(charlie, delta)
	time.Sleep(2 * time.Second)
	before := heights(t, cl.hosts)
	time.Sleep(8 * time.Second)
	after := heights(t, cl.hosts)
	for name, h := range before {
		if after[name] != h {
			t.Errorf("partitioned 2|2, %s went from height %d to %d", name, h, after[name])
		}
	}
	cl.heal()
	top := int64(0)
	for _, h := range after {
		top = max(top, h)
	}
	for _, h := range cl.hosts {
		h.waitHeight(top+2, 90*time.Second)
	}
	agree(t, cl.hosts, 60*time.Second)

	// 3|1: the three go on and commit an action; delta stands still.
	cl.partition(delta)
	time.Sleep(2 * time.Second)
	stuck := heights(t, []*host{delta})["delta"]
	k := cl.ops[cl.tlds[0]]
	msg, err := alpha.api.Build(k.Signer, action.KindDelegate, toggle(cl.tlds[0], 1), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := alpha.api.Submit(msg)
	if err != nil {
		t.Fatalf("partitioned 3|1, an action through alpha: %v", err)
	}
	for _, h := range cl.hosts[:3] {
		h.waitHeight(o.Height+2, 30*time.Second)
	}
	if h := heights(t, []*host{delta})["delta"]; h != stuck {
		t.Errorf("partitioned 3|1, delta alone went from height %d to %d", stuck, h)
	}
	cl.heal()
	delta.waitHeight(o.Height, 90*time.Second)
	agree(t, cl.hosts, 60*time.Second)
	got, err := delta.api.Get(fmt.Sprintf("/entry/%d", o.Index))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("delta's log entry %d = %q (%v), want the action committed during the partition", o.Index, got, err)
	}
}

// TestTamperedStore stops a node, edits a delegation in its store on disk
// and restarts it: it refuses to start with an app-hash mismatch instead
// of serving what the federation never decided; the others go on.
func TestTamperedStore(t *testing.T) {
	t.Parallel()
	cl := newCluster(t, 4)
	cl.found(1)
	cl.startAll()
	alpha, bravo := cl.hosts[0], cl.hosts[1]
	tld := cl.tlds[0]
	msg, err := alpha.api.Build(cl.ops[tld].Signer, action.KindDelegate, toggle(tld, 1), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := alpha.api.Submit(msg)
	if err != nil {
		t.Fatal(err)
	}
	bravo.waitHeight(o.Height, 30*time.Second)
	if err := bravo.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("bravo after SIGTERM: %v", err)
	}

	db, err := bbolt.Open(filepath.Join(setup.MemberDirHome(bravo.dir), "data", "commonroot.db"), 0o600, &bbolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("state"))
		if b == nil {
			return fmt.Errorf("no state bucket")
		}
		key := []byte("tld/" + tld)
		v := b.Get(key)
		edited := bytes.Replace(v, []byte("c.example.net."), []byte("x.example.net."), 1)
		if bytes.Equal(v, edited) {
			return fmt.Errorf("the stored %s (%q) does not name c.example.net.", key, v)
		}
		return b.Put(key, edited)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	bravo.start()
	if err := bravo.exited(60 * time.Second); err == nil || !strings.Contains(bravo.log.String(), "app-hash mismatch") {
		t.Fatalf("bravo on a tampered store: exit %v, want a refusal naming an app-hash mismatch; log:\n%s", err, tail(bravo.log.String(), 20))
	}
	t.Logf("bravo refused: %s", lastLine(bravo.log.String()))
	rest := []*host{alpha, cl.hosts[2], cl.hosts[3]}
	s := agree(t, rest, 60*time.Second)
	for _, h := range rest {
		h.waitHeight(s.ChainHeight+1, 30*time.Second)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
