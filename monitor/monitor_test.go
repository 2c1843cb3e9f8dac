package monitor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/monitor"
	"github.com/commonroot/commonroot/translog"
)

// keyed is a constitution whose member keys the test holds.
type keyed struct {
	c       *constitution.Constitution
	signers []note.Signer
}

func newKeyed(t *testing.T) *keyed {
	t.Helper()
	k := &keyed{c: &constitution.Constitution{Origin: "monitor.test/federation", Apex: "."}}
	for _, name := range []string{"alpha", "bravo", "charlie", "delta"} {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		k.c.Members = append(k.c.Members, constitution.Member{Name: name, Key: vkey})
		k.signers = append(k.signers, s)
	}
	return k
}

// node serves a translog holding entries, its checkpoint signed by the
// first signers members, as a node's HTTP API would.
func (k *keyed) node(t *testing.T, entries []string, signers int) (*httptest.Server, []byte) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "log.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lg, err := translog.Open(db, k.c.Origin)
	if err != nil {
		t.Fatal(err)
	}
	b := lg.NewBatch()
	for _, e := range entries {
		if _, err := b.Append([]byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(b.Write); err != nil {
		t.Fatal(err)
	}
	if err := lg.Advance(b); err != nil {
		t.Fatal(err)
	}
	for _, s := range k.signers[:signers] {
		if _, err := lg.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := lg.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(lg.Handler())
	t.Cleanup(hs.Close)
	return hs, cp
}

// static serves one signed checkpoint and nothing else.
func static(t *testing.T, cp []byte) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/checkpoint" {
			http.NotFound(w, r)
			return
		}
		w.Write(cp)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func TestCheckpoints(t *testing.T) {
	k := newKeyed(t)
	sign := func(size int64, root tlog.Hash) []byte {
		msg, err := note.Sign(&note.Note{Text: string(translog.FormatCheckpoint(k.c.Origin, size, root))}, k.signers[:3]...)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	abc := []string{"a", "b", "c"}
	tests := []struct {
		name  string
		nodes func(t *testing.T) (a, b *httptest.Server, cpA, cpB []byte)
		kind  string // "" for no alert
	}{
		{"same log, two sizes", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			a, cpA := k.node(t, abc, 3)
			b, cpB := k.node(t, append(abc, "d", "e"), 4)
			return a, b, cpA, cpB
		}, ""},
		{"same checkpoint", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			a, cpA := k.node(t, abc, 3)
			b, cpB := k.node(t, abc, 3)
			return a, b, cpA, cpB
		}, ""},
		{"fork: same size, another root", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			cpA, cpB := sign(7, tlog.Hash{1}), sign(7, tlog.Hash{2})
			return static(t, cpA), static(t, cpB), cpA, cpB
		}, monitor.KindFork},
		{"inconsistent: another history", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			a, cpA := k.node(t, abc, 3)
			b, cpB := k.node(t, []string{"a", "x", "c", "d", "e"}, 3)
			return a, b, cpA, cpB
		}, monitor.KindInconsistent},
		{"inconsistent: the larger one is the first seen", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			a, cpA := k.node(t, []string{"a", "x", "c", "d", "e"}, 3)
			b, cpB := k.node(t, abc, 3)
			return a, b, cpA, cpB
		}, monitor.KindInconsistent},
		{"too few member signatures", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			a, cpA := k.node(t, abc, 3)
			b, cpB := k.node(t, abc, 2)
			return a, b, cpA, cpB
		}, monitor.KindCheckpoint},
		{"a member signature fails", func(t *testing.T) (*httptest.Server, *httptest.Server, []byte, []byte) {
			a, cpA := k.node(t, abc, 3)
			bad := bytes.Replace(sign(3, tlog.Hash{3}), []byte("\n3\n"), []byte("\n4\n"), 1)
			return a, static(t, bad), cpA, bad
		}, monitor.KindCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, cpA, cpB := tt.nodes(t)
			reg := prometheus.NewRegistry()
			var logs bytes.Buffer
			m, err := monitor.New(monitor.Config{
				Constitution: k.c, Registerer: reg, Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
				Nodes: []monitor.Node{{Name: "node-a", URL: a.URL}, {Name: "node-b", URL: b.URL}},
			})
			if err != nil {
				t.Fatal(err)
			}
			alerts, err := m.Once(context.Background(), 5*time.Second)
			if err != nil {
				t.Fatalf("Once: %v", err)
			}
			if tt.kind == "" {
				if len(alerts) != 0 {
					t.Fatalf("alerts %v, want none", alerts)
				}
				return
			}
			if len(alerts) != 1 || alerts[0].Kind != tt.kind {
				t.Fatalf("alerts %v, want one of kind %q", alerts, tt.kind)
			}
			al := alerts[0]
			if got := metric(t, reg, "commonroot_monitor_alerts_total", "kind", tt.kind); got != 1 {
				t.Errorf("commonroot_monitor_alerts_total{kind=%q} = %v, want 1", tt.kind, got)
			}
			if !strings.Contains(logs.String(), `"msg":"divergence","kind":"`+tt.kind+`"`) {
				t.Errorf("no divergence log record of kind %q in %s", tt.kind, logs.String())
			}
			switch tt.kind {
			case monitor.KindFork, monitor.KindInconsistent:
				// The evidence: both signed checkpoints, each with the node
				// that served it (smaller size first for an inconsistency).
				served := map[string]string{"node-a": string(cpA), "node-b": string(cpB)}
				if len(al.Nodes) != 2 || len(al.Checkpoints) != 2 || al.Nodes[0] == al.Nodes[1] {
					t.Fatalf("evidence: nodes %v, %d checkpoints; want both nodes' checkpoints", al.Nodes, len(al.Checkpoints))
				}
				for i, n := range al.Nodes {
					if al.Checkpoints[i] != served[n] {
						t.Errorf("evidence: checkpoint %d is %q, but %s served %q", i, al.Checkpoints[i], n, served[n])
					}
				}
			case monitor.KindCheckpoint:
				if fmt.Sprint(al.Nodes) != "[node-b]" || len(al.Checkpoints) != 1 || al.Checkpoints[0] != string(cpB) {
					t.Fatalf("evidence: nodes %v, checkpoints %q; want node-b's %q", al.Nodes, al.Checkpoints, cpB)
				}
			}
			// The same divergence is reported once.
			if again, _ := m.Check(context.Background()); len(again) != 0 {
				t.Errorf("a second check reports %v again", again)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	k := newKeyed(t)
	a, _ := k.node(t, []string{"a"}, 3)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	m, err := monitor.New(monitor.Config{Constitution: k.c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Nodes: []monitor.Node{{Name: "up", URL: a.URL}, {Name: "down", URL: dead.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := m.Once(context.Background(), time.Second)
	if len(alerts) != 0 || err == nil || !strings.Contains(err.Error(), "down: fetching the checkpoint") {
		t.Fatalf("Once = %v, %v; want no alert and an error naming the node that is down", alerts, err)
	}
}

// metric reads the value of the counter or gauge name{label=value} from reg.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}

// TestRun: the loop checks every node until its context ends and keeps
// the per-node gauge of verified sizes.
func TestRun(t *testing.T) {
	k := newKeyed(t)
	a, _ := k.node(t, []string{"a", "b"}, 3)
	b, _ := k.node(t, []string{"a", "b", "c", "d"}, 3)
	reg := prometheus.NewRegistry()
	m, err := monitor.New(monitor.Config{Constitution: k.c, Registerer: reg,
		Nodes: []monitor.Node{{Name: "a", URL: a.URL}, {Name: "b", URL: b.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		m.Run(ctx, 10*time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("Run did not check both nodes in 30 s")
		}
		mfs, _ := reg.Gather()
		n := 0
		for _, mf := range mfs {
			if mf.GetName() == "commonroot_monitor_verified_size" {
				n = len(mf.GetMetric())
			}
		}
		if n == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := metric(t, reg, "commonroot_monitor_verified_size", "node", "a"); got != 2 {
		t.Errorf("verified size of a = %v, want 2", got)
	}
	if got := metric(t, reg, "commonroot_monitor_verified_size", "node", "b"); got != 4 {
		t.Errorf("verified size of b = %v, want 4", got)
	}
	if got := metric(t, reg, "commonroot_monitor_alerts_total", "kind", monitor.KindFork); got != 0 {
		t.Errorf("fork alerts = %v, want 0", got)
	}
}
