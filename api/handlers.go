package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/dnsname"
	"github.com/commonroot/commonroot/registry"
)

// Submitted is the answer to POST /v1/actions.
type Submitted struct {
	Accepted bool `json:"accepted"`
	// Index and Proposal are set when accepted.
	Index    int64  `json:"index,omitempty"`
	Proposal uint64 `json:"proposal,omitempty"`
	// Code and Reason are set when rejected.
	Code   uint32 `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Height is the block that decided (or, for a refusal before any
	// block, the state it was checked against).
	Height int64 `json:"height"`
}

func (s *server) submit(w http.ResponseWriter, r *http.Request, _ []string) {
	if ok, wait := s.byAddress.allow(clientAddr(r)); !ok {
		s.metrics.action("limited", 0)
		tooMany(w, "this address", wait)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "text/plain" && mt != "application/octet-stream" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: send the signed action as text/plain or application/octet-stream (curl --data-binary @action.txt -H 'Content-Type: text/plain')", trim(ct)))
			return
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes; an action is at most %d", tooBig.Limit, action.MaxSize))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("reading the body: %v", err))
		return
	}
	if len(body) > action.MaxSize {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the action has %d bytes, more than the %d a log entry holds", len(body), action.MaxSize))
		return
	}
	// The registry's own CheckTx check, against the committed state: a
	// refusal here needs no trip through consensus, and carries its code.
	var (
		height  int64
		noState bool
		checked error
		signed  *action.Signed
	)
	s.b.View(func(st *registry.State) {
		if st == nil {
			noState = true
			return
		}
		height = st.Height()
		signed, checked = st.Check(body)
	})
	if noState {
		s.writeErr(w, errNoState)
		return
	}
	if checked != nil {
		s.refuse(w, checked, height)
		return
	}
	if ok, wait := s.bySigner.allow(signed.Signer); !ok {
		s.metrics.action("limited", 0)
		tooMany(w, fmt.Sprintf("signer %q", signed.Signer), wait)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.SubmitTimeout)
	defer cancel()
	o, err := s.b.Submit(ctx, body)
	switch {
	case err == nil:
	case errors.Is(err, ErrRejected):
		s.refuse(w, err, height)
		return
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		s.metrics.action("timeout", 0)
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("the action was submitted but not seen committed within %s; look it up by its signer's next sequence number before sending it again", s.o.SubmitTimeout))
		return
	default:
		s.metrics.action("error", 0)
		s.log.Warn("api: submitting an action", "err", err)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("submitting the action: %v", err))
		return
	}
	if o.Code != registry.OK {
		s.metrics.action("rejected", o.Code)
		writeJSON(w, http.StatusUnprocessableEntity, Submitted{Code: o.Code, Reason: o.Reason, Height: o.Height})
		return
	}
	s.metrics.action("accepted", o.Code)
	writeJSON(w, http.StatusOK, Submitted{Accepted: true, Index: o.Index, Proposal: o.Proposal, Height: o.Height})
}

// refuse writes a refusal before any block: err is a *registry.Rejection
// or wraps ErrRejected.
func (s *server) refuse(w http.ResponseWriter, err error, height int64) {
	a := Submitted{Code: registry.CodeInvalid, Reason: err.Error(), Height: height}
	var rej *registry.Rejection
	if errors.As(err, &rej) {
		a.Code, a.Reason = rej.Code, rej.Reason
	}
	if a.Code == registry.OK {
		a.Code = registry.CodeInvalid // a refusal never has the accepted code
	}
	s.metrics.action("rejected", a.Code)
	writeJSON(w, http.StatusUnprocessableEntity, a)
}

// Status is the answer to GET /v1/status.
type Status struct {
	Stamp
	Origin string `json:"origin"`
	Apex   string `json:"apex"`
	// Time is the block time of Height.
	Time time.Time `json:"time"`
	// ChainHeight is the committed height AppHash (upper-case hex) belongs
	// to; it equals Height unless a block committed while the answer was
	// read.
	ChainHeight int64  `json:"chain_height"`
	AppHash     string `json:"app_hash"`
	LogSize     int64  `json:"log_size"`
	LogRoot     string `json:"log_root,omitempty"`
	// Serial, ZONEMD (upper-case hex) and ZoneHeight describe the served zone.
	Serial     uint32   `json:"serial"`
	ZONEMD     string   `json:"zonemd"`
	ZoneHeight int64    `json:"zone_height"`
	Members    []string `json:"members"`
}

func (s *server) status(w http.ResponseWriter, r *http.Request, _ []string) {
	c := s.b.Constitution()
	if c == nil {
		s.writeErr(w, errNoState)
		return
	}
	a := Status{Origin: c.Origin, Apex: c.Apex}
	if z, h := s.b.Zone(); !isNil(z) {
		a.Serial, a.ZONEMD, a.ZoneHeight = z.Serial(), fmt.Sprintf("%X", z.Digest()), h
	}
	// Height takes the node's read lock: call it outside View, and retry
	// until it agrees with the state's height.
	for range 3 {
		a.ChainHeight, a.AppHash = s.chainHeight()
		var err error
		s.b.View(func(st *registry.State) {
			if st == nil {
				err = errNoState
				return
			}
			a.Stamp, err = s.stamp(st)
			a.Time = st.Time()
			a.Members = a.Members[:0]
			for _, m := range st.Members() {
				a.Members = append(a.Members, m.Name)
			}
		})
		if err != nil {
			s.writeErr(w, err)
			return
		}
		if a.Height == a.ChainHeight {
			break
		}
	}
	if a.Checkpoint != nil {
		a.LogSize, a.LogRoot = a.Checkpoint.Size, a.Checkpoint.Root
	}
	setStampHeaders(w, a.Stamp)
	writeJSON(w, http.StatusOK, a)
}

func (s *server) chainHeight() (int64, string) {
	h, hash := s.b.Height()
	return h, fmt.Sprintf("%X", hash)
}

// MaxEmbeddedTLDs bounds the TLD lists embedded in member and signer
// answers; GET /v1/tlds?owner=NAME (or operator=NAME) pages through all.
const MaxEmbeddedTLDs = 100

// MemberInfo is a member and the TLDs it owns.
type MemberInfo struct {
	registry.Member
	// TLDs are the first MaxEmbeddedTLDs TLDs the member owns, by name;
	// TLDCount counts them all.
	TLDs     []string `json:"tlds"`
	TLDCount int      `json:"tld_count"`
	NextSeq  uint64   `json:"next_seq"`
}

// embedded returns the first MaxEmbeddedTLDs of tlds, never nil.
func embedded(tlds []string) []string {
	if tlds == nil {
		return []string{}
	}
	return tlds[:min(len(tlds), MaxEmbeddedTLDs):min(len(tlds), MaxEmbeddedTLDs)]
}

func memberInfo(st *registry.State, m registry.Member, owned map[string][]string) MemberInfo {
	return MemberInfo{Member: m, TLDs: embedded(owned[m.Name]), TLDCount: len(owned[m.Name]), NextSeq: st.NextSeq(m.Name)}
}

func (s *server) members(w http.ResponseWriter, r *http.Request, _ []string) {
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		owned := s.tldIdx.get(st).owned
		a := struct {
			Stamp
			Members []MemberInfo `json:"members"`
		}{Stamp: stamp, Members: []MemberInfo{}}
		for _, m := range st.Members() {
			a.Members = append(a.Members, memberInfo(st, m, owned))
		}
		return a, nil
	})
}

func (s *server) member(w http.ResponseWriter, r *http.Request, args []string) {
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		m, ok := st.Member(args[0])
		if !ok {
			return nil, fail(http.StatusNotFound, "no member %q", trim(args[0]))
		}
		return struct {
			Stamp
			MemberInfo
		}{stamp, memberInfo(st, m, s.tldIdx.get(st).owned)}, nil
	})
}

// TLDSummary is a TLD in a list.
type TLDSummary struct {
	Name  string `json:"name"`
	Owner string `json:"owner,omitempty"`
	// Operator is the operator key's signer name.
	Operator   string   `json:"operator,omitempty"`
	NS         []string `json:"ns"`
	Restricted bool     `json:"restricted,omitempty"`
}

// keyName returns a verifier key's name ("name+hash+key"), or "".
func keyName(vkey string) string {
	name, _, _ := strings.Cut(vkey, "+")
	if vkey == "" {
		return ""
	}
	return name
}

// canonical returns a domain name as the registry keys it: lower case,
// fully qualified.
// nameArg turns a path segment into the canonical name it asks for
// (lower case, fully qualified), or an error answer (400) that says what is
// wrong with it: a reader learns that "соm" is not a name at all, rather
// than that there is no such TLD.
func nameArg(what, arg string) (string, error) {
	if !utf8.ValidString(arg) {
		return "", fail(http.StatusBadRequest, "%s name %q is not valid UTF-8", what, trim(arg))
	}
	name := canonical(arg)
	if err := dnsname.Check(name); err != nil {
		return "", fail(http.StatusBadRequest, "%s %v", what, err)
	}
	return name, nil
}

func canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// limitParam parses ?limit=.
func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fail(http.StatusBadRequest, "limit %q must be a number from 1 to %d", trim(v), MaxLimit)
	}
	return n, nil
}

// tldScanBudget bounds the names one GET /v1/tlds?q= request looks at: a
// substring matches anywhere, so a rare one would otherwise scan every
// name. A page that stops at the budget is shorter than its limit and its
// next cursor is the last name looked at. (A variable only so that tests
// can lower it.)
var tldScanBudget = 100_000

// tlds answers a page of TLDs in name order from the index's snapshot: a
// binary search to the cursor (and prefix=) in all names or in owner='s
// or operator='s, then the page; only q= (a substring) looks past the
// page, at most tldScanBudget names.
func (s *server) tlds(w http.ResponseWriter, r *http.Request, _ []string) {
	limit, err := limitParam(r)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	q := r.URL.Query()
	after := q.Get("after")
	if after != "" {
		after = canonical(after)
	}
	sub := strings.ToLower(q.Get("q"))
	prefix := strings.ToLower(q.Get("prefix"))
	owner, operator := q.Get("owner"), q.Get("operator")
	if owner != "" && operator != "" {
		s.writeErr(w, fail(http.StatusBadRequest, "owner %q and operator %q: ask for one of them", trim(owner), trim(operator)))
		return
	}
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		a := struct {
			Stamp
			TLDs []TLDSummary `json:"tlds"`
			// Next is the after= of the next page; empty on the last.
			Next string `json:"next,omitempty"`
		}{Stamp: stamp, TLDs: []TLDSummary{}}
		snap := s.tldIdx.get(st)
		names := snap.names
		switch {
		case owner != "":
			names = snap.owned[owner]
		case operator != "":
			names = snap.operated[operator]
		}
		i := sort.SearchStrings(names, max(after, prefix))
		for scanned := 0; i < len(names); i++ {
			name := names[i]
			if !strings.HasPrefix(name, prefix) {
				break // sorted: no later name has the prefix
			}
			if name <= after {
				continue
			}
			if scanned == tldScanBudget {
				a.Next = names[i-1]
				break
			}
			scanned++
			if sub != "" && !strings.Contains(name, sub) {
				continue
			}
			if len(a.TLDs) == limit {
				a.Next = a.TLDs[limit-1].Name
				break
			}
			t, _ := st.TLD(name)
			a.TLDs = append(a.TLDs, TLDSummary{Name: name, Owner: t.Owner, Operator: keyName(t.Operator), NS: t.NS, Restricted: st.Restricted(name)})
		}
		return a, nil
	})
}

// TLDInfo is one TLD in full.
type TLDInfo struct {
	registry.TLD
	// OperatorName is the operator key's signer name.
	OperatorName string `json:"operator_name,omitempty"`
	// Glue lists the stored hosts below the TLD and their addresses.
	Glue []registry.Host `json:"glue"`
	// InZone says whether the zone delegates the TLD (it has name servers
	// and is not restricted).
	InZone       bool                   `json:"in_zone"`
	Restricted   bool                   `json:"restricted"`
	Restrictions []registry.Restriction `json:"restrictions"`
}

func (s *server) tld(w http.ResponseWriter, r *http.Request, args []string) {
	name, err := nameArg("TLD", args[0])
	if err != nil {
		s.writeErr(w, err)
		return
	}
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		t, ok := st.TLD(name)
		if !ok {
			return nil, fail(http.StatusNotFound, "no TLD %q", trim(name))
		}
		a := TLDInfo{TLD: t, OperatorName: keyName(t.Operator), Glue: []registry.Host{}, Restricted: st.Restricted(name), Restrictions: []registry.Restriction{}}
		_, _, a.InZone = st.ZoneDelegation(name)
		apex := st.Constitution().Apex
		for _, h := range st.HostNames() {
			if dnsname.ChildOf(h, apex) == name {
				host, _ := st.Host(h)
				a.Glue = append(a.Glue, host)
			}
		}
		for _, rs := range st.Restrictions() {
			if rs.TLD == name {
				a.Restrictions = append(a.Restrictions, rs)
			}
		}
		return struct {
			Stamp
			TLDInfo
		}{stamp, a}, nil
	})
}

// HostInfo is a name-server host.
type HostInfo struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
	// UsedBy lists the TLDs whose NS set names the host.
	UsedBy []string `json:"used_by"`
	// Apex says the host is one of the federation's own name servers.
	Apex bool `json:"apex,omitempty"`
	// InZone says the zone carries glue for it.
	InZone bool `json:"in_zone"`
}

func (s *server) host(w http.ResponseWriter, r *http.Request, args []string) {
	name, err := nameArg("host", args[0])
	if err != nil {
		s.writeErr(w, err)
		return
	}
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		a := HostInfo{Name: name, Addrs: []string{}, UsedBy: st.HostUsers(name)}
		h, stored := st.Host(name)
		if stored {
			a.Addrs = h.Addrs
		}
		for _, ns := range st.Constitution().NameServers {
			if ns.Name == name {
				a.Apex, a.Addrs = true, ns.Addrs
			}
		}
		if !stored && !a.Apex && len(a.UsedBy) == 0 {
			return nil, fail(http.StatusNotFound, "no host %q", trim(name))
		}
		if a.UsedBy == nil {
			a.UsedBy = []string{}
		}
		_, a.InZone = st.ZoneHost(name)
		return struct {
			Stamp
			HostInfo
		}{stamp, a}, nil
	})
}

// ProposalInfo is a proposal with a count of its votes.
type ProposalInfo struct {
	registry.Proposal
	// Tally counts the recorded votes, and Members is the number of
	// members now; the tally that decided a closed proposal is in its
	// proposal.outcome log entry (it leaves out members removed since).
	Tally registry.Tally `json:"tally"`
}

func proposalInfo(p registry.Proposal, members int) ProposalInfo {
	t := registry.Tally{Members: members}
	for _, v := range p.Votes {
		switch v.Vote {
		case action.Yes:
			t.Yes++
		case action.No:
			t.No++
		case action.Abstain:
			t.Abstain++
		}
	}
	if p.Votes == nil {
		p.Votes = []registry.Vote{}
	}
	return ProposalInfo{p, t}
}

// idParam parses a decimal id.
func idParam(what, v string) (uint64, error) {
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fail(http.StatusBadRequest, "%s id %q is not a decimal number", what, trim(v))
	}
	return id, nil
}

func (s *server) proposals(w http.ResponseWriter, r *http.Request, _ []string) {
	limit, err := limitParam(r)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		if after, err = idParam("proposal", v); err != nil {
			s.writeErr(w, err)
			return
		}
	}
	status := q.Get("status")
	if status != "" && status != "open" && status != "closed" {
		s.writeErr(w, fail(http.StatusBadRequest, "status %q must be open or closed", trim(status)))
		return
	}
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		a := struct {
			Stamp
			Proposals []ProposalInfo `json:"proposals"`
			// Next is the after= of the next page; 0 on the last.
			Next uint64 `json:"next,omitempty"`
		}{Stamp: stamp, Proposals: []ProposalInfo{}}
		members := len(st.Members())
		for _, p := range st.Proposals() {
			open := p.Status == registry.StatusOpen
			if p.ID <= after || status == "open" && !open || status == "closed" && open {
				continue
			}
			if len(a.Proposals) == limit {
				a.Next = a.Proposals[limit-1].ID
				break
			}
			a.Proposals = append(a.Proposals, proposalInfo(p, members))
		}
		return a, nil
	})
}

func (s *server) proposal(w http.ResponseWriter, r *http.Request, args []string) {
	id, err := idParam("proposal", args[0])
	if err != nil {
		s.writeErr(w, err)
		return
	}
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		p, ok := st.Proposal(id)
		if !ok {
			return nil, fail(http.StatusNotFound, "no proposal %d", id)
		}
		return struct {
			Stamp
			ProposalInfo
		}{stamp, proposalInfo(p, len(st.Members()))}, nil
	})
}

// csvParam reports whether ?format=csv was asked for.
func csvParam(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return false, nil
	case "csv":
		return true, nil
	default:
		return false, fail(http.StatusBadRequest, "format %q must be json or csv", trim(f))
	}
}

// CSVHeader is the first row of the restrictions CSV export.
var CSVHeader = []string{"id", "tld", "status", "legal_basis", "evidence", "start", "expiry", "ended", "responses"}

func csvRow(rs registry.Restriction) []string {
	ended := ""
	if !rs.Ended.IsZero() {
		ended = rs.Ended.Format(time.RFC3339)
	}
	var resp []string
	for _, x := range rs.Responses {
		resp = append(resp, fmt.Sprintf("%s %s: %s", x.Time.Format(time.RFC3339), x.Signer, x.Text))
	}
	return []string{strconv.FormatUint(rs.ID, 10), rs.TLD, rs.Status, rs.LegalBasis, rs.Evidence,
		rs.Start.Format(time.RFC3339), rs.Expiry.Format(time.RFC3339), ended, strings.Join(resp, "\n")}
}

// readRestrictions answers with the restrictions pick selects, as JSON
// (one object if single) or CSV.
func (s *server) readRestrictions(w http.ResponseWriter, r *http.Request, single bool, pick func(st *registry.State) ([]registry.Restriction, error)) {
	asCSV, err := csvParam(r)
	if err != nil {
		s.writeErr(w, err)
		return
	}
	if !asCSV {
		s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
			list, err := pick(st)
			if err != nil {
				return nil, err
			}
			if single {
				return struct {
					Stamp
					registry.Restriction
				}{stamp, list[0]}, nil
			}
			return struct {
				Stamp
				Restrictions []registry.Restriction `json:"restrictions"`
			}{stamp, list}, nil
		})
		return
	}
	var buf bytes.Buffer
	var stamp Stamp
	s.b.View(func(st *registry.State) {
		if st == nil {
			err = errNoState
			return
		}
		if stamp, err = s.stamp(st); err != nil {
			return
		}
		var list []registry.Restriction
		if list, err = pick(st); err != nil {
			return
		}
		cw := csv.NewWriter(&buf)
		cw.Write(CSVHeader)
		for _, rs := range list {
			cw.Write(csvRow(rs))
		}
		cw.Flush()
		err = cw.Error()
	})
	if err != nil {
		s.writeErr(w, err)
		return
	}
	setStampHeaders(w, stamp)
	writeBody(w, http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func (s *server) restrictions(w http.ResponseWriter, r *http.Request, _ []string) {
	s.readRestrictions(w, r, false, func(st *registry.State) ([]registry.Restriction, error) {
		list := st.Restrictions()
		if list == nil {
			list = []registry.Restriction{}
		}
		return list, nil
	})
}

func (s *server) restriction(w http.ResponseWriter, r *http.Request, args []string) {
	id, err := idParam("restriction", args[0])
	if err != nil {
		s.writeErr(w, err)
		return
	}
	s.readRestrictions(w, r, true, func(st *registry.State) ([]registry.Restriction, error) {
		rs, ok := st.Restriction(id)
		if !ok {
			return nil, fail(http.StatusNotFound, "no restriction %d", id)
		}
		return []registry.Restriction{rs}, nil
	})
}

// SignerInfo is the answer to GET /v1/signers/{name}: what the CLI needs
// to sign the signer's next action.
type SignerInfo struct {
	Name    string `json:"name"`
	NextSeq uint64 `json:"next_seq"`
	// Kind is "member" or "operator".
	Kind string `json:"kind"`
	// Key is the registered verifier key.
	Key string `json:"key"`
	// TLDs are the first MaxEmbeddedTLDs TLDs the signer owns (member) or
	// operates (operator), by name; TLDCount counts them all.
	TLDs     []string `json:"tlds"`
	TLDCount int      `json:"tld_count"`
}

func (s *server) signer(w http.ResponseWriter, r *http.Request, args []string) {
	name := args[0]
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		a := SignerInfo{Name: name, NextSeq: st.NextSeq(name), TLDs: []string{}}
		snap := s.tldIdx.get(st)
		if m, ok := st.Member(name); ok {
			a.Kind, a.Key = "member", m.Key
			a.TLDs, a.TLDCount = embedded(snap.owned[name]), len(snap.owned[name])
		} else if ts := snap.operated[name]; len(ts) > 0 {
			t, _ := st.TLD(ts[0])
			a.Kind, a.Key, a.TLDs, a.TLDCount = "operator", t.Operator, embedded(ts), len(ts)
		}
		if a.Kind == "" {
			return nil, fail(http.StatusNotFound, "no signer %q (neither a member nor a TLD operator)", trim(name))
		}
		return struct {
			Stamp
			SignerInfo
		}{stamp, a}, nil
	})
}

// Entry is a decoded log entry with its proof.
type Entry struct {
	Index int64 `json:"index"`
	// Type is "action", "event" or "unknown".
	Type   string          `json:"type"`
	Action *action.Action  `json:"action,omitempty"`
	Event  *registry.Event `json:"event,omitempty"`
	// Raw is the entry's text (an action's signed note, an event's
	// encoding); RawBase64 holds an entry that is not valid UTF-8.
	Raw       string `json:"raw,omitempty"`
	RawBase64 []byte `json:"raw_base64,omitempty"`
	// DecodeError says why an unknown entry did not decode.
	DecodeError string `json:"decode_error,omitempty"`
	// LeafHash is the RFC 6962 leaf hash; InclusionProof proves it in the
	// tree of the answer's checkpoint (standard base64 hashes).
	LeafHash       string   `json:"leaf_hash"`
	InclusionProof []string `json:"inclusion_proof"`
}

func decodeEntry(e []byte) Entry {
	var out Entry
	if bytes.HasPrefix(e, []byte(registry.EventHeader)) {
		ev, err := registry.DecodeEvent(e)
		if err == nil {
			out.Type, out.Event, out.Raw = "event", ev, string(e)
			return out
		}
		out.DecodeError = err.Error()
	} else {
		a, err := action.Decode(e)
		if err == nil {
			out.Type, out.Action, out.Raw = "action", &a.Action, string(e)
			return out
		}
		out.DecodeError = err.Error()
	}
	out.Type = "unknown"
	if isText(e) {
		out.Raw = string(e)
	} else {
		out.RawBase64 = e
	}
	return out
}

func isText(b []byte) bool {
	return strings.ToValidUTF8(string(b), "\uFFFD") == string(b)
}

func (s *server) entry(w http.ResponseWriter, r *http.Request, args []string) {
	i, err := strconv.ParseUint(args[0], 10, 63)
	if err != nil {
		s.writeErr(w, fail(http.StatusBadRequest, "log index %q is not a decimal number", trim(args[0])))
		return
	}
	index := int64(i)
	s.read(w, func(st *registry.State, stamp Stamp) (any, error) {
		l := s.b.Log()
		if isNil(l) || stamp.Checkpoint == nil {
			return nil, fail(http.StatusServiceUnavailable, "the log is not open yet")
		}
		size := stamp.Checkpoint.Size
		if index >= size {
			return nil, fail(http.StatusNotFound, "no log entry %d: the log has %d", index, size)
		}
		e, err := l.Entry(index)
		if err != nil {
			return nil, fmt.Errorf("reading log entry %d: %v", index, err)
		}
		proof, err := l.InclusionProof(index, size)
		if err != nil {
			return nil, fmt.Errorf("proving log entry %d in size %d: %v", index, size, err)
		}
		a := decodeEntry(e)
		a.Index = index
		leaf := tlog.RecordHash(e)
		a.LeafHash = base64.StdEncoding.EncodeToString(leaf[:])
		a.InclusionProof = []string{}
		for _, h := range proof {
			a.InclusionProof = append(a.InclusionProof, base64.StdEncoding.EncodeToString(h[:]))
		}
		return struct {
			Stamp
			Entry
		}{stamp, a}, nil
	})
}

func (s *server) zone(w http.ResponseWriter, r *http.Request, _ []string) {
	z, h := s.b.Zone()
	if isNil(z) {
		s.writeErr(w, fail(http.StatusServiceUnavailable, "no zone committed yet"))
		return
	}
	var buf bytes.Buffer
	if _, err := z.WriteTo(&buf); err != nil {
		s.writeErr(w, fmt.Errorf("writing zone serial %d: %v", z.Serial(), err))
		return
	}
	hd := w.Header()
	hd.Set("Commonroot-Height", strconv.FormatInt(h, 10))
	hd.Set("Commonroot-Zone-Serial", strconv.FormatUint(uint64(z.Serial()), 10))
	hd.Set("Commonroot-Zone-ZONEMD", fmt.Sprintf("%X", z.Digest()))
	writeBody(w, http.StatusOK, "text/dns; charset=utf-8", buf.Bytes())
}

// ZoneVersion is a kept zone version.
type ZoneVersion struct {
	Serial uint32 `json:"serial"`
	ZONEMD string `json:"zonemd"`
}

func (s *server) zoneVersions(w http.ResponseWriter, r *http.Request, _ []string) {
	_, h := s.b.Zone()
	a := struct {
		// Height is the height of the current zone.
		Height   int64         `json:"height"`
		Versions []ZoneVersion `json:"versions"`
	}{Height: h, Versions: []ZoneVersion{}}
	for _, z := range s.b.Versions() {
		if !isNil(z) {
			a.Versions = append(a.Versions, ZoneVersion{z.Serial(), fmt.Sprintf("%X", z.Digest())})
		}
	}
	w.Header().Set("Commonroot-Height", strconv.FormatInt(h, 10))
	writeJSON(w, http.StatusOK, a)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request, _ []string) {
	if h, _ := s.b.Height(); h < 1 {
		writeError(w, http.StatusServiceUnavailable, "no block committed yet")
		return
	}
	writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("ok\n"))
}
