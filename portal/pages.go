package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// memberRow is a member in a list.
type memberRow struct {
	registry.Member
	Owned     []string
	Votes     int
	Cosigned  bool // signed the latest served checkpoint
	Operating int
}

type overviewData struct {
	Members     []memberRow
	TLDs        int
	Serial      uint32
	ZONEMD      string
	ZoneHeight  int64
	HasZone     bool
	Checkpoint  *signedCheckpoint
	Open        int
	Proposals   int
	Active      int
	Recent      []entryRow
	GenesisTime time.Time
	ZoneKey     *zoneKeyData
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	d := &overviewData{}
	if z, h := s.b.Zone(); !isNil(z) {
		d.HasZone, d.Serial, d.ZONEMD, d.ZoneHeight = true, z.Serial(), fmt.Sprintf("%X", z.Digest()), h
	}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		ms := st.Members()
		owned := x.owned
		var err error
		d.Checkpoint, err = latestCheckpoint(s.b.Log(), memberVerifiers(ms))
		if err != nil {
			return err
		}
		for _, m := range ms {
			row := memberRow{Member: m, Owned: owned[m.Name]}
			if d.Checkpoint != nil {
				for _, n := range d.Checkpoint.Signers {
					row.Cosigned = row.Cosigned || n == m.Name
				}
			}
			d.Members = append(d.Members, row)
		}
		d.TLDs = len(x.names)
		for _, pr := range st.Proposals() {
			d.Proposals++
			if pr.Status == registry.StatusOpen {
				d.Open++
			}
		}
		for _, rs := range st.Restrictions() {
			if rs.Status == "active" {
				d.Active++
			}
		}
		d.GenesisTime = st.Constitution().GenesisTime
		if d.ZoneKey, err = zoneKeyOf(st); err != nil {
			return err
		}
		var idx []int64
		for i := p.Stamp.Size - 1; i >= 0 && i >= p.Stamp.Size-15; i-- {
			idx = append(idx, i)
		}
		d.Recent, err = rows(s.b.Log(), idx)
		return err
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "Overview", "overview", d
	}
	s.render(w, r, "overview", p, err)
}

type tldRow struct {
	Name       string
	Owner      string
	Operator   string
	NS         int
	DS         int
	Restricted bool
}

type directoryData struct {
	Q       string
	Total   int
	Matches int
	TLDs    []tldRow
	Next    string
	After   string
	Exact   string
}

func (s *server) tlds(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	after := r.URL.Query().Get("after")
	if after != "" {
		after = canonical(after)
	}
	sub := strings.TrimSuffix(q, ".")
	d := &directoryData{Q: q, After: after}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		names := x.names
		d.Total = len(names)
		if q != "" {
			if _, ok := st.TLD(canonical(q)); ok {
				d.Exact = canonical(q)
			}
		}
		add := func(name string) {
			if t, ok := st.TLD(name); ok {
				d.TLDs = append(d.TLDs, tldRow{Name: name, Owner: t.Owner, Operator: keyName(t.Operator), NS: len(t.NS), DS: len(t.DS), Restricted: st.Restricted(name)})
			}
		}
		if sub == "" {
			// A page: a binary search to the cursor.
			d.Matches = len(names)
			i := sort.SearchStrings(names, after)
			if i < len(names) && names[i] == after {
				i++
			}
			for ; i < len(names) && len(d.TLDs) < dirPage; i++ {
				add(names[i])
			}
			if len(d.TLDs) == dirPage && i < len(names) {
				d.Next = d.TLDs[dirPage-1].Name
			}
			return nil
		}
		// A search: one pass over the names counts the matches and
		// takes the page after the cursor.
		for _, name := range names {
			if !strings.Contains(name, sub) {
				continue
			}
			d.Matches++
			if name <= after {
				continue
			}
			switch {
			case len(d.TLDs) < dirPage:
				add(name)
			case d.Next == "":
				d.Next = d.TLDs[dirPage-1].Name
			}
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "TLD directory", "tlds", d
		if q != "" {
			p.Title = fmt.Sprintf("TLDs matching %q", q)
		}
	}
	s.render(w, r, "tlds", p, err)
}

type hostRow struct {
	Name  string
	Addrs []string
	Under bool // below this TLD: its own glue
}

type tldData struct {
	registry.TLD
	OperatorName string
	InZone       bool
	Restricted   bool
	Hosts        []hostRow
	Restrictions []registry.Restriction
	History      []entryRow
	Page, Pages  int
	Mentions     int
	Genesis      bool
}

func (s *server) tld(w http.ResponseWriter, r *http.Request) {
	name := canonical(r.PathValue("name"))
	pg := 0
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("page %q must be a number from 0", trim(v)))
			return
		}
		pg = n
	}
	d := &tldData{Page: pg}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		t, ok := st.TLD(name)
		if !ok {
			return notFound("There is no TLD %q.", trim(name))
		}
		d.TLD, d.OperatorName, d.Restricted = t, keyName(t.Operator), st.Restricted(name)
		_, _, d.InZone = st.ZoneDelegation(name)
		for _, h := range t.NS {
			row := hostRow{Name: h, Under: h == name || strings.HasSuffix(h, "."+name)}
			if addrs, ok := st.ZoneHost(h); ok {
				row.Addrs = addrs
			} else if host, ok := st.Host(h); ok {
				row.Addrs = host.Addrs
			}
			d.Hosts = append(d.Hosts, row)
		}
		for _, rs := range st.Restrictions() {
			if rs.TLD == name {
				d.Restrictions = append(d.Restrictions, rs)
			}
		}
		var idx []int64
		idx, d.Pages = x.history(name, pg, historyPage)
		d.Mentions = len(x.byTLD[name])
		d.Genesis = t.Created.Equal(st.Constitution().GenesisTime)
		if d.Genesis && (d.Pages == 0 || pg == d.Pages-1) {
			idx = append(idx, 0)
		}
		if d.Genesis && d.Pages == 0 {
			d.Pages = 1
		}
		if pg > 0 && pg >= d.Pages {
			return notFound("The history of %s has %d pages.", name, d.Pages)
		}
		var err error
		d.History, err = rows(s.b.Log(), idx)
		return err
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "TLD "+name, "tlds", d
	}
	s.render(w, r, "tld", p, err)
}

type proposalRow struct {
	registry.Proposal
	Subject  string
	Tally    registry.Tally
	Left     string
	Voted    int
	Rule     constitution.Rule
	HasRule  bool
	Outcome  int64
	Args     action.Propose
	ArgsJSON string
	Missing  []string
	// Facts summarise a key.generate or key.roll proposal and its
	// ceremony.
	Facts []fact
}

func proposalRowOf(st *registry.State, x *index, pr registry.Proposal) proposalRow {
	row := proposalRow{Proposal: pr, Outcome: -1}
	json.Unmarshal(pr.Args, &row.Args)
	row.ArgsJSON = prettyJSON(json.RawMessage(pr.Args))
	row.Subject = row.Args.TLD
	switch {
	case row.Args.Member != nil:
		row.Subject = "member " + row.Args.Member.Name
	case row.Args.Restriction != 0:
		row.Subject = fmt.Sprintf("restriction %d", row.Args.Restriction)
	case isKeyProposal(pr.Kind):
		row.Subject = "the zone key"
	case row.Subject == "":
		row.Subject = "the constitution"
	}
	row.Tally.Members = len(st.Members())
	voted := map[string]bool{}
	for _, v := range pr.Votes {
		voted[v.Member] = true
		switch v.Vote {
		case action.Yes:
			row.Tally.Yes++
		case action.No:
			row.Tally.No++
		case action.Abstain:
			row.Tally.Abstain++
		}
	}
	row.Voted = len(pr.Votes)
	if pr.Status == registry.StatusOpen {
		for _, m := range st.Members() {
			if !voted[m.Name] {
				row.Missing = append(row.Missing, m.Name)
			}
		}
		row.Left = left(pr.Deadline.Sub(st.Time()))
	}
	row.Rule, row.HasRule = st.Constitution().Rules[pr.Kind]
	if i, ok := x.outcome[pr.ID]; ok {
		row.Outcome = i
	}
	return row
}

// left formats the time left until a deadline, as of the block time.
func left(d time.Duration) string {
	if d <= 0 {
		return "the voting period has ended; the outcome is decided in the next block"
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	if days > 0 {
		return fmt.Sprintf("%dd %s", days, d)
	}
	return d.String()
}

type proposalsData struct {
	Status string
	Open   []proposalRow
	Closed []proposalRow
	Next   uint64
}

func (s *server) proposals(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && status != "open" && status != "closed" {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("status %q must be open or closed", trim(status)))
		return
	}
	var before uint64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("before %q is not a proposal id", trim(v)))
			return
		}
		before = n
	}
	d := &proposalsData{Status: status}
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		all := st.Proposals()
		for i := len(all) - 1; i >= 0; i-- {
			pr := all[i]
			if pr.Status == registry.StatusOpen {
				if status != "closed" && before == 0 {
					d.Open = append(d.Open, proposalRowOf(st, x, pr))
				}
				continue
			}
			if status == "open" || before != 0 && pr.ID >= before {
				continue
			}
			if len(d.Closed) == dirPage {
				d.Next = d.Closed[dirPage-1].ID
				break
			}
			d.Closed = append(d.Closed, proposalRowOf(st, x, pr))
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = "Proposals", "proposals", d
	}
	s.render(w, r, "proposals", p, err)
}

func (s *server) proposal(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("proposal id %q is not a decimal number", trim(r.PathValue("id"))))
		return
	}
	var row proposalRow
	p, err := s.view(func(st *registry.State, x *index, p *page) error {
		pr, ok := st.Proposal(id)
		if !ok {
			return notFound("There is no proposal %d.", id)
		}
		row = proposalRowOf(st, x, pr)
		if isKeyProposal(pr.Kind) {
			row.Facts = keyProposalFacts(st, pr, row.Args)
		}
		return nil
	})
	if err == nil {
		p.Title, p.Nav, p.Data = fmt.Sprintf("Proposal %d: %s of %s", id, row.Kind, row.Subject), "proposals", row
	}
	s.render(w, r, "proposal", p, err)
}
