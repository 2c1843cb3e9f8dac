package action

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func newKey(t testing.TB, name string) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func vote(signer string) Action {
	return Action{Origin: "example.org/fed", Signer: signer, Seq: 1, Expires: "2026-11-24T10:00:00Z", Kind: KindVote,
		Body: &Vote{Proposal: 3, Vote: Yes, Rationale: "fine"}}
}

func TestSignDecodeVerify(t *testing.T) {
	s, vkey := newKey(t, "alpha")
	msg, err := Sign(vote("alpha"), s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(vkey); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v := got.Body.(*Vote); v.Proposal != 3 || v.Vote != Yes || got.Seq != 1 || got.ExpiresAt.IsZero() {
		t.Errorf("decoded %+v %+v", got.Action, v)
	}
	if string(got.Raw) != string(msg) {
		t.Error("Raw differs from the signed bytes")
	}
	_, other := newKey(t, "alpha")
	if err := got.Verify(other); err == nil {
		t.Error("Verify accepted another key of the same name")
	}
}

func TestDecodeRefuses(t *testing.T) {
	s, _ := newKey(t, "alpha")
	s2, _ := newKey(t, "beta")
	sign := func(text string) []byte {
		msg, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	good, err := Encode(vote("alpha"))
	if err != nil {
		t.Fatal(err)
	}
	twoSigs, err := note.Sign(&note.Note{Text: string(good)}, s, s2)
	if err != nil {
		t.Fatal(err)
	}
	line := func(body string) string {
		return `{"origin":"o","signer":"alpha","seq":1,"expires":"2026-11-24T10:00:00Z",` + body + "}\n"
	}
	tests := []struct {
		name string
		msg  []byte
		want string
	}{
		{"oversized", sign(line(`"kind":"vote","body":{"proposal":1,"vote":"yes","rationale":"` + strings.Repeat("x", MaxSize) + `"}`)), "more than the 65535 allowed"},
		{"not a note", []byte("hello\n"), "not a signed note"},
		{"two signatures", twoSigs, "2 signatures, want exactly one"},
		{"two lines", sign(line(`"kind":"vote","body":{"proposal":1,"vote":"yes"}`) + "x\n"), "one line of JSON"},
		{"unknown field", sign(line(`"kind":"vote","body":{"proposal":1,"vote":"yes"},"admin":true`)), `unknown field "admin"`},
		{"duplicate key", sign(line(`"kind":"vote","body":{"proposal":1,"vote":"yes","vote":"no"}`)), `duplicate key "vote"`},
		{"unknown kind", sign(line(`"kind":"seize","body":{}`)), `unknown kind "seize"`},
		{"no body", sign(line(`"kind":"vote"`)), "vote action without a body"},
		{"bad vote", sign(line(`"kind":"vote","body":{"proposal":1,"vote":"maybe"}`)), `vote "maybe" must be yes, no or abstain`},
		{"wrong signer", sign(strings.Replace(line(`"kind":"vote","body":{"proposal":1,"vote":"yes"}`), `"alpha"`, `"beta"`, 1)), `signed by key "alpha" but the action's signer is "beta"`},
		{"bad expiry", sign(strings.Replace(line(`"kind":"vote","body":{"proposal":1,"vote":"yes"}`), "2026-11-24T10:00:00Z", "tomorrow", 1)), `expires "tomorrow"`},
		{"zero seq", sign(strings.Replace(line(`"kind":"vote","body":{"proposal":1,"vote":"yes"}`), `"seq":1`, `"seq":0`, 1)), "seq must be 1 or more"},
		{"body of another kind", sign(line(`"kind":"respond","body":{"proposal":1,"vote":"yes"}`)), `unknown field "proposal"`},
		{"proposal field of another kind", sign(line(`"kind":"propose","body":{"proposal":"tld.delete","rationale":"r","tld":"x.","operator":"k"}`)), "a tld.delete proposal takes no operator"},
		{"proposal missing field", sign(line(`"kind":"propose","body":{"proposal":"restriction.impose","rationale":"r","tld":"x.","evidence":"` + strings.Repeat("a", 64) + `","duration":"24h"}`)), "needs legal_basis"},
		{"bad evidence", sign(line(`"kind":"propose","body":{"proposal":"restriction.impose","rationale":"r","tld":"x.","legal_basis":"b","evidence":"abc","duration":"24h"}`)), "evidence \"abc\""},
		{"negative duration", sign(line(`"kind":"propose","body":{"proposal":"restriction.impose","rationale":"r","tld":"x.","legal_basis":"b","evidence":"` + strings.Repeat("a", 64) + `","duration":"-24h"}`)), "duration \"-24h\""},
		{"dkg without ceremony", sign(line(`"kind":"dkg","body":{"ceremony":0,"attempt":1,"round":"commit","data":"AAAA"}`)), "dkg without a ceremony id"},
		{"dkg attempt 0", sign(line(`"kind":"dkg","body":{"ceremony":1,"attempt":0,"round":"commit","data":"AAAA"}`)), "dkg attempt 0 must be 1 or more"},
		{"dkg unknown round", sign(line(`"kind":"dkg","body":{"ceremony":1,"attempt":1,"round":"reveal","data":"AAAA"}`)), `dkg round "reveal"`},
		{"dkg empty data", sign(line(`"kind":"dkg","body":{"ceremony":1,"attempt":1,"round":"commit","data":""}`)), "not non-empty canonical standard base64"},
		{"dkg url base64", sign(line(`"kind":"dkg","body":{"ceremony":1,"attempt":1,"round":"commit","data":"-_-_"}`)), "not non-empty canonical standard base64"},
		{"dkg non-canonical base64", sign(line(`"kind":"dkg","body":{"ceremony":1,"attempt":1,"round":"commit","data":"AB=="}`)), "not non-empty canonical standard base64"},
		{"key.generate without threshold", sign(line(`"kind":"propose","body":{"proposal":"key.generate","rationale":"r"}`)), "a key.generate proposal needs threshold"},
		{"key.generate threshold 1", sign(line(`"kind":"propose","body":{"proposal":"key.generate","rationale":"r","threshold":1}`)), "threshold 1 is outside 2..65535"},
		{"threshold on another kind", sign(line(`"kind":"propose","body":{"proposal":"tld.delete","rationale":"r","tld":"x.","threshold":3}`)), "a tld.delete proposal takes no threshold"},
		{"sign unknown step", sign(line(`"kind":"sign","body":{"step":"reveal","data":"AAAA"}`)), `sign step "reveal" must be nonces or shares`},
		{"sign nonces without ceremony", sign(line(`"kind":"sign","body":{"step":"nonces","data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`)), "sign nonces name the key's ceremony and nothing else"},
		{"sign nonces with a request", sign(line(`"kind":"sign","body":{"step":"nonces","ceremony":1,"request":2,"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`)), "sign nonces name the key's ceremony and nothing else"},
		{"sign nonces not whole", sign(line(`"kind":"sign","body":{"step":"nonces","ceremony":1,"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`)), "sign nonces hold 65 bytes, want a multiple of 64 up to 600 commitments"},
		{"sign shares without session", sign(line(`"kind":"sign","body":{"step":"shares","request":1,"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}`)), "sign shares need a request id, a session 1 or more and a chunk 0 or more (request 1, session 0, chunk 0)"},
		{"sign shares not whole", sign(line(`"kind":"sign","body":{"step":"shares","request":1,"session":1,"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)), "sign shares hold 33 bytes, want a multiple of 32 up to 1000 shares"},
		{"sign empty data", sign(line(`"kind":"sign","body":{"step":"shares","request":1,"session":1,"data":""}`)), "sign data \"\" is not non-empty canonical standard base64"},
		{"invalid UTF-8", append(sign(line(`"kind":"vote","body":{"proposal":1,"vote":"yes"}`)), 0xff), "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.msg)
			if err == nil {
				t.Fatalf("Decode accepted %+v; want error %q", got.Action, tt.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDKGRoundTrip(t *testing.T) {
	s, vkey := newKey(t, "alpha")
	want := &DKG{Ceremony: 7, Attempt: 2, Round: RoundShares, Data: "AAECAw=="}
	msg, err := Sign(Action{Origin: "o", Signer: "alpha", Seq: 1, Expires: "2026-11-24T10:00:00Z", Kind: KindDKG, Body: want}, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(vkey); err != nil {
		t.Fatal(err)
	}
	d, ok := got.Body.(*DKG)
	if !ok || *d != *want || string(d.Bytes()) != "\x00\x01\x02\x03" {
		t.Errorf("decoded %+v (%x), want %+v", got.Body, d.Bytes(), want)
	}
}

func TestSigningRoundTrip(t *testing.T) {
	s, vkey := newKey(t, "alpha")
	for _, want := range []*Signing{
		{Step: StepNonces, Ceremony: 4, Data: base64.StdEncoding.EncodeToString(make([]byte, MaxNonces*NonceSize))},
		{Step: StepShares, Request: 9, Session: 2, Chunk: 3, Data: base64.StdEncoding.EncodeToString(make([]byte, SharesPerChunk*ShareSize))},
	} {
		msg, err := Sign(Action{Origin: "o", Signer: "alpha", Seq: 1, Expires: "2026-11-24T10:00:00Z", Kind: KindSign, Body: want}, s)
		if err != nil {
			t.Fatalf("%s: %v", want.Step, err)
		}
		got, err := Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := got.Verify(vkey); err != nil {
			t.Fatal(err)
		}
		if d, ok := got.Body.(*Signing); !ok || *d != *want || len(d.Bytes()) != len(want.Bytes()) {
			t.Errorf("decoded %+v, want %+v", got.Body, want)
		}
	}
}

func TestTamperedSignatureFails(t *testing.T) {
	s, vkey := newKey(t, "alpha")
	msg, err := Sign(vote("alpha"), s)
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(strings.Replace(string(msg), `"proposal":3`, `"proposal":4`, 1))
	got, err := Decode(bad)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if err := got.Verify(vkey); err == nil {
		t.Fatal("Verify accepted a tampered action")
	}
}

func FuzzDecode(f *testing.F) {
	s, _ := newKey(f, "alpha")
	for _, a := range []Action{vote("alpha"),
		{Origin: "o", Signer: "alpha", Seq: 2, Expires: "2026-11-24T10:00:00Z", Kind: KindDelegate, Body: &Delegate{TLD: "aa.", NS: []string{"ns1.aa.", "ns2.aa."}, Glue: []Glue{{Host: "ns1.aa.", Addrs: []string{"192.0.2.1"}}}}},
		{Origin: "o", Signer: "alpha", Seq: 3, Expires: "2026-11-24T10:00:00Z", Kind: KindRespond, Body: &Respond{Restriction: 1, Text: "we disagree"}},
		{Origin: "o", Signer: "alpha", Seq: 4, Expires: "2026-11-24T10:00:00Z", Kind: KindDKG, Body: &DKG{Ceremony: 1, Attempt: 2, Round: RoundConfirm, Data: "3q2+7w=="}},
		{Origin: "o", Signer: "alpha", Seq: 6, Expires: "2026-11-24T10:00:00Z", Kind: KindSign, Body: &Signing{Step: StepNonces, Ceremony: 3, Data: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}},
		{Origin: "o", Signer: "alpha", Seq: 7, Expires: "2026-11-24T10:00:00Z", Kind: KindSign, Body: &Signing{Step: StepShares, Request: 2, Session: 1, Chunk: 1, Data: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}},
		{Origin: "o", Signer: "alpha", Seq: 5, Expires: "2026-11-24T10:00:00Z", Kind: KindPropose, Body: &Propose{Proposal: "key.generate", Rationale: "sign", Threshold: 3}},
	} {
		msg, err := Sign(a, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := Decode(msg)
		if err != nil {
			return
		}
		// Whatever decodes is a valid action that encodes again, and
		// keeps the exact input bytes.
		if _, err := Encode(got.Action); err != nil {
			t.Fatalf("decoded action does not encode: %v", err)
		}
		if string(got.Raw) != string(msg) {
			t.Fatal("Raw is not the input")
		}
	})
}
