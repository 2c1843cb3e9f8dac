package translog

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestParseCheckpoint(t *testing.T) {
	root := tlog.RecordHash([]byte("root"))
	b64 := base64.StdEncoding.EncodeToString(root[:])
	good := []struct {
		text   string
		origin string
		size   int64
	}{
		{"example.org/log\n0\n" + b64 + "\n", "example.org/log", 0},
		{"example.org/log\n1\n" + b64 + "\n", "example.org/log", 1},
		{"o\n9223372036854775807\n" + b64 + "\n", "o", 1<<63 - 1},
		{"example.org/log with spaces\n20852163\n" + b64 + "\n", "example.org/log with spaces", 20852163},
	}
	for _, tt := range good {
		t.Run(tt.text, func(t *testing.T) {
			origin, size, r, err := ParseCheckpoint([]byte(tt.text))
			if err != nil {
				t.Fatalf("ParseCheckpoint(%q): %v", tt.text, err)
			}
			if origin != tt.origin || size != tt.size || r != root {
				t.Errorf("ParseCheckpoint(%q) = %q, %d, %v; want %q, %d, %v", tt.text, origin, size, r, tt.origin, tt.size, root)
			}
			if got := FormatCheckpoint(origin, size, r); string(got) != tt.text {
				t.Errorf("FormatCheckpoint gives back %q, want %q", got, tt.text)
			}
		})
	}
	short := base64.StdEncoding.EncodeToString(root[:31])
	long := base64.StdEncoding.EncodeToString(append(root[:], 0))
	// The same 32 bytes with non-zero padding bits: decodes leniently, not canonical.
	noncanon := b64[:42] + string(b64[42]+1) + "="
	for _, text := range []string{
		"",
		"\n",
		"example.org/log\n1\n" + b64,          // no final newline
		"example.org/log\n1\n" + b64 + "\n\n", // empty extension line
		"example.org/log\n1\n" + b64 + "\nextension\n",              // extension line
		"example.org/log\n1\n",                                      // two lines
		"\n1\n" + b64 + "\n",                                        // empty origin
		"example.org/\x01log\n1\n" + b64 + "\n",                     // control character
		"example.org/\xfflog\n1\n" + b64 + "\n",                     // invalid UTF-8
		"example.org/log\n01\n" + b64 + "\n",                        // leading zero
		"example.org/log\n00\n" + b64 + "\n",                        // leading zero
		"example.org/log\n+1\n" + b64 + "\n",                        // sign
		"example.org/log\n-1\n" + b64 + "\n",                        // negative
		"example.org/log\n 1\n" + b64 + "\n",                        // space
		"example.org/log\n1 \n" + b64 + "\n",                        // space
		"example.org/log\n\n" + b64 + "\n",                          // empty size
		"example.org/log\n0x10\n" + b64 + "\n",                      // hex
		"example.org/log\n9223372036854775808\n" + b64 + "\n",       // 2⁶³
		"example.org/log\n1\n" + short + "\n",                       // 31 bytes
		"example.org/log\n1\n" + long + "\n",                        // 33 bytes
		"example.org/log\n1\n" + strings.TrimRight(b64, "=") + "\n", // no padding
		"example.org/log\n1\n" + noncanon + "\n",                    // non-canonical
		"example.org/log\n1\n" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)) + "\n", // URL alphabet
		"example.org/log\n1\n" + b64[:20] + "\r" + b64[20:] + "\n",                                        // CR ignored by the decoder
		"example.org/log\r\n1\r\n" + b64 + "\r\n",                                                         // CRLF
	} {
		if o, s, r, err := ParseCheckpoint([]byte(text)); err == nil {
			t.Errorf("ParseCheckpoint(%q) = %q, %d, %v; want an error", text, o, s, r)
		}
	}
}

type member struct {
	name     string
	signer   note.Signer
	verifier note.Verifier
}

func newMember(t testing.TB, name string) member {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return member{name, s, v}
}

// federation returns n members, each with its own replica of a log of the
// given size.
func federation(t *testing.T, n int, size int64) ([]member, []*Log, note.Verifiers) {
	var ms []member
	var logs []*Log
	var vs []note.Verifier
	for i := 0; i < n; i++ {
		m := newMember(t, fmt.Sprintf("member%d", i+1))
		lg, db := newLog(t)
		growTo(t, lg, db, size, 50)
		ms, logs, vs = append(ms, m), append(logs, lg), append(vs, m.verifier)
	}
	return ms, logs, note.VerifierList(vs...)
}

func TestCosignatureMerge(t *testing.T) {
	ms, logs, verifiers := federation(t, 3, 123)
	var notes [][]byte
	for i, lg := range logs {
		msg, err := lg.Sign(ms[i].signer)
		if err != nil {
			t.Fatal(err)
		}
		notes = append(notes, msg)
	}
	for i, msg := range notes[1:] {
		added, err := logs[0].AddSignatures(msg, verifiers)
		if err != nil {
			t.Fatalf("AddSignatures(note of %s): %v", ms[i+1].name, err)
		}
		if added != 1 {
			t.Errorf("AddSignatures(note of %s) added %d, want 1", ms[i+1].name, added)
		}
	}
	// Offering the same signatures again adds nothing.
	if added, err := logs[0].AddSignatures(notes[2], verifiers); err != nil || added != 0 {
		t.Errorf("AddSignatures of a known signature = %d, %v; want 0, nil", added, err)
	}
	cp, err := logs[0].Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp, verifiers)
	if err != nil {
		t.Fatalf("note.Open(merged checkpoint): %v", err)
	}
	if len(n.Sigs) != 3 || len(n.UnverifiedSigs) != 0 {
		t.Errorf("merged checkpoint has %d verified and %d unverified signatures, want 3 and 0:\n%s", len(n.Sigs), len(n.UnverifiedSigs), cp)
	}
	if n.Text != string(logs[0].CurrentCheckpointBody()) {
		t.Errorf("merged checkpoint text %q, want %q", n.Text, logs[0].CurrentCheckpointBody())
	}
	tree, names, err := VerifyCheckpoint(cp, testOrigin, verifiers, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := logs[0].Tree(); tree != want {
		t.Errorf("VerifyCheckpoint tree %v, want %v", tree, want)
	}
	if got := strings.Join(names, ","); got != "member1,member2,member3" {
		t.Errorf("VerifyCheckpoint names %q, want member1,member2,member3", got)
	}

	// Member 1 merging in the other order gets the same bytes.
	for _, msg := range [][]byte{notes[2], notes[1]} {
		if _, err := logs[1].AddSignatures(msg, verifiers); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := logs[1].AddSignatures(notes[0], verifiers); err != nil {
		t.Fatal(err)
	}
	cp1, err := logs[1].Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp, cp1) {
		t.Errorf("merged notes differ between replicas:\n%s\n%s", cp, cp1)
	}

	// A merged note from a peer brings all its signatures at once.
	if added, err := logs[2].AddSignatures(cp, verifiers); err != nil || added != 2 {
		t.Errorf("AddSignatures(merged note) = %d, %v; want 2, nil", added, err)
	}
}

func TestSignIsDeterministic(t *testing.T) {
	ms, logs, verifiers := federation(t, 1, 10)
	a, err := logs[0].Sign(ms[0].signer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := logs[0].Sign(ms[0].signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("two signatures of the same checkpoint differ:\n%s\n%s", a, b)
	}
	cp, err := logs[0].Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp, a) {
		t.Errorf("Checkpoint() = %q, want the one signature %q", cp, a)
	}
	if _, _, err := VerifyCheckpoint(a, testOrigin, verifiers, 1); err != nil {
		t.Error(err)
	}
}

func TestEquivocation(t *testing.T) {
	ms, logs, verifiers := federation(t, 2, 40)
	honest, err := logs[0].Sign(ms[0].signer)
	if err != nil {
		t.Fatal(err)
	}
	// A third member whose replica holds other entries of the same count.
	liar := newMember(t, "member3")
	verifiers = note.VerifierList(ms[0].verifier, ms[1].verifier, liar.verifier)
	other, db := newLog(t)
	var es [][]byte
	for i := int64(0); i < 40; i++ {
		es = append(es, fmt.Appendf(nil, "forged %d", i))
	}
	appendCommit(t, other, db, es...)
	forged, err := other.Sign(liar.signer)
	if err != nil {
		t.Fatal(err)
	}

	added, err := logs[0].AddSignatures(forged, verifiers)
	var eq *EquivocationError
	if !errors.As(err, &eq) {
		t.Fatalf("AddSignatures(forged) = %d, %v; want an *EquivocationError", added, err)
	}
	if eq.Size != 40 || !bytes.Equal(eq.Ours, honest) || !bytes.Equal(eq.Theirs, forged) {
		t.Errorf("EquivocationError{Size: %d, Ours: %q, Theirs: %q}, want size 40 and both notes", eq.Size, eq.Ours, eq.Theirs)
	}
	// Both notes are evidence: each verifies with its signer's key.
	if _, err := note.Open(eq.Ours, note.VerifierList(ms[0].verifier)); err != nil {
		t.Errorf("Ours does not verify: %v", err)
	}
	if _, err := note.Open(eq.Theirs, note.VerifierList(liar.verifier)); err != nil {
		t.Errorf("Theirs does not verify: %v", err)
	}
	// Nothing of the forged note was stored.
	cp, _ := logs[0].Checkpoint()
	if !bytes.Equal(cp, honest) {
		t.Errorf("checkpoint changed after an equivocation:\n%s", cp)
	}
	// Without a stored note, Ours is the body.
	if _, err := logs[1].AddSignatures(forged, verifiers); !errors.As(err, &eq) || !bytes.Equal(eq.Ours, logs[1].CurrentCheckpointBody()) {
		t.Errorf("AddSignatures(forged) on an unsigned replica = %v, Ours %q; want the body", err, eq.Ours)
	}
}

func TestAddSignaturesRefuses(t *testing.T) {
	ms, logs, verifiers := federation(t, 2, 20)
	lg := logs[0]
	signed := func(text string, m member) []byte {
		msg, err := note.Sign(&note.Note{Text: text}, m.signer)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	body := string(lg.CurrentCheckpointBody())
	root, _ := lg.Root()
	stranger := newMember(t, "stranger")
	tamper := []byte(strings.Replace(string(signed(body, ms[1])), "\n— member2 ", "\n— member2 A", 1))
	for _, tt := range []struct {
		name string
		msg  []byte
		is   error
	}{
		{"unknown key only", signed(body, stranger), nil},
		{"bad signature by a known key", tamper, nil},
		{"not a checkpoint", signed("{\"kind\":\"vote\"}\n", ms[1]), nil},
		{"extension line", signed(body+"ext\n", ms[1]), nil},
		{"other origin", signed(string(FormatCheckpoint("example.org/other", 20, root)), ms[1]), nil},
		{"size beyond ours", signed(string(FormatCheckpoint(testOrigin, 21, root)), ms[1]), ErrNotFound},
		{"not a note", []byte(body), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			added, err := lg.AddSignatures(tt.msg, verifiers)
			var eq *EquivocationError
			if err == nil || errors.As(err, &eq) || added != 0 {
				t.Fatalf("AddSignatures = %d, %v; want a plain error", added, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want %v", err, tt.is)
			}
		})
	}
	if _, err := lg.Checkpoint(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Checkpoint() after refused notes: %v, want ErrNotFound", err)
	}
}

func TestAddSignaturesEarlierSize(t *testing.T) {
	ms, logs, verifiers := federation(t, 2, 20)
	old, err := logs[1].Sign(ms[1].signer)
	if err != nil {
		t.Fatal(err)
	}
	// Member 1 has moved on, signed size 25, then hears member 2's size 20.
	lg := logs[0]
	growTo(t, lg, lg.db, 25, 5)
	if _, err := lg.Sign(ms[0].signer); err != nil {
		t.Fatal(err)
	}
	if added, err := lg.AddSignatures(old, verifiers); err != nil || added != 1 {
		t.Fatalf("AddSignatures(size 20) = %d, %v; want 1, nil", added, err)
	}
	latest, _ := lg.Checkpoint()
	if tree, _, err := VerifyCheckpoint(latest, testOrigin, verifiers, 1); err != nil || tree.N != 25 {
		t.Errorf("Checkpoint() is of size %d (%v), want 25", tree.N, err)
	}
	at20, err := lg.CheckpointAt(20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(at20, old) {
		t.Errorf("CheckpointAt(20) = %q, want %q", at20, old)
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	ms, logs, verifiers := federation(t, 3, 7)
	for i, lg := range logs[1:] {
		msg, err := lg.Sign(ms[i+1].signer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := logs[0].AddSignatures(msg, verifiers); err != nil {
			t.Fatal(err)
		}
	}
	two, err := logs[0].Checkpoint() // member2 and member3
	if err != nil {
		t.Fatal(err)
	}
	only1 := note.VerifierList(ms[1].verifier)
	for _, tt := range []struct {
		name      string
		msg       []byte
		origin    string
		verifiers note.Verifiers
		quorum    int
		wantNames string // "" for an error
	}{
		{"quorum met", two, testOrigin, verifiers, 2, "member2,member3"},
		{"quorum of one", two, testOrigin, verifiers, 1, "member2,member3"},
		{"quorum not met", two, testOrigin, verifiers, 3, ""},
		{"unknown keys do not count", two, testOrigin, only1, 2, ""},
		{"one known key", two, testOrigin, only1, 1, "member2"},
		{"wrong origin", two, "example.org/other", verifiers, 1, ""},
		{"quorum zero", two, testOrigin, verifiers, 0, ""},
		{"duplicate signature lines count once", append(bytes.Clone(two), two[bytes.LastIndex(two, []byte("— member3")):]...), testOrigin, verifiers, 3, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tree, names, err := VerifyCheckpoint(tt.msg, tt.origin, tt.verifiers, tt.quorum)
			if tt.wantNames == "" {
				if err == nil {
					t.Errorf("VerifyCheckpoint = %v, %q; want an error", tree, names)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names, ","); got != tt.wantNames {
				t.Errorf("names %q, want %q", got, tt.wantNames)
			}
			if tree != logs[0].Tree() {
				t.Errorf("tree %v, want %v", tree, logs[0].Tree())
			}
		})
	}
}
