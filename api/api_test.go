package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

func TestSubmit(t *testing.T) {
	f := newFed(t, 0, Options{})
	ok := f.act("alpha", action.KindDelegate, &action.Delegate{TLD: "aa.", NS: []string{"ns1.aa.", "ns2.aa.", "ns1.shared."}})
	code, got := f.post(ok)
	if code != http.StatusOK || !got.Accepted || got.Index != 1 || got.Height != 2 || got.Code != 0 || got.Reason != "" {
		t.Fatalf("delegation: %d %+v, want 200 accepted at index 1, height 2", code, got)
	}
	code, got = f.post(f.act("gamma", action.KindPropose, &action.Propose{Proposal: constitution.TLDDelete, Rationale: "why not", TLD: "bb."}))
	if code != http.StatusOK || got.Proposal != 1 {
		t.Fatalf("proposal: %d %+v, want 200 with proposal 1", code, got)
	}

	mallory := func() []byte {
		skey, _, _ := note.GenerateKey(nil, "mallory")
		s, _ := note.NewSigner(skey)
		msg, err := action.Sign(action.Action{Origin: f.b.c.Origin, Signer: "mallory", Seq: 1, Expires: f.b.now.Add(time.Hour).Format(time.RFC3339),
			Kind: action.KindVote, Body: &action.Vote{Proposal: 1, Vote: action.Yes}}, s)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}()
	for _, tt := range []struct {
		name   string
		body   []byte
		ctype  string
		code   int
		result uint32
		reason string
	}{
		{"refused by the check (the rules apply before any block)", f.act("beta", action.KindDelegate, &action.Delegate{TLD: "aa.", NS: []string{"ns1.aa.", "ns2.aa."}}), "text/plain", 422, registry.CodeForbidden, `"beta" may not change "aa."`},
		{"replay refused by CheckTx", ok, "application/octet-stream", 422, registry.CodeSequence, "already used"},
		{"malformed", []byte("hello\n"), "text/plain", 422, registry.CodeMalformed, "malformed action: not a signed note"},
		{"empty", nil, "", 422, registry.CodeMalformed, "malformed action"},
		{"unknown signer", mallory, "text/plain", 422, registry.CodeUnknownSigner, `unknown signer "mallory"`},
		{"larger than an entry", bytes.Repeat([]byte("a"), action.MaxSize+1), "text/plain", 413, 0, ""},
		{"larger than MaxBody", bytes.Repeat([]byte("a"), DefaultMaxBody+1), "text/plain", 413, 0, ""},
		{"JSON content type", ok, "application/json", 415, 0, ""},
		{"form content type", ok, "application/x-www-form-urlencoded", 415, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.ctype != "" {
				h = []string{"Content-Type", tt.ctype}
			}
			code, hd, body := f.do("POST", "/v1/actions", tt.body, h...)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			if ct := hd.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.code != 422 {
				checkErrorBody(t, body)
				return
			}
			var got Submitted
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Accepted || got.Code != tt.result || !strings.Contains(got.Reason, tt.reason) || got.Height < 2 {
				t.Errorf("got %+v, want code %d and a reason containing %q", got, tt.result, tt.reason)
			}
		})
	}
	if h, _ := f.b.Height(); h != 3 {
		t.Errorf("height %d after 2 blocks, want 3: a refused action reached a block", h)
	}
}

// checkErrorBody checks an error answer: {"error": "..."}.
func checkErrorBody(t *testing.T, body []byte) {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if msg, _ := e["error"].(string); msg == "" || len(e) != 1 {
		t.Errorf("error body %s, want only a non-empty \"error\"", body)
	}
}

// TestSubmitBackendErrors checks how Submit's errors map to answers.
func TestSubmitBackendErrors(t *testing.T) {
	f := newFed(t, 0, Options{SubmitTimeout: time.Millisecond})
	// An action the registry's check admits, so that Submit decides.
	msg := f.act("op1", action.KindDelegate, &action.Delegate{TLD: "shared.", NS: []string{"ns1.shared.", "ns2.shared."}})
	for _, tt := range []struct {
		name   string
		submit func(ctx context.Context, tx []byte) (Outcome, error)
		code   int
		result uint32
		reason string
	}{
		{"CheckTx refusal", func(context.Context, []byte) (Outcome, error) {
			return Outcome{}, fmt.Errorf("%w: the mempool has it already", ErrRejected)
		}, 422, registry.CodeInvalid, "the mempool has it already"},
		{"CheckTx refusal with a code", func(context.Context, []byte) (Outcome, error) {
			return Outcome{}, fmt.Errorf("%w: %w", ErrRejected, &registry.Rejection{Code: registry.CodeSequence, Reason: "sequence 1 is pending"})
		}, 422, registry.CodeSequence, "sequence 1 is pending"},
		{"not committed in time", func(ctx context.Context, _ []byte) (Outcome, error) {
			<-ctx.Done()
			return Outcome{}, fmt.Errorf("not committed in time: %v", ctx.Err()) // as node.Submit: not wrapped
		}, 504, 0, ""},
		{"consensus down", func(context.Context, []byte) (Outcome, error) {
			return Outcome{}, errors.New("consensus is stopped")
		}, 503, 0, ""},
		{"rejected in the block", func(context.Context, []byte) (Outcome, error) {
			return Outcome{Result: registry.Result{Code: registry.CodeInvalid, Reason: "no proposal 1", Index: -1}, Height: 7}, nil
		}, 422, registry.CodeInvalid, "no proposal 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.b.submit = tt.submit
			code, _, body := f.do("POST", "/v1/actions", msg, "Content-Type", "text/plain")
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			if tt.code != 422 {
				checkErrorBody(t, body)
				return
			}
			var got Submitted
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Accepted || got.Code != tt.result || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("got %+v, want code %d and a reason containing %q", got, tt.result, tt.reason)
			}
		})
	}
}

func TestReads(t *testing.T) {
	f := newFed(t, 0, Options{})
	f.populate()
	height, appHash := f.b.Height()
	logSize := f.b.log.Size()
	root, _ := f.b.log.Root()
	wantTree := Tree{Size: logSize, Root: base64.StdEncoding.EncodeToString(root[:])}
	checkStamp := func(t *testing.T, s Stamp) {
		t.Helper()
		if s.Height != height || s.Checkpoint == nil || *s.Checkpoint != wantTree {
			t.Errorf("stamp %+v %+v, want height %d and %+v", s, s.Checkpoint, height, wantTree)
		}
	}

	t.Run("status", func(t *testing.T) {
		var got Status
		f.get("/v1/status", 200, &got)
		checkStamp(t, got.Stamp)
		want := Status{Stamp: got.Stamp, Origin: "example.org/test", Apex: ".", Time: f.b.now, ChainHeight: height,
			AppHash: strings.ToUpper(hex.EncodeToString(appHash)), LogSize: logSize, LogRoot: wantTree.Root,
			Serial: f.b.zone.Serial(), ZONEMD: strings.ToUpper(hex.EncodeToString(f.b.zone.Digest())), ZoneHeight: f.b.zoneAt,
			Members: []string{"alpha", "beta", "delta", "gamma"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("members", func(t *testing.T) {
		var got struct {
			Stamp
			Members []MemberInfo `json:"members"`
		}
		f.get("/v1/members", 200, &got)
		checkStamp(t, got.Stamp)
		var names []string
		for _, m := range got.Members {
			names = append(names, fmt.Sprintf("%s:%v:%d", m.Name, m.TLDs, m.NextSeq))
		}
		if want := "alpha:[aa.]:4 beta:[bb.]:3 delta:[]:2 gamma:[]:2"; strings.Join(names, " ") != want {
			t.Errorf("members %v, want %s", names, want)
		}
		var one struct {
			Stamp
			MemberInfo
		}
		f.get("/v1/members/beta", 200, &one)
		checkStamp(t, one.Stamp)
		if one.Name != "beta" || one.Key != f.vkeys["beta"] || !one.Since.Equal(genesisTime) || fmt.Sprint(one.TLDs) != "[bb.]" {
			t.Errorf("member beta: %+v", one)
		}
	})
	t.Run("tld", func(t *testing.T) {
		for _, tt := range []struct {
			path, want string
		}{
			{"/v1/tlds/AA", "aa. owner=alpha ns=[ns1.aa. ns3.aa.] glue=[{ns1.aa. [192.0.2.1]} {ns2.aa. [192.0.2.2]} {ns3.aa. [192.0.2.3]}] in_zone=true restricted=false r=0"},
			{"/v1/tlds/shared.", "shared. owner= op=op1 ns=[ns1.shared. ns2.shared.] glue=[{ns1.shared. [198.51.100.1]} {ns2.shared. [198.51.100.2 2001:db8::2]}] in_zone=true restricted=false r=0"},
			{"/v1/tlds/uses.", "uses. owner= op=op2 ns=[ns1.shared. ns2.shared.] glue=[] in_zone=false restricted=true r=1"},
		} {
			var got struct {
				Stamp
				TLDInfo
			}
			f.get(tt.path, 200, &got)
			checkStamp(t, got.Stamp)
			s := fmt.Sprintf("%s owner=%s", got.Name, got.Owner)
			if got.OperatorName != "" {
				s += " op=" + got.OperatorName
			}
			s += fmt.Sprintf(" ns=%v glue=%v in_zone=%v restricted=%v r=%d", got.NS, got.Glue, got.InZone, got.Restricted, len(got.Restrictions))
			if s != tt.want {
				t.Errorf("GET %s:\ngot  %s\nwant %s", tt.path, s, tt.want)
			}
			if got.Created.IsZero() || got.Changed.Before(got.Created) {
				t.Errorf("GET %s: created %s, changed %s", tt.path, got.Created, got.Changed)
			}
		}
	})
	t.Run("hosts", func(t *testing.T) {
		for _, tt := range []struct {
			path, want string
		}{
			{"/v1/hosts/ns1.shared.", "ns1.shared. [198.51.100.1] used_by=[shared. uses.] apex=false in_zone=true"},
			{"/v1/hosts/NS2.AA", "ns2.aa. [192.0.2.2] used_by=[bb.] apex=false in_zone=true"},
			{"/v1/hosts/a.root.fed.", "a.root.fed. [192.0.2.53] used_by=[] apex=true in_zone=true"},
		} {
			var got struct {
				Stamp
				HostInfo
			}
			f.get(tt.path, 200, &got)
			checkStamp(t, got.Stamp)
			if s := fmt.Sprintf("%s %v used_by=%v apex=%v in_zone=%v", got.Name, got.Addrs, got.UsedBy, got.Apex, got.InZone); s != tt.want {
				t.Errorf("GET %s:\ngot  %s\nwant %s", tt.path, s, tt.want)
			}
		}
	})
	t.Run("proposals", func(t *testing.T) {
		for _, tt := range []struct {
			query, want string
		}{
			{"", "1:passed 2:open"},
			{"?status=open", "2:open"},
			{"?status=closed", "1:passed"},
			{"?after=1", "2:open"},
			{"?after=2", ""},
			{"?limit=1", "1:passed next=1"},
		} {
			var got struct {
				Stamp
				Proposals []ProposalInfo `json:"proposals"`
				Next      uint64         `json:"next"`
			}
			f.get("/v1/proposals"+tt.query, 200, &got)
			checkStamp(t, got.Stamp)
			var s []string
			for _, p := range got.Proposals {
				s = append(s, fmt.Sprintf("%d:%s", p.ID, p.Status))
			}
			if got.Next != 0 {
				s = append(s, fmt.Sprintf("next=%d", got.Next))
			}
			if strings.Join(s, " ") != tt.want {
				t.Errorf("GET /v1/proposals%s: %v, want %s", tt.query, s, tt.want)
			}
		}
		var p struct {
			Stamp
			ProposalInfo
		}
		f.get("/v1/proposals/1", 200, &p)
		checkStamp(t, p.Stamp)
		var args action.Propose
		if err := json.Unmarshal(p.Args, &args); err != nil || args.TLD != "uses." || args.Duration != "240h" {
			t.Errorf("proposal 1 args %s: %v", p.Args, err)
		}
		var votes []string
		for _, v := range p.Votes {
			votes = append(votes, v.Member+":"+v.Vote+":"+v.Rationale)
		}
		if want := "alpha:yes:alpha agrees beta:yes:beta agrees gamma:yes:gamma agrees"; strings.Join(votes, " ") != want {
			t.Errorf("votes %v, want %s", votes, want)
		}
		if want := (registry.Tally{Members: 4, Yes: 3}); p.Tally != want || p.Kind != constitution.RestrictionImpose || p.Reason == "" || p.Deadline.IsZero() {
			t.Errorf("proposal 1: kind %s tally %+v reason %q deadline %s", p.Kind, p.Tally, p.Reason, p.Deadline)
		}
	})
	t.Run("restrictions", func(t *testing.T) {
		var list struct {
			Stamp
			Restrictions []registry.Restriction `json:"restrictions"`
		}
		f.get("/v1/restrictions", 200, &list)
		checkStamp(t, list.Stamp)
		var one struct {
			Stamp
			registry.Restriction
		}
		f.get("/v1/restrictions/1", 200, &one)
		checkStamp(t, one.Stamp)
		if len(list.Restrictions) != 1 || fmt.Sprint(list.Restrictions[0]) != fmt.Sprint(one.Restriction) {
			t.Fatalf("list %+v\none %+v", list.Restrictions, one.Restriction)
		}
		r := one.Restriction
		if r.ID != 1 || r.TLD != "uses." || r.Status != "active" || r.LegalBasis != "Court of Example, case 42" || r.Expiry.Sub(r.Start) != 240*time.Hour ||
			len(r.Responses) != 1 || r.Responses[0].Signer != "op2" || !strings.Contains(r.Responses[0].Text, "on two lines") {
			t.Errorf("restriction 1: %+v", r)
		}
	})
	t.Run("signers", func(t *testing.T) {
		for _, tt := range []struct {
			name, want string
		}{
			{"alpha", "alpha member next=4 tlds=[aa.]"},
			{"delta", "delta member next=2 tlds=[]"},
			{"op1", "op1 operator next=1 tlds=[shared.]"},
			{"op2", "op2 operator next=2 tlds=[uses.]"},
		} {
			var got struct {
				Stamp
				SignerInfo
			}
			f.get("/v1/signers/"+tt.name, 200, &got)
			checkStamp(t, got.Stamp)
			if s := fmt.Sprintf("%s %s next=%d tlds=%v", got.Name, got.Kind, got.NextSeq, got.TLDs); s != tt.want {
				t.Errorf("signer %s: %s, want %s", tt.name, s, tt.want)
			}
			if got.Key != f.vkeys[tt.name] {
				t.Errorf("signer %s: key %q, want %q", tt.name, got.Key, f.vkeys[tt.name])
			}
		}
	})
	t.Run("log entries", func(t *testing.T) {
		for i := int64(0); i < logSize; i++ {
			var got struct {
				Stamp
				Entry
			}
			f.get(fmt.Sprintf("/v1/log/entries/%d", i), 200, &got)
			checkStamp(t, got.Stamp)
			e, _ := f.b.log.Entry(i)
			if got.Index != i || got.Raw != string(e) {
				t.Errorf("entry %d: index %d, raw %q, want %q", i, got.Index, got.Raw, e)
			}
			checkInclusion(t, got.Entry, e, got.Checkpoint)
			switch {
			case i == 0:
				if got.Type != "event" || got.Event == nil || got.Event.Event != "genesis" {
					t.Errorf("entry 0: %+v, want the genesis event", got.Entry)
				}
			case bytes.HasPrefix(e, []byte(registry.EventHeader)):
				if got.Type != "event" || got.Event == nil || got.Action != nil {
					t.Errorf("entry %d: %+v, want an event", i, got.Entry)
				}
			default:
				a, _ := action.Decode(e)
				if got.Type != "action" || got.Action == nil || got.Action.Signer != a.Signer || got.Action.Seq != a.Seq || got.Action.Kind != a.Kind {
					t.Errorf("entry %d: %+v, want the action of %s", i, got.Entry, a.Signer)
				}
			}
		}
		var got struct{ Entry }
		f.get("/v1/log/entries/1", 200, &got)
		if got.Raw != string(f.first) || got.Action.Kind != action.KindDelegate {
			t.Errorf("entry 1 is %q, want the first action", got.Raw)
		}
		if body, _ := json.Marshal(got.Action.Body); !strings.Contains(string(body), `"ns3.aa."`) {
			t.Errorf("entry 1 body %s does not show the delegation", body)
		}
	})
	t.Run("zone", func(t *testing.T) {
		code, h, body := f.do("GET", "/v1/zone", nil)
		want := fmt.Sprintf("; zone serial %d\n", f.b.zone.Serial())
		if code != 200 || string(body) != want || !strings.HasPrefix(h.Get("Content-Type"), "text/dns") {
			t.Errorf("GET /v1/zone: %d %q %q, want 200 %q", code, h.Get("Content-Type"), body, want)
		}
		if h.Get("Commonroot-Zone-Serial") != fmt.Sprint(f.b.zone.Serial()) || h.Get("Commonroot-Height") != fmt.Sprint(f.b.zoneAt) {
			t.Errorf("GET /v1/zone headers %v", h)
		}
		var v struct {
			Height   int64         `json:"height"`
			Versions []ZoneVersion `json:"versions"`
		}
		f.get("/v1/zone/versions", 200, &v)
		var serials []string
		for _, z := range v.Versions {
			serials = append(serials, fmt.Sprintf("%d:%s", z.Serial, z.ZONEMD[:2]))
		}
		// Serial 1 at genesis; 2 after the delegation; 3 after the restriction.
		if v.Height != f.b.zoneAt || strings.Join(serials, " ") != "1:01 2:02 3:03" {
			t.Errorf("versions at %d: %v", v.Height, serials)
		}
	})
}

// checkInclusion verifies an entry's leaf hash and inclusion proof against
// the checkpoint.
func checkInclusion(t *testing.T, got Entry, e []byte, cp *Tree) {
	t.Helper()
	leaf := tlog.RecordHash(e)
	if got.LeafHash != base64.StdEncoding.EncodeToString(leaf[:]) {
		t.Errorf("entry %d: leaf hash %s, want %x", got.Index, got.LeafHash, leaf)
	}
	var proof tlog.RecordProof
	for _, s := range got.InclusionProof {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			t.Fatalf("entry %d: proof hash %q", got.Index, s)
		}
		proof = append(proof, tlog.Hash(b))
	}
	rb, _ := base64.StdEncoding.DecodeString(cp.Root)
	if err := tlog.CheckRecord(proof, cp.Size, tlog.Hash(rb), got.Index, leaf); err != nil {
		t.Errorf("entry %d: inclusion proof in size %d: %v", got.Index, cp.Size, err)
	}
}

func TestErrors(t *testing.T) {
	f := newFed(t, 0, Options{})
	f.populate()
	for _, tt := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/", 404, ""},
		{"GET", "/v1", 404, ""},
		{"GET", "/v1/nothing", 404, ""},
		{"GET", "/v1/tlds/", 404, ""},
		{"GET", "/v1/tlds/aa./more", 404, ""},
		{"GET", "/v1//tlds", 404, ""},
		{"GET", "/v1/actions", 405, "POST"},
		{"DELETE", "/v1/tlds/aa.", 405, "GET, HEAD"},
		{"POST", "/v1/status", 405, "GET, HEAD"},
		{"PUT", "/metrics", 405, "GET, HEAD"},
		{"GET", "/metrics", 404, ""}, // no registry given
		{"GET", "/v1/members/nobody", 404, ""},
		{"GET", "/v1/tlds/zz", 404, ""},
		{"GET", "/v1/tlds/%2e", 404, ""},
		{"GET", "/v1/tlds/%ff.", 400, ""},
		{"GET", "/v1/tlds/" + strings.Repeat("a", 64), 400, ""},
		{"GET", "/v1/tlds/..%2F..%2Fetc", 400, ""},
		{"GET", "/v1/hosts/%D1%81%D0%BEm", 400, ""},
		{"GET", "/v1/tlds?limit=0", 400, ""},
		{"GET", "/v1/tlds?limit=1001", 400, ""},
		{"GET", "/v1/tlds?limit=ten", 400, ""},
		{"GET", "/v1/hosts/ns9.zz.", 404, ""},
		{"GET", "/v1/proposals/abc", 400, ""},
		{"GET", "/v1/proposals/-1", 400, ""},
		{"GET", "/v1/proposals/99", 404, ""},
		{"GET", "/v1/proposals?status=maybe", 400, ""},
		{"GET", "/v1/proposals?after=one", 400, ""},
		{"GET", "/v1/proposals?limit=-5", 400, ""},
		{"GET", "/v1/restrictions/7", 404, ""},
		{"GET", "/v1/restrictions/x", 400, ""},
		{"GET", "/v1/restrictions?format=xml", 400, ""},
		{"GET", "/v1/restrictions/1?format=pdf", 400, ""},
		{"GET", "/v1/signers/nobody", 404, ""},
		{"GET", "/v1/log/entries/999", 404, ""},
		{"GET", "/v1/log/entries/x", 400, ""},
		{"GET", "/v1/log/entries/-1", 400, ""},
		{"GET", "/v1/log/entries/99999999999999999999", 400, ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			code, h, body := f.do(tt.method, tt.path, nil)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %s", code, tt.code, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			checkErrorBody(t, body)
			if got := h.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestStamps checks that every JSON answer about state says which state
// it reflects, in its body and its headers.
func TestStamps(t *testing.T) {
	f := newFed(t, 0, Options{})
	f.populate()
	root, _ := f.b.log.Root()
	size, height := f.b.log.Size(), f.b.height
	for _, path := range []string{"/v1/status", "/v1/members", "/v1/members/alpha", "/v1/tlds", "/v1/tlds/aa.", "/v1/hosts/ns1.aa.",
		"/v1/proposals", "/v1/proposals/1", "/v1/restrictions", "/v1/restrictions/1", "/v1/signers/op1", "/v1/log/entries/0"} {
		var got struct {
			Height     *int64 `json:"height"`
			Checkpoint *Tree  `json:"checkpoint"`
		}
		f.get(path, 200, &got)
		want := Tree{Size: size, Root: base64.StdEncoding.EncodeToString(root[:])}
		if got.Height == nil || *got.Height != height || got.Checkpoint == nil || *got.Checkpoint != want {
			t.Errorf("GET %s: height %v checkpoint %v, want %d %+v", path, got.Height, got.Checkpoint, height, want)
		}
		_, h, _ := f.do("GET", path, nil)
		if h.Get("Commonroot-Height") != fmt.Sprint(height) || h.Get("Commonroot-Log-Size") != fmt.Sprint(size) || h.Get("Commonroot-Log-Root") != want.Root {
			t.Errorf("GET %s: headers %v", path, h)
		}
	}
}

// TestTLDPagination walks 2,500 TLDs page by page, with several page
// sizes and a filter, and checks every TLD comes exactly once, in order.
func TestTLDPagination(t *testing.T) {
	const extra = 2500
	f := newFed(t, extra, Options{})
	var all []string
	f.b.View(func(s *registry.State) { all = s.TLDNames() })
	if len(all) != extra+4 {
		t.Fatalf("%d TLDs in the state, want %d", len(all), extra+4)
	}
	walk := func(t *testing.T, query string) []string {
		var names []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatal("pagination does not end")
			}
			var page struct {
				TLDs []TLDSummary `json:"tlds"`
				Next string       `json:"next"`
			}
			f.get("/v1/tlds?after="+after+query, 200, &page)
			for _, s := range page.TLDs {
				names = append(names, s.Name)
			}
			if page.Next == "" {
				return names
			}
			// The cursor is past the page's last name: that name when
			// the page is full, the last name looked at when a q= scan
			// stopped at its budget.
			if len(page.TLDs) > 0 && page.Next < page.TLDs[len(page.TLDs)-1].Name || page.Next <= after {
				t.Fatalf("next %q after %q and a page %v", page.Next, after, page.TLDs)
			}
			after = page.Next
		}
	}
	owners := map[string]string{}
	f.b.View(func(s *registry.State) {
		for _, n := range all {
			tld, _ := s.TLD(n)
			owners[n] = tld.Owner
			if tld.Operator != "" {
				owners[n] = "operator " + keyName(tld.Operator)
			}
		}
	})
	for _, tt := range []struct {
		query  string
		sub    string
		prefix string
		owner  string
		budget int
	}{
		{query: ""},
		{query: "&limit=7"},
		{query: "&limit=1000"},
		{query: "&limit=1"},
		{query: "&limit=33&q=A", sub: "a"},
		{query: "&limit=1000&q=xb", sub: "xb"},
		{query: "&q=nothing-matches", sub: "nothing-matches"},
		// A scan budget smaller than the pages: short pages, same walk.
		{query: "&limit=50&q=b", sub: "b", budget: 30},
		{query: "&q=nothing-matches", sub: "nothing-matches", budget: 100},
		{query: "&prefix=xb", prefix: "xb"},
		{query: "&prefix=XB&limit=3", prefix: "xb"},
		{query: "&prefix=xb&q=a", prefix: "xb", sub: "a"},
		{query: "&prefix=zzz", prefix: "zzz"},
		{query: "&owner=beta&limit=77", owner: "beta"},
		{query: "&owner=beta&prefix=xc", owner: "beta", prefix: "xc"},
		{query: "&operator=op1", owner: "operator op1"},
		{query: "&owner=nobody", owner: "nobody"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			if tt.budget > 0 {
				defer func(b int) { tldScanBudget = b }(tldScanBudget)
				tldScanBudget = tt.budget
			}
			var want []string
			for _, n := range all {
				if strings.Contains(n, tt.sub) && strings.HasPrefix(n, tt.prefix) && (tt.owner == "" || owners[n] == tt.owner) {
					want = append(want, n)
				}
			}
			got := walk(t, tt.query)
			if !slices.Equal(got, want) {
				t.Errorf("walked %d TLDs, want %d (sorted, each once)", len(got), len(want))
			}
		})
	}
	f.get("/v1/tlds?owner=alpha&operator=op1", 400, nil)
	var page struct {
		TLDs []TLDSummary `json:"tlds"`
	}
	f.get("/v1/tlds", 200, &page)
	if len(page.TLDs) != DefaultLimit {
		t.Errorf("default page has %d TLDs, want %d", len(page.TLDs), DefaultLimit)
	}
	// A cursor need not be a TLD: "after=c" starts at the first name after it.
	f.get("/v1/tlds?after=c&limit=1", 200, &page)
	i, _ := slices.BinarySearch(all, "c.")
	if len(page.TLDs) != 1 || page.TLDs[0].Name != all[i] {
		t.Errorf("after=c gives %v, want %s", page.TLDs, all[i])
	}
}

func TestRestrictionsCSV(t *testing.T) {
	f := newFed(t, 0, Options{})
	f.populate()
	for _, path := range []string{"/v1/restrictions?format=csv", "/v1/restrictions/1?format=csv"} {
		code, h, body := f.do("GET", path, nil)
		if code != 200 || h.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("GET %s: %d %q", path, code, h.Get("Content-Type"))
		}
		if h.Get("Commonroot-Height") != fmt.Sprint(f.b.height) {
			t.Errorf("GET %s: Commonroot-Height %q", path, h.Get("Commonroot-Height"))
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		var r registry.Restriction
		f.b.View(func(s *registry.State) { r, _ = s.Restriction(1) })
		want := [][]string{CSVHeader, {"1", "uses.", "active", "Court of Example, case 42", strings.Repeat("ab", 32),
			r.Start.Format(time.RFC3339), r.Expiry.Format(time.RFC3339), "",
			r.Responses[0].Time.Format(time.RFC3339) + " op2: we object, \"strongly\",\nand on two lines"}}
		if fmt.Sprintf("%q", rows) != fmt.Sprintf("%q", want) {
			t.Errorf("GET %s:\ngot  %q\nwant %q", path, rows, want)
		}
	}
	// Without restrictions, only the header.
	g := newFed(t, 0, Options{})
	_, _, body := g.do("GET", "/v1/restrictions?format=csv", nil)
	if rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll(); err != nil || len(rows) != 1 {
		t.Errorf("empty export: %q, %v", rows, err)
	}
}

func TestHealthz(t *testing.T) {
	f := newFed(t, 0, Options{})
	if code, _, body := f.do("GET", "/healthz", nil); code != 200 || string(body) != "ok\n" {
		t.Errorf("healthz at height 1: %d %q", code, body)
	}
	f.b.height = 0
	code, _, body := f.do("GET", "/healthz", nil)
	if code != 503 {
		t.Errorf("healthz at height 0: %d, want 503", code)
	}
	checkErrorBody(t, body)
}

// TestNoState checks a backend that has no state, zone or log yet.
func TestNoState(t *testing.T) {
	f := newFed(t, 0, Options{})
	f.b.s, f.b.zone, f.b.log = nil, nil, (*memLog)(nil)
	for _, tt := range []struct {
		method, path string
	}{
		{"GET", "/v1/status"}, {"GET", "/v1/tlds"}, {"GET", "/v1/tlds/aa."}, {"GET", "/v1/restrictions?format=csv"},
		{"GET", "/v1/zone"}, {"GET", "/v1/log/entries/0"}, {"GET", "/checkpoint"}, {"POST", "/v1/actions"},
	} {
		code, _, body := f.do(tt.method, tt.path, []byte("x"), "Content-Type", "text/plain")
		if code != 503 {
			t.Errorf("%s %s: %d, want 503", tt.method, tt.path, code)
		}
		checkErrorBody(t, body)
	}
}

// TestLogHandler checks that the log's own paths reach its handler.
func TestLogHandler(t *testing.T) {
	f := newFed(t, 0, Options{})
	code, _, body := f.do("GET", "/checkpoint", nil)
	root, _ := f.b.log.Root()
	want := fmt.Sprintf("example.org/test\n%d\n%s\n", f.b.log.Size(), base64.StdEncoding.EncodeToString(root[:]))
	if code != 200 || string(body) != want {
		t.Errorf("GET /checkpoint: %d %q, want %q", code, body, want)
	}
	for _, p := range []string{"/tile/0/000", "/proof/inclusion?index=0&size=1", "/entry/0"} {
		if code, _, body := f.do("GET", p, nil); code != 404 || string(body) != "no such resource\n" {
			t.Errorf("GET %s: %d %q, want the fake log's own 404", p, code, body)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFed(t, 0, Options{Metrics: reg})
	f.populate() // 8 accepted actions
	f.post(f.act("beta", action.KindDelegate, &action.Delegate{TLD: "aa.", NS: []string{"ns1.aa.", "ns2.aa."}}))
	f.post([]byte("garbage"))
	for range 3 {
		f.do("GET", "/v1/status", nil)
	}
	f.do("GET", "/v1/tlds/nope.", nil)
	f.do("GET", "/nowhere", nil)
	f.do("GET", "/checkpoint", nil)

	m := NewMetrics(reg) // the node's call: the same collectors
	for _, tt := range []struct {
		c    prometheus.Metric
		want float64
	}{
		{m.Requests.WithLabelValues("/v1/status", "200"), 3},
		{m.Requests.WithLabelValues("/v1/tlds/{}", "404"), 1},
		{m.Requests.WithLabelValues("unknown", "404"), 1},
		{m.Requests.WithLabelValues("/checkpoint", "200"), 1},
		{m.Requests.WithLabelValues("/v1/actions", "200"), 8},
		{m.Requests.WithLabelValues("/v1/actions", "422"), 2},
		{m.Actions.WithLabelValues("accepted", "0"), 8},
		{m.Actions.WithLabelValues("rejected", strconv.Itoa(int(registry.CodeForbidden))), 1},
		{m.Actions.WithLabelValues("rejected", strconv.Itoa(int(registry.CodeMalformed))), 1},
	} {
		var d dto.Metric
		if err := tt.c.Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetCounter().GetValue(); got != tt.want {
			t.Errorf("%s %v = %v, want %v", tt.c.Desc(), d.GetLabel(), got, tt.want)
		}
	}
	var d dto.Metric
	if err := m.Latency.WithLabelValues("/v1/status").(prometheus.Metric).Write(&d); err != nil || d.GetHistogram().GetSampleCount() != 3 {
		t.Errorf("latency of /v1/status: %d samples, want 3 (%v)", d.GetHistogram().GetSampleCount(), err)
	}
	m.Blocks.Inc()
	m.ZoneSerial.Set(7)
	code, _, body := f.do("GET", "/metrics", nil)
	for _, want := range []string{`commonroot_http_requests_total{code="200",route="/v1/status"} 3`, "commonroot_blocks_committed_total 1", "commonroot_zone_serial 7", "commonroot_http_request_duration_seconds_bucket"} {
		if code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics: %d, no %q in\n%s", code, want, body)
		}
	}
}

// TestHead checks that HEAD is answered like GET.
func TestHead(t *testing.T) {
	f := newFed(t, 0, Options{})
	code, h, _ := f.do("HEAD", "/v1/status", nil)
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD /v1/status: %d %q", code, h.Get("Content-Type"))
	}
}

// TestNameErrors pins what a reader sees for a name that is not a name:
// a 400 saying why, with the name quoted as sent.
func TestNameErrors(t *testing.T) {
	f := newFed(t, 0, Options{})
	for _, tt := range []struct{ path, want string }{
		{"/v1/tlds/%ff.", `TLD name "\xff." is not valid UTF-8`},
		{"/v1/tlds/%D1%81%D0%BEm", `TLD name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
		{"/v1/hosts/a..b", `host name "a..b.": empty label`},
		{"/v1/tlds/xn--zz", `TLD name "xn--zz.": label "xn--zz" is not a valid A-label: idna: invalid label "zz"`},
	} {
		code, _, body := f.do("GET", tt.path, nil)
		var e struct{ Error string }
		if err := json.Unmarshal(body, &e); err != nil || code != 400 || e.Error != tt.want {
			t.Errorf("GET %s: %d %s\nwant 400 %q", tt.path, code, body, tt.want)
		}
	}
}
