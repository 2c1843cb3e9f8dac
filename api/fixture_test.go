package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

var genesisTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// backend is a fake Backend on a real registry.State: Submit checks, then
// applies a block with the one action a minute after the last, and appends
// its entries to the log. It takes the write lock as a node does.
type backend struct {
	mu       sync.RWMutex
	c        *constitution.Constitution
	s        *registry.State
	log      Log
	appendTo func(entries [][]byte)
	zone     Zone
	zoneAt   int64
	// mkZone builds a zone version from the state.
	mkZone   func(s *registry.State) Zone
	versions []Zone
	height   int64
	appHash  []byte
	now      time.Time

	// submit, if set, replaces Submit.
	submit func(ctx context.Context, tx []byte) (Outcome, error)
}

func (b *backend) View(f func(s *registry.State)) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	f(b.s)
}

func (b *backend) Submit(ctx context.Context, tx []byte) (Outcome, error) {
	if b.submit != nil {
		return b.submit(ctx, tx)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.s.Check(tx); err != nil {
		return Outcome{}, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	b.now = b.now.Add(time.Minute)
	out := b.s.Apply(b.height+1, b.now, b.log.Size(), [][]byte{tx})
	b.commit(out)
	return Outcome{Result: out.Results[0], Height: b.height}, nil
}

// commit records a block applied with the write lock held.
func (b *backend) commit(out *registry.Output) {
	b.height++
	d := b.s.Digest()
	b.appHash = d[:]
	if out.ZoneChanged {
		b.versions = append(b.versions, b.zone)
		b.zone = b.mkZone(b.s)
		b.zoneAt = b.height
	}
	b.appendTo(out.Entries)
}

func (b *backend) Zone() (Zone, int64) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.zone == nil {
		return nil, 0
	}
	return b.zone, b.zoneAt
}

func (b *backend) Versions() []Zone {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return append(append([]Zone(nil), b.versions...), b.zone)
}

func (b *backend) Log() Log { return b.log }

func (b *backend) Height() (int64, []byte) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.height, b.appHash
}

func (b *backend) Constitution() *constitution.Constitution { return b.c }

var _ Backend = (*backend)(nil)

// mkZone makes a fake zone version: its master file is one comment line.
func mkZone(s *registry.State) Zone {
	return &fakeZone{origin: s.Constitution().Apex, serial: s.Serial(), text: fmt.Sprintf("; zone serial %d\n", s.Serial())}
}

// fakeZone is a zone version: its master file is one comment line.
type fakeZone struct {
	origin string
	serial uint32
	text   string
}

func (z *fakeZone) Origin() string { return z.origin }
func (z *fakeZone) Serial() uint32 { return z.serial }
func (z *fakeZone) Digest() []byte {
	d := make([]byte, 48)
	d[0], d[47] = byte(z.serial), 0xAB
	return d
}
func (z *fakeZone) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, z.text)
	return int64(n), err
}

// memLog is an in-memory RFC 6962 log built with tlog.
type memLog struct {
	mu      sync.Mutex
	origin  string
	entries [][]byte
	hashes  hashes
}

type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(h)) {
			return nil, fmt.Errorf("memlog: hash %d of %d", x, len(h))
		}
		out[i] = h[x]
	}
	return out, nil
}

func (l *memLog) append(entries [][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range entries {
		hs, err := tlog.StoredHashes(int64(len(l.entries)), e, l.hashes)
		if err != nil {
			panic(err)
		}
		l.hashes = append(l.hashes, hs...)
		l.entries = append(l.entries, bytes.Clone(e))
	}
}

func (l *memLog) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.entries))
}

func (l *memLog) Root() (tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tlog.TreeHash(int64(len(l.entries)), l.hashes)
}

func (l *memLog) Entry(i int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= int64(len(l.entries)) {
		panic(fmt.Sprintf("memlog: entry %d of %d asked for", i, len(l.entries))) // stricter than the contract
	}
	return bytes.Clone(l.entries[i]), nil
}

func (l *memLog) InclusionProof(index, size int64) ([]tlog.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if index < 0 || index >= size || size > int64(len(l.entries)) {
		panic(fmt.Sprintf("memlog: proof of %d in %d asked for, size %d", index, size, len(l.entries)))
	}
	return tlog.ProveRecord(size, index, l.hashes)
}

// Handler serves an unsigned checkpoint body; anything else is a plain
// text 404, as translog's handler answers.
func (l *memLog) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/checkpoint" {
			http.Error(w, "no such resource", http.StatusNotFound)
			return
		}
		root, _ := l.Root()
		fmt.Fprintf(w, "%s\n%d\n%s\n", l.origin, l.Size(), base64.StdEncoding.EncodeToString(root[:]))
	})
}

// fed is a test federation: four members (alpha owns aa., beta owns bb.),
// the shared TLD shared. run by op1 (its hosts also serve uses.), and
// uses. run by op2; extra TLDs as asked.
type fed struct {
	t       testing.TB
	b       *backend
	h       http.Handler
	signers map[string]note.Signer
	vkeys   map[string]string
	seq     map[string]uint64
	// first is populate's first action.
	first []byte
}

func newFed(t testing.TB, extraTLDs int, o Options) *fed {
	t.Helper()
	return newFedLog(t, extraTLDs, o, func(origin string) (Log, func([][]byte)) {
		l := &memLog{origin: origin}
		return l, l.append
	})
}

// maxParsedTLDs is the most extra TLDs newFedLog puts through
// constitution.Marshal and Parse.
const maxParsedTLDs = 100_000

// newFedLog is newFed with the log that mkLog makes: the log and the
// function that appends a block's entries to it.
func newFedLog(t testing.TB, extraTLDs int, o Options, mkLog func(origin string) (Log, func([][]byte))) *fed {
	t.Helper()
	f := &fed{t: t, signers: map[string]note.Signer{}, vkeys: map[string]string{}, seq: map[string]uint64{}}
	var members []constitution.Member
	for _, name := range []string{"alpha", "beta", "gamma", "delta"} {
		f.key(name)
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, constitution.Member{Name: name, Key: f.vkeys[name], Validator: base64.StdEncoding.EncodeToString(pub)})
	}
	f.key("op1")
	f.key("op2")
	c := constitution.Default("example.org/test", ".", genesisTime, members,
		[]constitution.Host{{Name: "a.root.fed.", Addrs: []string{"192.0.2.53"}}, {Name: "b.root.fed.", Addrs: []string{"2001:db8::53"}}})
	c.TLDs = []constitution.TLD{
		{Name: "aa.", Owner: "alpha", NS: []string{"ns1.aa.", "ns2.aa."}, Glue: []constitution.Host{{Name: "ns1.aa.", Addrs: []string{"192.0.2.1"}}, {Name: "ns2.aa.", Addrs: []string{"192.0.2.2"}}}},
		{Name: "bb.", Owner: "beta", NS: []string{"ns1.aa.", "ns2.aa."}},
		{Name: "shared.", Operator: f.vkeys["op1"], NS: []string{"ns1.shared.", "ns2.shared."}, Glue: []constitution.Host{{Name: "ns1.shared.", Addrs: []string{"198.51.100.1"}}, {Name: "ns2.shared.", Addrs: []string{"198.51.100.2", "2001:db8::2"}}}},
		{Name: "uses.", Operator: f.vkeys["op2"], NS: []string{"ns1.shared.", "ns2.shared."}},
	}
	for i := range extraTLDs {
		c.TLDs = append(c.TLDs, constitution.TLD{Name: extraName(i), Owner: members[i%len(members)].Name, NS: []string{"ns1.aa.", "ns2.aa."}})
	}
	// The document round trip checks the fixture as a node would; above
	// the document size limit (the benchmarks' million TLDs) the
	// constitution goes to Genesis as built.
	if extraTLDs <= maxParsedTLDs {
		doc, err := constitution.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if c, err = constitution.Parse(doc); err != nil {
			t.Fatal(err)
		}
	}
	s, err := registry.Genesis(c)
	if err != nil {
		t.Fatal(err)
	}
	l, appendTo := mkLog(c.Origin)
	appendTo([][]byte{s.GenesisEntry()})
	f.b = &backend{c: c, s: s, log: l, appendTo: appendTo, now: genesisTime, mkZone: mkZone}
	f.b.zone = mkZone(s)
	// Block 1 is empty, as a node's first block.
	f.b.mu.Lock()
	f.b.now = f.b.now.Add(time.Minute)
	f.b.commit(s.Apply(1, f.b.now, l.Size(), nil))
	f.b.mu.Unlock()
	f.h = New(f.b, o)
	return f
}

// extraName returns the i-th extra TLD's name: letters only, in no
// particular order (so the API must sort).
func extraName(i int) string {
	i = (i*7919 + 13) % 1000003
	var b []byte
	for range 4 {
		b = append(b, byte('a'+i%26))
		i /= 26
	}
	return "x" + string(b) + fmt.Sprint(i%10) + "."
}

func (f *fed) key(name string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		f.t.Fatal(err)
	}
	f.signers[name], f.vkeys[name] = s, vkey
}

// act signs an action of signer with its next sequence number.
func (f *fed) act(signer, kind string, body any) []byte {
	f.t.Helper()
	f.seq[signer]++
	msg, err := action.Sign(action.Action{Origin: f.b.c.Origin, Signer: signer, Seq: f.seq[signer],
		Expires: f.b.now.Add(time.Hour).Format(time.RFC3339), Kind: kind, Body: body}, f.signers[signer])
	if err != nil {
		f.t.Fatal(err)
	}
	return msg
}

// do sends a request and returns the answer's status, header and body.
func (f *fed) do(method, target string, body []byte, header ...string) (int, http.Header, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.Bytes()
}

// get fetches target, wants status code, and decodes its JSON into v.
func (f *fed) get(target string, code int, v any) {
	f.t.Helper()
	got, h, body := f.do("GET", target, nil)
	if got != code {
		f.t.Fatalf("GET %s: status %d, want %d: %s", target, got, code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("GET %s: Content-Type %q, want application/json", target, ct)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			f.t.Fatalf("GET %s: %v in %s", target, err, body)
		}
	}
}

// post submits an action through the API.
func (f *fed) post(msg []byte) (int, Submitted) {
	f.t.Helper()
	code, _, body := f.do("POST", "/v1/actions", msg, "Content-Type", "text/plain; charset=utf-8")
	var s Submitted
	if err := json.Unmarshal(body, &s); err != nil {
		f.t.Fatalf("POST /v1/actions: %v in %s", err, body)
	}
	return code, s
}

// accepted submits an action and fails unless it is accepted.
func (f *fed) accepted(msg []byte) Submitted {
	f.t.Helper()
	code, s := f.post(msg)
	if code != http.StatusOK || !s.Accepted {
		f.t.Fatalf("POST /v1/actions: %d %+v", code, s)
	}
	return s
}

// populate makes some history: a delegation by alpha, a restriction on
// uses. (proposal 1, passed early), op2's response to it, and an open
// tld.create proposal (2) with one vote.
func (f *fed) populate() {
	f.t.Helper()
	d := &action.Delegate{TLD: "aa.", NS: []string{"ns1.aa.", "ns3.aa."}, Glue: []action.Glue{{Host: "ns3.aa.", Addrs: []string{"192.0.2.3"}}}}
	f.first = f.act("alpha", action.KindDelegate, d)
	f.accepted(f.first)
	p := f.accepted(f.act("alpha", action.KindPropose, &action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "court order",
		TLD: "uses.", LegalBasis: "Court of Example, case 42", Evidence: strings.Repeat("ab", 32), Duration: "240h"}))
	if p.Proposal != 1 {
		f.t.Fatalf("first proposal has id %d", p.Proposal)
	}
	for _, m := range []string{"alpha", "beta", "gamma"} {
		f.accepted(f.act(m, action.KindVote, &action.Vote{Proposal: 1, Vote: action.Yes, Rationale: m + " agrees"}))
	}
	f.accepted(f.act("op2", action.KindRespond, &action.Respond{Restriction: 1, Text: "we object, \"strongly\",\nand on two lines"}))
	f.accepted(f.act("beta", action.KindPropose, &action.Propose{Proposal: constitution.TLDCreate, Rationale: "a new one", TLD: "newt.", Operator: f.vkeys["op1"]}))
	f.accepted(f.act("delta", action.KindVote, &action.Vote{Proposal: 2, Vote: action.No, Rationale: "not needed"}))
}
