package witness_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/verify"
	"github.com/commonroot/commonroot/witness"
)

// startWitness runs a witness for the federation c (quorum k of its
// members) and returns its URL and verifier key.
func startWitness(t *testing.T, c *constitution.Constitution, name string, k int) (*witness.Server, string, string) {
	t.Helper()
	skey, vkey, err := witness.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := witness.NewCosigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range c.Members {
		keys = append(keys, m.Key)
	}
	l, err := witness.ParseLog(fmt.Sprintf("%s=%s:%d", c.Origin, strings.Join(keys, ","), k))
	if err != nil {
		t.Fatal(err)
	}
	s, err := witness.NewServer(witness.ServerConfig{Signer: cs, Logs: []witness.Log{l}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs.URL, vkey
}

func eventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFederationWitness: every node of a 4-member federation pushes its
// checkpoints to a witness and serves them with the witness's cosignature;
// the witness follows the log as it grows; verify can require it. A second
// witness, driven by hand, refuses a wrong proof and resolves an old size.
func TestFederationWitness(t *testing.T) {
	dir := t.TempDir()
	c, err := localfed.CreateDev(dir, 4)
	if err != nil {
		t.Fatal(err)
	}
	ws, wurl, wkey := startWitness(t, c, "witness.test/w1", 3)
	f, err := localfed.Start(localfed.Options{
		Dir: dir, AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Witnesses: []string{wurl + " " + wkey},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	wv, _ := witness.NewVerifier(wkey)
	members, err := verify.MemberVerifiers(c)
	if err != nil {
		t.Fatal(err)
	}

	// servedCosigned waits until every node serves a checkpoint of at
	// least size that carries the witness's cosignature, and returns alpha's.
	servedCosigned := func(size int64) []byte {
		var cp []byte
		eventually(t, "every node serves a witnessed checkpoint", 30*time.Second, func() error {
			for _, name := range localfed.MemberNames[:4] {
				msg, err := client.New(f.HTTP(name)).Get("/checkpoint")
				if err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
				tree, _, err := translog.VerifyCheckpoint(msg, c.Origin, members, 3)
				if err != nil {
					return fmt.Errorf("%s: %v", name, err)
				}
				if tree.N < size {
					return fmt.Errorf("%s serves size %d, want %d", name, tree.N, size)
				}
				if _, err := note.Open(msg, note.VerifierList(wv)); err != nil {
					return fmt.Errorf("%s serves size %d without the witness's cosignature: %v", name, tree.N, err)
				}
				if name == "alpha" {
					cp = msg
				}
			}
			return nil
		})
		return cp
	}
	first := servedCosigned(1)
	firstTree, _, _ := translog.VerifyCheckpoint(first, c.Origin, members, 3)

	// The log grows: the witness follows with a consistency proof.
	op, err := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(f.HTTP("alpha"))
	msg, err := cl.Build(op.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Submit(msg); err != nil {
		t.Fatal(err)
	}
	grown := f.Nodes["alpha"].App().Log().Size()
	second := servedCosigned(grown)
	secondTree, _, _ := translog.VerifyCheckpoint(second, c.Origin, members, 3)
	if secondTree.N <= firstTree.N {
		t.Fatalf("the log did not grow: %d → %d", firstTree.N, secondTree.N)
	}
	if _, tree, ok, err := ws.Latest(c.Origin); err != nil || !ok || tree.N < secondTree.N {
		t.Errorf("the witness holds %v (%v, %v), want at least size %d", tree, ok, err, secondTree.N)
	}

	t.Run("by hand", func(t *testing.T) {
		// A second witness, which the nodes do not know, fed by hand with
		// the federation's checkpoints and proofs.
		_, url2, key2 := startWitness(t, c, "witness.test/w2", 3)
		lg := f.Nodes["alpha"].App().Log()
		w2 := witness.NewClient(url2)
		ctx := context.Background()
		if _, _, err := w2.Push(ctx, first, 0, lg.ConsistencyProof); err != nil {
			t.Fatalf("first checkpoint: %v", err)
		}
		wrong := func(old, new int64) ([]tlog.Hash, error) {
			p, err := lg.ConsistencyProof(old, new)
			if len(p) > 0 {
				p[len(p)-1][0] ^= 1
			}
			return p, err
		}
		_, _, err := w2.Push(ctx, second, firstTree.N, wrong)
		var se *witness.StatusError
		if !errors.As(err, &se) || se.Status != 422 || !errors.Is(err, witness.ErrBadProof) {
			t.Fatalf("a wrong proof: %v, want a 422", err)
		}
		// An old size of 0 gets a 409 with the witness's size; Push retries.
		sigs, size, err := w2.Push(ctx, second, 0, lg.ConsistencyProof)
		if err != nil || size != secondTree.N {
			t.Fatalf("from old size 0: size %d, %v", size, err)
		}
		v2, _ := witness.NewVerifier(key2)
		cosigned, _ := witness.Cosigned(second, sigs)
		if _, err := note.Open(cosigned, note.VerifierList(v2)); err != nil {
			t.Fatalf("the cosignature after a 409: %v", err)
		}
		// The first checkpoint is now older than what it holds.
		if _, err := w2.AddCheckpoint(ctx, firstTree.N, nil, first); err == nil {
			t.Fatal("the witness cosigned an older checkpoint")
		} else if conflict, ok := err.(*witness.ConflictError); !ok || conflict.Size != secondTree.N {
			t.Fatalf("an older checkpoint: %v, want a 409 with size %d", err, secondTree.N)
		}
	})

	t.Run("verify", func(t *testing.T) {
		_, never, _ := witness.GenerateKey(rand.Reader, "witness.test/never")
		tests := []struct {
			name   string
			keys   []string
			quorum int
			want   string // "" for success
		}{
			{"the witness", []string{wkey}, 1, ""},
			{"default quorum", []string{wkey, never}, 0, ""},
			{"a witness that never cosigned", []string{never}, 1, "witnesses: the checkpoint is cosigned by 0"},
			{"both", []string{wkey, never}, 2, "cosigned by 1 of the witnesses"},
			{"more than the keys", []string{wkey}, 2, "can never be met"},
			{"a member key", []string{c.Members[0].Key}, 1, "not an Ed25519 cosignature key"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := verify.Options{Node: f.HTTP("bravo"), DNS: f.Nodes["bravo"].DNSAddr(), Constitution: c,
					Witnesses: tt.keys, WitnessQuorum: tt.quorum, Wait: 10 * time.Second}
				if tt.want != "" {
					o.Wait = time.Second
				}
				r, err := verify.Run(o)
				switch {
				case tt.want == "" && err != nil:
					t.Fatalf("Run = %v, want success", err)
				case tt.want == "" && (len(r.Witnesses) != 1 || r.Witnesses[0] != "witness.test/w1"):
					t.Fatalf("Run = ok with witnesses %q", r.Witnesses)
				case tt.want != "" && err == nil:
					t.Fatalf("Run = ok (witnesses %q), want an error containing %q", r.Witnesses, tt.want)
				case tt.want != "" && !strings.Contains(err.Error(), tt.want):
					t.Fatalf("Run error = %q, want it to contain %q", err, tt.want)
				}
			})
		}
	})
}
