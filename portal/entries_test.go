package portal

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
)

// TestSummarizeSigning: the signing and rollover entries get their own
// one-line summaries, naming what a reader looks for.
func TestSummarizeSigning(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	next := at.Add(20 * time.Second)
	events := []struct {
		ev   registry.Event
		want string
	}{
		{registry.Event{Event: "signing.opened", Request: 3, Serial: 7, Count: 12, Ceremony: 1},
			"Signing request 3 opened for serial 7: 12 RRsets to sign with the key of ceremony 1"},
		{registry.Event{Event: "signing.session", Request: 3, Round: "rrsets", Attempt: 2, Participants: []string{"alpha", "delta", "gamma"}},
			"Signing request 3, rrsets round, session 2: signers alpha, delta, gamma"},
		{registry.Event{Event: "signing.session", Request: 4, Round: "rrsets", Attempt: 3, Participants: []string{"alpha", "beta"}, Count: 4096, First: 4096, Total: 10000},
			"Signing request 4, rrsets round, session 3 (messages 4097–8192 of 10000): signers alpha, beta"},
		{registry.Event{Event: "signing.excluded", Request: 3, Round: "zonemd", Member: "beta", Reason: "signature share does not verify"},
			"Signing request 3, zonemd round: beta excluded — signature share does not verify"},
		{registry.Event{Event: "zone.signed", Serial: 7, Count: 2794, KeyTag: 4242, Participants: []string{"alpha", "beta", "gamma"}, ZONEMD: "0123456789ABCDEF0123", Expires: &next},
			"Zone version serial 7 signed (2794 RRSIGs, key tag 4242) by alpha, beta, gamma, ZONEMD 0123456789ABCDEF…, first signature expires 2026-11-24 10:00:20 UTC"},
		{registry.Event{Event: "key.published", Ceremony: 5, Serial: 9, Next: &next},
			"The new key of ceremony 5 is published in serial 9 beside the signing key; it takes over at 2026-11-24 10:00:20 UTC"},
		{registry.Event{Event: "key.retired", Ceremony: 1, Reason: "replaced by the key of ceremony 5"},
			"The key of ceremony 1 is retired from the zone — replaced by the key of ceremony 5"},
	}
	for _, tt := range events {
		tt.ev.Time = at
		if got := summarize(1, registry.EncodeEvent(tt.ev)).Summary; got != tt.want {
			t.Errorf("%s: summary %q, want %q", tt.ev.Event, got, tt.want)
		}
	}
	k, err := setup.NewKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		body *action.Signing
		want string
	}{
		{&action.Signing{Step: action.StepNonces, Ceremony: 5, Data: base64.StdEncoding.EncodeToString(make([]byte, 64))}, "alpha's node: nonce commitments for the key of ceremony 5"},
		{&action.Signing{Step: action.StepShares, Request: 3, Session: 2, Chunk: 1, Data: base64.StdEncoding.EncodeToString(make([]byte, 32))}, "alpha's node: signature shares, chunk 1 of signing request 3, session 2"},
	} {
		msg, err := action.Sign(action.Action{Origin: "o", Signer: "alpha", Seq: 1, Expires: "2026-11-24T11:00:00Z", Kind: action.KindSign, Body: tt.body}, k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		if got := summarize(1, msg).Summary; got != tt.want {
			t.Errorf("%s: summary %q, want %q", tt.body.Step, got, tt.want)
		}
	}
}
