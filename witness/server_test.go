package witness

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/translog"
)

const origin = "example.org/federation"

// testLog is a translog of origin signed by four member keys.
type testLog struct {
	t       *testing.T
	log     *translog.Log
	db      *bbolt.DB
	signers []note.Signer
	vkeys   []string
}

func newTestLog(t *testing.T) *testLog {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "log.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	lg, err := translog.Open(db, origin)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLog{t: t, log: lg, db: db}
	for _, name := range []string{"alpha", "bravo", "charlie", "delta"} {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		l.signers, l.vkeys = append(l.signers, s), append(l.vkeys, vkey)
	}
	return l
}

// grow appends n entries.
func (l *testLog) grow(n int) {
	l.t.Helper()
	b := l.log.NewBatch()
	for i := 0; i < n; i++ {
		if _, err := b.Append(fmt.Appendf(nil, "entry %d", b.Size())); err != nil {
			l.t.Fatal(err)
		}
	}
	if err := l.db.Update(b.Write); err != nil {
		l.t.Fatal(err)
	}
	if err := l.log.Advance(b); err != nil {
		l.t.Fatal(err)
	}
}

// signed returns the current checkpoint signed by the first k members.
func (l *testLog) signed(k int) []byte {
	return l.sign(l.log.Tree(), k)
}

func (l *testLog) sign(tree tlog.Tree, k int) []byte {
	l.t.Helper()
	msg, err := note.Sign(&note.Note{Text: string(translog.FormatCheckpoint(origin, tree.N, tree.Hash))}, l.signers[:k]...)
	if err != nil {
		l.t.Fatal(err)
	}
	return msg
}

func (l *testLog) proof(old, new int64) ([]tlog.Hash, error) {
	return l.log.ConsistencyProof(old, new)
}

func (l *testLog) policy(k int) Log {
	var vs []note.Verifier
	for _, vk := range l.vkeys {
		v, err := note.NewVerifier(vk)
		if err != nil {
			l.t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return Log{Origin: origin, Verifiers: vs, Quorum: k}
}

// newWitness starts a witness for l (quorum 3) with its state in dir.
func newWitness(t *testing.T, l *testLog, dir string) (*Server, *Cosigner, *httptest.Server) {
	t.Helper()
	skey, _, err := GenerateKey(rand.Reader, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewCosigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(ServerConfig{Signer: cs, Logs: []Log{l.policy(3)}, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, cs, hs
}

func post(t *testing.T, url string, body []byte) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
}

func TestAddCheckpoint(t *testing.T) {
	l := newTestLog(t)
	s, cs, hs := newWitness(t, l, t.TempDir())
	v, _ := NewVerifier(cs.VerifierKey())

	l.grow(5)
	cp5 := l.signed(3)
	sigs, err := NewClient(hs.URL).AddCheckpoint(context.Background(), 0, nil, cp5)
	if err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	cosigned, err := Cosigned(cp5, sigs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(cosigned, note.VerifierList(v)); err != nil {
		t.Fatalf("the witness's answer does not verify: %v", err)
	}

	l.grow(20)
	p, _ := l.proof(5, 25)
	wrong := append([]tlog.Hash(nil), p...)
	wrong[0][0] ^= 1
	forked := l.log.Tree()
	forked.Hash[0] ^= 1
	other := newTestLog(t) // another federation's keys, same origin
	other.grow(25)
	tests := []struct {
		name   string
		body   []byte
		status int
		want   string // in the body
	}{
		{"unknown origin", FormatRequest(5, p, bytes.Replace(l.signed(3), []byte(origin), []byte("other.example"), 1)), 404, "unknown log origin"},
		{"no trusted signature", FormatRequest(5, p, other.signed(4)), 403, "no signature by a key"},
		{"below the policy", FormatRequest(5, p, l.signed(2)), 403, "signed by 2 of log"},
		{"a member's signature fails", FormatRequest(5, p, bytes.Replace(l.signed(3), []byte("\n25\n"), []byte("\n26\n"), 1)), 403, "invalid signature"},
		{"old beyond the size", FormatRequest(30, p, l.signed(3)), 400, "larger than"},
		{"not a request", []byte("hello\n"), 400, "malformed"},
		{"proof from 0", FormatRequest(0, p, l.signed(3)), 409, "5\n"},
		{"wrong proof", FormatRequest(5, wrong, l.signed(3)), 422, "does not verify"},
		{"no proof", FormatRequest(5, nil, l.signed(3)), 422, "does not verify"},
		{"another root at the same size", FormatRequest(5, nil, l.sign(tlog.Tree{N: 5, Hash: forked.Hash}, 3)), 409, "5\n"},
		{"the same checkpoint again", FormatRequest(5, nil, cp5), 200, "— witness.example/w1 "},
		{"the next one", FormatRequest(5, p, l.signed(4)), 200, "— witness.example/w1 "},
		{"the old one now", FormatRequest(5, nil, cp5), 409, "25\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, body := post(t, hs.URL, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("status %d body %q, want %d with %q", status, body, tt.status, tt.want)
			}
			if status == 409 && ct != ContentTypeSize {
				t.Errorf("409 with Content-Type %q, want %q", ct, ContentTypeSize)
			}
		})
	}

	// The state survives a restart, and a second witness process over the
	// same directory refuses what the first one would.
	msg, tree, ok, err := s.Latest(origin)
	if err != nil || !ok || tree != l.log.Tree() {
		t.Fatalf("Latest = %v %v %v, want %v", tree, ok, err, l.log.Tree())
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("the stored checkpoint does not carry the witness's cosignature: %v", err)
	}
	s2, err := NewServer(ServerConfig{Signer: cs, Logs: []Log{l.policy(3)}, StateDir: s.cfg.StateDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, tree, _, _ := s2.Latest(origin); tree.N != 25 {
		t.Errorf("after a restart the witness is at size %d, want 25", tree.N)
	}
}

func TestPush(t *testing.T) {
	l := newTestLog(t)
	_, cs, hs := newWitness(t, l, t.TempDir())
	v, _ := NewVerifier(cs.VerifierKey())
	c := NewClient(hs.URL)
	ctx := context.Background()

	l.grow(3)
	// The caller believes the witness is at 0; it is: no retry.
	if _, size, err := c.Push(ctx, l.signed(3), 0, l.proof); err != nil || size != 3 {
		t.Fatalf("Push = %d, %v", size, err)
	}
	l.grow(10)
	// The caller forgot (0): the 409 tells the size, the retry succeeds.
	sigs, size, err := c.Push(ctx, l.signed(3), 0, l.proof)
	if err != nil || size != 13 {
		t.Fatalf("Push after a 409 = %d, %v", size, err)
	}
	msg, _ := Cosigned(l.signed(3), sigs)
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("cosignature after a retry: %v", err)
	}
	// A wrong belief in the other direction also resolves.
	l.grow(1)
	if _, size, err := c.Push(ctx, l.signed(3), 2, l.proof); err != nil || size != 14 {
		t.Fatalf("Push from a wrong old size = %d, %v", size, err)
	}

	tests := []struct {
		name string
		cp   []byte
		old  int64
		want error
	}{
		{"older than the witness", l.sign(tlog.Tree{N: 3, Hash: mustTreeHash(t, l, 3)}, 3), 0, ErrWitnessAhead},
		{"a fork at its size", l.sign(tlog.Tree{N: 14, Hash: tlog.Hash{1}}, 3), 14, ErrFork},
		{"too few signatures", l.signed(1), 14, ErrForbidden},
		{"the same size again", l.signed(3), 14, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := c.Push(ctx, tt.cp, tt.old, l.proof)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Push error = %v, want %v", err, tt.want)
			}
		})
	}
	l.grow(2)
	bad := func(old, new int64) ([]tlog.Hash, error) {
		p, err := l.proof(old, new)
		if len(p) > 0 {
			p[0][0] ^= 1
		}
		return p, err
	}
	if _, _, err := c.Push(ctx, l.signed(3), 14, bad); !errors.Is(err, ErrBadProof) {
		t.Errorf("Push with a bad proof: %v, want %v", err, ErrBadProof)
	}
	var se *StatusError
	if _, _, err := NewClient(hs.URL+"/nowhere").Push(ctx, l.signed(3), 14, l.proof); !errors.As(err, &se) || !errors.Is(err, ErrUnknownLog) {
		t.Errorf("Push to a wrong URL: %v", err)
	}
}

func mustTreeHash(t *testing.T, l *testLog, n int64) tlog.Hash {
	h, err := l.log.TreeHash(n)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseLog(t *testing.T) {
	l := newTestLog(t)
	keys := strings.Join(l.vkeys, ",")
	tests := []struct {
		in     string
		quorum int
		n      int
		err    string
	}{
		{origin + "=" + keys, 3, 4, ""},
		{origin + "=" + keys + ":2", 2, 4, ""},
		{origin + "=" + l.vkeys[0], 1, 1, ""},
		{origin + "=" + keys + ":5", 0, 0, "can never be met"},
		{origin + "=" + keys + ":0", 0, 0, "not a positive number"},
		{origin, 0, 0, "want ORIGIN="},
		{origin + "=nonsense", 0, 0, "key \"nonsense\""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLog(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseLog error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got.Origin != origin || got.Quorum != tt.quorum || len(got.Verifiers) != tt.n {
				t.Fatalf("ParseLog = %q %d of %d, %v; want %d of %d", got.Origin, got.Quorum, len(got.Verifiers), err, tt.quorum, tt.n)
			}
		})
	}
}
