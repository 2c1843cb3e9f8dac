package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

const body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

func TestCosignatureFormat(t *testing.T) {
	skey, vkey, err := GenerateKey(rand.Reader, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewCosigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(1679315147, 0)
	s.Now = func() time.Time { return when }
	if got := s.VerifierKey(); got != vkey {
		t.Errorf("VerifierKey() = %q, want %q", got, vkey)
	}
	msg, err := note.Sign(&note.Note{Text: body}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("opening the cosigned note: %v", err)
	}
	if len(n.Sigs) != 1 {
		t.Fatalf("%d verified signatures, want 1", len(n.Sigs))
	}
	// The signature is what c2sp.org/tlog-cosignature says, checked here
	// with crypto/ed25519 directly: key ID, big-endian timestamp, and an
	// Ed25519 signature of the timestamped message.
	raw, _ := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	if len(raw) != 4+8+64 {
		t.Fatalf("signature of %d bytes, want 76", len(raw))
	}
	parts := strings.SplitN(vkey, "+", 3) // the base64 key may hold a '+'
	key, _ := base64.StdEncoding.DecodeString(parts[2])
	if key[0] != 0x04 {
		t.Fatalf("verifier key type %#x, want 0x04", key[0])
	}
	if got, want := fmt.Sprintf("%08x", raw[:4]), parts[1]; got != want {
		t.Errorf("key ID %s, want %s", got, want)
	}
	if got := raw[4:12]; string(got) != "\x00\x00\x00\x00\x64\x18\x50\xcb" {
		t.Errorf("timestamp bytes %x, want 00000000641850cb", got)
	}
	signed := "cosignature/v1\ntime 1679315147\n" + body
	if !ed25519.Verify(ed25519.PublicKey(key[1:]), []byte(signed), raw[12:]) {
		t.Error("the signature does not verify over the C2SP cosigned message")
	}
	if ts, err := Timestamp(n.Sigs[0]); err != nil || !ts.Equal(when) {
		t.Errorf("Timestamp = %v, %v; want %v", ts, err, when)
	}

	// Another text, another key, a plain Ed25519 key of the same name.
	if _, err := note.Open([]byte(strings.Replace(string(msg), "20852163", "20852164", 1)), note.VerifierList(v)); err == nil {
		t.Error("a cosignature verified on another checkpoint")
	}
	_, other, _ := GenerateKey(rand.Reader, "witness.example/w1")
	ov, _ := NewVerifier(other)
	if _, err := note.Open(msg, note.VerifierList(ov)); err == nil {
		t.Error("a cosignature verified with another key")
	}
}

func TestKeyParsing(t *testing.T) {
	skey, vkey, err := GenerateKey(rand.Reader, "w")
	if err != nil {
		t.Fatal(err)
	}
	_, plain, _ := note.GenerateKey(rand.Reader, "w")
	plainSkey, _, _ := note.GenerateKey(rand.Reader, "w")
	// flip changes character i to another one that means something
	// else whatever the case (a key ID's hex digits parse either way).
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	vtests := []struct {
		name, vkey string
		ok         bool
	}{
		{"generated", vkey, true},
		{"with spaces", " " + vkey + "\n", true},
		{"plain Ed25519 key", plain, false},
		{"wrong key ID", flip(vkey, 3), false},
		{"altered key", flip(vkey, len(vkey)-3), false},
		{"no hash", "w+" + strings.SplitN(vkey, "+", 3)[2], false},
		{"empty", "", false},
		{"name with a space", "w x+00000000+BA==", false},
	}
	for _, tt := range vtests {
		t.Run("verifier/"+tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.vkey)
			if (err == nil) != tt.ok {
				t.Errorf("NewVerifier(%q) error = %v, want ok %v", tt.vkey, err, tt.ok)
			}
		})
	}
	stests := []struct {
		name, skey string
		ok         bool
	}{
		{"generated", skey, true},
		{"plain Ed25519 key", plainSkey, false},
		{"no prefix", strings.TrimPrefix(skey, "PRIVATE+KEY+"), false},
		{"wrong key ID", flip(skey, len("PRIVATE+KEY+w+")+1), false},
	}
	for _, tt := range stests {
		t.Run("signer/"+tt.name, func(t *testing.T) {
			_, err := NewCosigner(tt.skey)
			if (err == nil) != tt.ok {
				t.Errorf("NewCosigner(%q) error = %v, want ok %v", tt.skey, err, tt.ok)
			}
		})
	}
	if _, _, err := GenerateKey(rand.Reader, "a+b"); err == nil {
		t.Error("GenerateKey accepted a name with '+'")
	}
}
