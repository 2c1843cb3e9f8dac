package portal

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/zone"
)

// restrictionFilter is the restrictions report's filter.
type restrictionFilter struct {
	Status string // "", "active", "lapsed" or "lifted"
	TLD    string
	Q      string // a substring of the legal basis, evidence or responses
}

func filterOf(r *http.Request) (restrictionFilter, error) {
	q := r.URL.Query()
	f := restrictionFilter{Status: q.Get("status"), TLD: strings.TrimSpace(q.Get("tld")), Q: strings.TrimSpace(q.Get("q"))}
	switch f.Status {
	case "", "active", "lapsed", "lifted":
	default:
		return f, badRequest("status %q must be active, lapsed or lifted", trim(f.Status))
	}
	if f.TLD != "" {
		f.TLD = canonical(f.TLD)
	}
	return f, nil
}

func (f restrictionFilter) match(rs registry.Restriction) bool {
	if f.Status != "" && rs.Status != f.Status || f.TLD != "" && rs.TLD != f.TLD {
		return false
	}
	if f.Q == "" {
		return true
	}
	q := strings.ToLower(f.Q)
	if strings.Contains(strings.ToLower(rs.LegalBasis), q) || strings.Contains(strings.ToLower(rs.Evidence), q) {
		return true
	}
	for _, x := range rs.Responses {
		if strings.Contains(strings.ToLower(x.Text), q) {
			return true
		}
	}
	return false
}

// Query is the filter as a query string (for export links).
func (f restrictionFilter) Query() string {
	v := url.Values{}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if f.TLD != "" {
		v.Set("tld", f.TLD)
	}
	if f.Q != "" {
		v.Set("q", f.Q)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

type restrictionRow struct {
	registry.Restriction
	Tally  registry.Tally
	Votes  []registry.Vote
	Action int64
}

type restrictionsData struct {
	Filter restrictionFilter
	Rows   []restrictionRow
	Total  int
}

func (s *server) restrictions(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	d := &restrictionsData{Filter: f}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		all := st.Restrictions()
		d.Total = len(all)
		for _, rs := range all {
			if !f.match(rs) {
				continue
			}
			row := restrictionRow{Restriction: rs, Action: -1}
			if pr, ok := st.Proposal(rs.ID); ok {
				pv := proposalRowOf(st, x, pr)
				row.Tally, row.Votes, row.Action = pv.Tally, pr.Votes, pr.Action
			}
			d.Rows = append(d.Rows, row)
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "Restrictions report", "restrictions", d
	}
	s.render(w, r, "restrictions", p, err)
}

// restrictionsExport answers /ui/restrictions.csv and .json: the filtered
// restrictions in exactly the formats of GET /v1/restrictions.
func (s *server) restrictionsExport(w http.ResponseWriter, r *http.Request) {
	f, err := filterOf(r)
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	var list []registry.Restriction
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		list = []registry.Restriction{}
		for _, rs := range st.Restrictions() {
			if f.match(rs) {
				list = append(list, rs)
			}
		}
		return nil
	})
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	var buf bytes.Buffer
	ctype := "application/json"
	if strings.HasSuffix(r.URL.Path, ".csv") {
		ctype = "text/csv; charset=utf-8"
		err = api.WriteRestrictionsCSV(&buf, list)
	} else {
		st := api.Stamp{Height: p.Stamp.Height}
		if p.Stamp.Root != "" {
			st.Checkpoint = &api.Tree{Size: p.Stamp.Size, Root: p.Stamp.Root}
		}
		err = api.WriteJSON(&buf, struct {
			api.Stamp
			Restrictions []registry.Restriction `json:"restrictions"`
		}{st, list})
	}
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	setStampHeaders(w, p.Stamp)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(buf.Bytes())
}

type logListData struct {
	Rows   []entryRow
	Before int64
	Older  int64
	Newer  int64
}

func (s *server) logList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if v := q.Get("index"); v != "" {
		i, err := strconv.ParseUint(strings.TrimSpace(v), 10, 63)
		if err != nil {
			s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("log index %q is not a decimal number", trim(v)))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("%slog/%d", Prefix, i), http.StatusSeeOther)
		return
	}
	before := int64(-1)
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("before %q is not a log index", trim(v)))
			return
		}
		before = int64(n)
	}
	d := &logListData{}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		n := p.Stamp.Size
		if before < 0 || before > n {
			before = n
		}
		d.Before = before
		var idx []int64
		for i := before - 1; i >= 0 && i >= before-logPage; i-- {
			idx = append(idx, i)
		}
		d.Older, d.Newer = -1, -1
		if before-logPage > 0 {
			d.Older = before - logPage
		}
		if before < n {
			d.Newer = min(before+logPage, n)
		}
		var err error
		d.Rows, err = rows(s.b.Log(), idx)
		return err
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "Transparency log", "log", d
	}
	s.render(w, r, "log", p, err)
}

type entryData struct {
	Row      entryRow
	Raw      string
	RawB64   string
	Decoded  string
	Error    string
	LeafHash string
	// Proof proves the entry in the tree ProofSize, whose root is
	// ProofRoot: the latest signed checkpoint when it holds the entry,
	// else the tree the page reflects.
	Proof      []string
	ProofSize  int64
	ProofRoot  string
	Signed     bool
	Checkpoint *signedCheckpoint
	Node       string
	DNS        string
	Proposal   uint64
	HasNext    bool
	// Facts summarise the entry for a reader (dkg actions, key
	// proposals); empty when the one-line summary says it all.
	Facts []fact
}

func (s *server) logEntry(w http.ResponseWriter, r *http.Request) {
	i64, err := strconv.ParseUint(r.PathValue("index"), 10, 63)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("log index %q is not a decimal number", trim(r.PathValue("index"))))
		return
	}
	at := int64(i64)
	d := &entryData{Node: s.baseURL(r), DNS: s.o.DNS}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		l := s.b.Log()
		if isNil(l) {
			return &httpError{http.StatusServiceUnavailable, "The log is not open yet."}
		}
		if at >= p.Stamp.Size {
			return notFound("There is no log entry %d: the log has %d entries.", at, p.Stamp.Size)
		}
		e, err := l.Entry(at)
		if err != nil {
			return fmt.Errorf("portal: reading log entry %d: %v", at, err)
		}
		d.Row = summarize(at, e)
		d.HasNext = at+1 < p.Stamp.Size
		if isText(e) {
			d.Raw = string(e)
		} else {
			d.RawB64 = base64.StdEncoding.EncodeToString(e)
		}
		dec := decode(e)
		switch {
		case dec.Event != nil:
			d.Decoded = prettyJSON(dec.Event)
			d.Proposal = dec.Event.Proposal
			if strings.HasPrefix(dec.Event.Event, "dkg.") || strings.HasPrefix(dec.Event.Event, "key.") {
				d.Proposal = dec.Event.Ceremony // a ceremony's id is its proposal's
			}
		case dec.Action != nil:
			d.Decoded = prettyJSON(dec.Action.Action)
			switch b := dec.Action.Body.(type) {
			case *action.DKG:
				d.Facts = dkgFacts(st, dec.Action.Signer, b)
				d.Proposal = b.Ceremony
			case *action.Propose:
				if isKeyProposal(b.Proposal) {
					d.Facts = []fact{{Label: "Threshold", Value: fmt.Sprintf("%d of the participants must cooperate to sign", b.Threshold)}}
				}
			}
		default:
			d.Error = dec.Err.Error()
		}
		if id, ok := proposalOf(x, at); ok {
			d.Proposal = id
		}
		leaf := tlog.RecordHash(e)
		d.LeafHash = base64.StdEncoding.EncodeToString(leaf[:])
		d.Checkpoint, err = latestCheckpoint(l, memberVerifiers(st.Members()))
		if err != nil {
			return err
		}
		d.ProofSize, d.ProofRoot = p.Stamp.Size, p.Stamp.Root
		if d.Checkpoint != nil && at < d.Checkpoint.Size {
			d.ProofSize, d.ProofRoot, d.Signed = d.Checkpoint.Size, d.Checkpoint.Root, true
		}
		proof, err := l.InclusionProof(at, d.ProofSize)
		if err != nil {
			return fmt.Errorf("portal: proving entry %d in size %d: %v", at, d.ProofSize, err)
		}
		for _, h := range proof {
			d.Proof = append(d.Proof, base64.StdEncoding.EncodeToString(h[:]))
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = fmt.Sprintf("Log entry %d", at), "log", d
	}
	s.render(w, r, "entry", p, err)
}

// proposalOf returns the proposal whose proposing entry is i.
func proposalOf(x *index, i int64) (uint64, bool) {
	for id, e := range x.propEntry {
		if e == i {
			return id, true
		}
	}
	return 0, false
}

func isText(b []byte) bool {
	return strings.ToValidUTF8(string(b), "\uFFFD") == string(b)
}

type versionRow struct {
	zoneVersion
	Kept bool
}

type zoneData struct {
	Versions []versionRow
	Kept     []api.ZoneVersion
	From, To uint32
	Removed  []string
	Added    []string
	Diffed   bool
}

// keptVersions returns the node's kept zone versions by serial.
func (s *server) keptVersions() map[uint32]api.Zone {
	out := map[uint32]api.Zone{}
	for _, z := range s.b.Versions() {
		if !isNil(z) {
			out[z.Serial()] = z
		}
	}
	return out
}

func (s *server) zoneData(kept map[uint32]api.Zone) (*page, *zoneData, error) {
	d := &zoneData{}
	for _, z := range s.b.Versions() {
		if !isNil(z) {
			d.Kept = append(d.Kept, api.ZoneVersion{Serial: z.Serial(), ZONEMD: fmt.Sprintf("%X", z.Digest())})
		}
	}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		for i := len(x.zoneVersions) - 1; i >= 0 && len(d.Versions) < 500; i-- {
			v := x.zoneVersions[i]
			_, k := kept[v.Serial]
			d.Versions = append(d.Versions, versionRow{v, k})
		}
		return nil
	})
	return p, d, err
}

func (s *server) zoneVersions(w http.ResponseWriter, r *http.Request) {
	p, d, err := s.zoneData(s.keptVersions())
	if err == nil {
		if n := len(d.Kept); n > 1 {
			d.From, d.To = d.Kept[n-2].Serial, d.Kept[n-1].Serial
		}
		p.Title, p.Nav, p.Data = "Zone versions", "zone", d
	}
	s.render(w, r, "zone", p, err)
}

func (s *server) zoneDiff(w http.ResponseWriter, r *http.Request) {
	kept := s.keptVersions()
	serial := func(name string) (*zone.Zone, uint32, error) {
		v := r.URL.Query().Get(name)
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, 0, badRequest("%s %q is not a zone serial", name, trim(v))
		}
		z, ok := kept[uint32(n)].(*zone.Zone)
		if !ok {
			return nil, 0, notFound("This node no longer keeps zone version %d (it keeps the last %d); only kept versions can be compared.", n, len(kept))
		}
		return z, uint32(n), nil
	}
	from, fs, err := serial("from")
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	to, ts, err := serial("to")
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	removed, added, err := to.Diff(from)
	if err != nil {
		s.render(w, r, "", nil, badRequest("%v", err))
		return
	}
	p, d, err := s.zoneData(kept)
	if err == nil {
		d.From, d.To, d.Diffed = fs, ts, true
		for _, rr := range removed {
			d.Removed = append(d.Removed, rrString(rr))
		}
		for _, rr := range added {
			d.Added = append(d.Added, rrString(rr))
		}
		p.Title, p.Nav, p.Data = fmt.Sprintf("Zone diff %d → %d", fs, ts), "zone", d
	}
	s.render(w, r, "zone", p, err)
}

func rrString(rr dns.RR) string { return strings.ReplaceAll(rr.String(), "\t", " ") }

type cosignRow struct {
	Size    int64
	Root    string
	Signers []string
	Signed  map[string]bool
}

type membersData struct {
	Members []memberRow
	Names   []string
	Cosign  []cosignRow
}

type memberData struct {
	memberRow
	Votes  []voteRow
	Cosign []cosignRow
}

type voteRow struct {
	registry.Vote
	Proposal uint64
	Kind     string
	Status   string
}

// cosigning opens the signed checkpoints of the log sizes the portal has
// seen (newest first) and names the members that signed each.
func (s *server) cosigning(x *index, vs note.Verifiers) []cosignRow {
	l := s.b.Log()
	ca, ok := l.(checkpointAtReader)
	if !ok {
		return nil
	}
	var out []cosignRow
	for i := len(x.sizes) - 1; i >= 0; i-- {
		msg, err := ca.CheckpointAt(x.sizes[i])
		if err != nil {
			continue
		}
		c, err := openCheckpoint(msg, vs)
		if err != nil {
			continue
		}
		row := cosignRow{Size: c.Size, Root: c.Root, Signers: c.Signers, Signed: map[string]bool{}}
		for _, n := range c.Signers {
			row.Signed[n] = true
		}
		out = append(out, row)
	}
	return out
}

func (s *server) members(w http.ResponseWriter, r *http.Request) {
	d := &membersData{}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		ms := st.Members()
		owned := x.owned
		votes := map[string]int{}
		for _, pr := range st.Proposals() {
			for _, v := range pr.Votes {
				votes[v.Member]++
			}
		}
		d.Cosign = s.cosigning(x, memberVerifiers(ms))
		for _, m := range ms {
			row := memberRow{Member: m, Owned: owned[m.Name], Votes: votes[m.Name]}
			if len(d.Cosign) > 0 {
				row.Cosigned = d.Cosign[0].Signed[m.Name]
			}
			d.Members = append(d.Members, row)
			d.Names = append(d.Names, m.Name)
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "Members", "members", d
	}
	s.render(w, r, "members", p, err)
}

func (s *server) member(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d := &memberData{}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		m, ok := st.Member(name)
		if !ok {
			return notFound("There is no member %q.", trim(name))
		}
		d.Member = m
		d.Owned = x.owned[name]
		for _, pr := range st.Proposals() {
			for _, v := range pr.Votes {
				if v.Member == name {
					d.Votes = append(d.Votes, voteRow{v, pr.ID, pr.Kind, pr.Status})
				}
			}
		}
		slices.Reverse(d.Votes)
		d.memberRow.Votes = len(d.Votes)
		d.Cosign = s.cosigning(x, memberVerifiers(st.Members()))
		if len(d.Cosign) > 0 {
			d.Cosigned = d.Cosign[0].Signed[name]
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "Member "+name, "members", d
	}
	s.render(w, r, "member", p, err)
}

// Atom (RFC 4287) elements.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Link    []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	Title   string   `xml:"title"`
	ID      string   `xml:"id"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Summary string   `xml:"summary"`
}

const feedLen = 100

func (s *server) feed(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r)
	var items []feedItem
	var genesis string
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		for i := len(x.feed) - 1; i >= 0 && len(items) < feedLen; i-- {
			items = append(items, x.feed[i])
		}
		genesis = st.Constitution().GenesisTime.UTC().Format("2006-01-02T15:04:05Z")
		return nil
	})
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	f := atomFeed{
		Title: "commonroot " + p.Origin + ": decisions and zone versions", ID: base + Prefix + "feed.atom", Updated: genesis,
		Link:   []atomLink{{Href: base + Prefix + "feed.atom", Rel: "self"}, {Href: base + Prefix}},
		Author: atomAuthor{Name: p.Origin},
	}
	for _, it := range items {
		row := summarize(it.Index, registry.EncodeEvent(it.Event))
		u := fmt.Sprintf("%s%slog/%d", base, Prefix, it.Index)
		if it.Event.Event == "proposal.outcome" {
			u = fmt.Sprintf("%s%sproposals/%d", base, Prefix, it.Event.Proposal)
		}
		ts := it.Event.Time.UTC().Format("2006-01-02T15:04:05Z")
		f.Entries = append(f.Entries, atomEntry{
			Title: row.Summary, ID: fmt.Sprintf("%s%slog/%d", base, Prefix, it.Index), Updated: ts,
			Link: atomLink{Href: u}, Summary: fmt.Sprintf("Log entry %d at height %d: %s", it.Index, it.Event.Height, row.Summary),
		})
	}
	if len(f.Entries) > 0 {
		f.Updated = f.Entries[0].Updated
	}
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		s.render(w, r, "", nil, err)
		return
	}
	setStampHeaders(w, p.Stamp)
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write([]byte(xml.Header))
	w.Write(out)
	w.Write([]byte("\n"))
}
