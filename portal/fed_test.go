package portal_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/setup"
)

// One dev federation serves every test of the package that needs a real
// node: starting it is most of the package's test time.
var (
	fedOnce sync.Once
	fedErr  error
	theFed  *devFed
)

type devFed struct {
	f    *localfed.Federation
	dir  string
	base string // alpha's HTTP base URL
	cl   *client.Client
	mu   sync.Mutex // serialises the tests' submissions
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theFed != nil {
		theFed.f.Stop()
		os.RemoveAll(theFed.dir)
	}
	os.Exit(code)
}

// fed returns the package's running dev federation of 4 members, started
// on first use.
func fed(t testing.TB) *devFed {
	t.Helper()
	fedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portal-test-")
		if err != nil {
			fedErr = err
			return
		}
		if _, err := localfed.CreateDev(dir, 4); err != nil {
			fedErr = err
			return
		}
		f, err := localfed.Start(localfed.Options{Dir: dir})
		if err != nil {
			fedErr = err
			return
		}
		theFed = &devFed{f: f, dir: dir, base: f.HTTP("alpha"), cl: client.New(f.HTTP("alpha"))}
		fedErr = f.WaitReady(60 * time.Second)
	})
	if fedErr != nil {
		t.Fatalf("starting the dev federation: %v", fedErr)
	}
	return theFed
}

func (d *devFed) key(t testing.TB, path string) *setup.Key {
	t.Helper()
	k, err := setup.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// submit signs body with the key at path and submits it; it fails t
// unless the action is accepted.
func (d *devFed) submit(t testing.TB, keyPath, kind string, body any) *client.Outcome {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.key(t, keyPath)
	msg, err := d.cl.Build(k.Signer, kind, body, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	o, err := d.cl.Submit(msg)
	if err != nil {
		t.Fatalf("submitting %s by %s: %v", kind, keyPath, err)
	}
	return o
}

// propose opens a tld.create proposal for name by alpha and returns its id.
func (d *devFed) propose(t testing.TB, name, rationale string) uint64 {
	t.Helper()
	op, err := setup.NewKey("op-" + strings.TrimSuffix(name, "."))
	if err != nil {
		t.Fatal(err)
	}
	p := &action.Propose{Proposal: constitution.TLDCreate, Rationale: rationale, TLD: name, Operator: op.Verifier,
		Delegation: &action.Delegate{NS: []string{"ns1." + name, "a.gtld-servers.net."}, Glue: []action.Glue{{Host: "ns1." + name, Addrs: []string{"203.0.113.53"}}}}}
	o := d.submit(t, setup.MemberKeyPath(d.dir, "alpha"), action.KindPropose, p)
	if o.Proposal == 0 {
		t.Fatalf("proposing %s: no proposal id in %+v", name, o)
	}
	return o.Proposal
}

func (d *devFed) vote(t testing.TB, member string, id uint64, vote, rationale string) {
	t.Helper()
	d.submit(t, setup.MemberKeyPath(d.dir, member), action.KindVote, &action.Vote{Proposal: id, Vote: vote, Rationale: rationale})
}

// get fetches base+path and returns the status and body.
func get(t testing.TB, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, b
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

func contains(b []byte, s string) error {
	if !bytes.Contains(b, []byte(s)) {
		return fmt.Errorf("no %q in the page", s)
	}
	return nil
}
