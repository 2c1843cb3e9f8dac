package portal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/setup"
)

// checkHTML parses a page strictly enough to catch what html.Parse
// forgives: every element opened is closed in order (void elements
// aside); and checks the accessible basics: lang on <html>, a non-empty
// <title>, one <h1>, alt on every <img>, a <label for> naming every
// input and select, unique ids, a caption or heading for every table.
func checkHTML(page []byte) error {
	void := map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
		"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}
	// Optional end tags html.Parse closes implicitly: require them anyway,
	// except for these.
	z := html.NewTokenizer(bytes.NewReader(page))
	var stack []string
	ids := map[string]bool{}
	labels := map[string]bool{}
	var controls []string
	var title strings.Builder
	inTitle, h1, imgs := false, 0, 0
	lang := ""
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err().Error() != "EOF" {
				return z.Err()
			}
			if len(stack) > 0 {
				return fmt.Errorf("unclosed elements at the end: %v", stack)
			}
			if lang == "" {
				return fmt.Errorf("<html> has no lang")
			}
			if strings.TrimSpace(title.String()) == "" {
				return fmt.Errorf("no <title>")
			}
			if h1 != 1 {
				return fmt.Errorf("%d <h1> elements, want 1", h1)
			}
			if imgs == 0 {
				return fmt.Errorf("no <img> (the logo)")
			}
			for _, c := range controls {
				if !labels[c] {
					return fmt.Errorf("form control %q has no <label for>", c)
				}
			}
			return nil
		case html.TextToken:
			if inTitle {
				title.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			tn, _ := z.TagName()
			name := string(tn)
			attrs := map[string]string{}
			for {
				k, v, more := z.TagAttr()
				if len(k) > 0 {
					attrs[string(k)] = string(v)
				}
				if !more {
					break
				}
			}
			if id, ok := attrs["id"]; ok {
				if ids[id] {
					return fmt.Errorf("duplicate id %q", id)
				}
				ids[id] = true
			}
			switch name {
			case "html":
				lang = attrs["lang"]
			case "title":
				inTitle = true
			case "h1":
				h1++
			case "img":
				imgs++
				if strings.TrimSpace(attrs["alt"]) == "" {
					return fmt.Errorf("<img src=%q> without alt text", attrs["src"])
				}
			case "label":
				labels[attrs["for"]] = true
			case "input", "select", "textarea":
				if attrs["type"] != "hidden" {
					if attrs["id"] == "" {
						return fmt.Errorf("<%s name=%q> without an id for its label", name, attrs["name"])
					}
					controls = append(controls, attrs["id"])
				}
			}
			if !void[name] && tt == html.StartTagToken {
				stack = append(stack, name)
			}
		case html.EndTagToken:
			tn, _ := z.TagName()
			name := string(tn)
			if name == "title" {
				inTitle = false
			}
			if len(stack) == 0 || stack[len(stack)-1] != name {
				return fmt.Errorf("</%s> closes %v", name, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
}

// TestPages opens every page of the portal on a running node: each
// answers 200 with well-formed, accessible HTML that names the height and
// log tree it reflects, and agrees with the JSON API.
func TestPages(t *testing.T) {
	d := fed(t)
	id := d.propose(t, "pagestest.", "a TLD for the page test")
	d.vote(t, "bravo", id, "yes", "fine by bravo")

	var status struct {
		Height  int64  `json:"height"`
		LogSize int64  `json:"log_size"`
		Serial  uint32 `json:"serial"`
	}
	_, _, b := get(t, d.base+"/v1/status")
	if err := json.Unmarshal(b, &status); err != nil {
		t.Fatal(err)
	}
	var versions struct {
		Versions []struct{ Serial uint32 } `json:"versions"`
	}
	_, _, b = get(t, d.base+"/v1/zone/versions")
	json.Unmarshal(b, &versions)
	diff := "/ui/zone"
	if n := len(versions.Versions); n >= 2 {
		diff = fmt.Sprintf("/ui/zone/diff?from=%d&to=%d", versions.Versions[0].Serial, versions.Versions[n-1].Serial)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/ui/", []string{"Overview of the federation", "alpha", "Latest checkpoint"}},
		{"/ui/tlds", []string{"TLD directory", ">aaa.<"}},
		{"/ui/tlds?q=com", []string{"Exact match", "/ui/tlds/com."}},
		{"/ui/tlds?after=com.", []string{">commbank.<"}},
		{"/ui/tlds/de.", []string{"TLD <code>de.</code>", "/ui/members/alpha", "History"}},
		{"/ui/tlds/com.", []string{"a.gtld-servers.net.", "shared"}},
		{"/ui/proposals", []string{"Proposals", "pagestest."}},
		{fmt.Sprintf("/ui/proposals/%d", id), []string{"fine by bravo", "tld.create", "Not yet voted"}},
		{"/ui/restrictions", []string{"Restrictions report", "CSV"}},
		{"/ui/log", []string{"Transparency log", "Go to entry number"}},
		{"/ui/log/0", []string{"Genesis", "Verify in your browser", "commonroot verify --node"}},
		{"/ui/log/1", []string{"Log entry 1", "Inclusion proof"}},
		{"/ui/zone", []string{"Zone versions", "ZONEMD"}},
		{diff, []string{"Zone"}},
		{"/ui/members", []string{"Cosigning record", "bravo"}},
		{"/ui/members/bravo", []string{"Member bravo", "fine by bravo"}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/ui/"), func(t *testing.T) {
			code, h, page := get(t, d.base+tt.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", tt.path, code, page)
			}
			if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", tt.path, ct)
			}
			if err := checkHTML(page); err != nil {
				t.Errorf("GET %s: %v", tt.path, err)
			}
			for _, w := range tt.want {
				if !bytes.Contains(page, []byte(w)) {
					t.Errorf("GET %s: no %q in the page", tt.path, w)
				}
			}
			height, _ := strconv.ParseInt(h.Get("Commonroot-Height"), 10, 64)
			size, _ := strconv.ParseInt(h.Get("Commonroot-Log-Size"), 10, 64)
			if height < status.Height || size < status.LogSize {
				t.Errorf("GET %s: stamp height %d size %d, older than the status before it (%d, %d)", tt.path, height, size, status.Height, status.LogSize)
			}
			stamp := fmt.Sprintf(`data-height="%d"`, height)
			// html/template writes "+" as "&#43;": compare the text.
			if !bytes.Contains(page, []byte(stamp)) || !strings.Contains(html.UnescapeString(string(page)), h.Get("Commonroot-Log-Root")) {
				t.Errorf("GET %s: the page does not state the height %d and root %s of its headers", tt.path, height, h.Get("Commonroot-Log-Root"))
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	d := fed(t)
	for _, path := range []string{"/ui/tlds/no-such-tld.", "/ui/proposals/99999", "/ui/log/99999999", "/ui/members/zulu", "/ui/nothing"} {
		code, _, page := get(t, d.base+path)
		if code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
		if err := checkHTML(page); err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
	}
	for _, path := range []string{"/ui/proposals/x", "/ui/log/-1", "/ui/restrictions?status=bogus", "/ui/zone/diff?from=a&to=1"} {
		if code, _, _ := get(t, d.base+path); code != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", path, code)
		}
	}
}

// TestRoot checks the node's mounting: GET / redirects to the portal and
// the API stays where it was.
func TestRoot(t *testing.T) {
	d := fed(t)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(d.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d to %q, want 302 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, h, _ := get(t, d.base+"/v1/status"); code != 200 || h.Get("Content-Type") != "application/json" {
		t.Errorf("GET /v1/status: %d %q", code, h.Get("Content-Type"))
	}
	if code, _, _ := get(t, d.base+"/nothing"); code != 404 {
		t.Errorf("GET /nothing: %d", code)
	}
}

// TestHistory checks that a TLD's page lists the changes of it, with
// links to their log entries, newest first.
func TestHistory(t *testing.T) {
	d := fed(t)
	var cur struct {
		NS []string `json:"ns"`
		DS []string `json:"ds"`
	}
	_, _, b := get(t, d.base+"/v1/tlds/fr.")
	if err := json.Unmarshal(b, &cur); err != nil {
		t.Fatal(err)
	}
	var idx []int64
	for i := range 2 {
		o := d.submit(t, setup.MemberKeyPath(d.dir, "alpha"), action.KindDelegate, &action.Delegate{TLD: "fr.", NS: cur.NS, DS: cur.DS})
		if !o.Accepted {
			t.Fatalf("change %d of fr.: %+v", i, o)
		}
		idx = append(idx, o.Index)
	}
	_, _, page := get(t, d.base+"/ui/tlds/fr.")
	a := bytes.Index(page, []byte(fmt.Sprintf(`href="/ui/log/%d"`, idx[1])))
	c := bytes.Index(page, []byte(fmt.Sprintf(`href="/ui/log/%d"`, idx[0])))
	g := bytes.Index(page, []byte(`href="/ui/log/0"`))
	if a < 0 || c < 0 || g < 0 || !(a < c && c < g) {
		t.Errorf("fr. history: links to entries %d, %d and 0 at offsets %d, %d, %d; want all, newest first", idx[1], idx[0], a, c, g)
	}
}

// TestRestrictionsExport imposes a restriction by vote and checks the
// report: the page shows it with its votes, the CSV and JSON exports equal
// /v1/restrictions at the same height, and the filters select.
func TestRestrictionsExport(t *testing.T) {
	d := fed(t)
	ev := sha256.Sum256([]byte("court order 42"))
	o := d.submit(t, setup.MemberKeyPath(d.dir, "alpha"), action.KindPropose, &action.Propose{Proposal: constitution.RestrictionImpose,
		Rationale: "export test", TLD: "aaa.", LegalBasis: "court order 42 of the test court", Evidence: hex.EncodeToString(ev[:]), Duration: "24h0m0s"})
	for _, m := range []string{"alpha", "bravo", "charlie"} {
		d.vote(t, m, o.Proposal, "yes", m+" checked the order")
	}
	eventually(t, "the restriction is active", 30*time.Second, func() error {
		_, _, b := get(t, d.base+"/ui/restrictions?status=active&tld=aaa")
		return contains(b, "court order 42 of the test court")
	})
	_, _, page := get(t, d.base+"/ui/restrictions?status=active&tld=aaa")
	if err := checkHTML(page); err != nil {
		t.Error(err)
	}
	for _, w := range []string{"3 yes, 0 no", "charlie: yes", hex.EncodeToString(ev[:]), `href="/ui/restrictions.csv?status=active&amp;tld=aaa."`} {
		if !bytes.Contains(page, []byte(w)) {
			t.Errorf("restrictions page: no %q", w)
		}
	}
	same := func(a, b string) {
		t.Helper()
		eventually(t, a+" equals "+b, 20*time.Second, func() error {
			_, ha, ba := get(t, d.base+a)
			_, hb, bb := get(t, d.base+b)
			if ha.Get("Commonroot-Height") != hb.Get("Commonroot-Height") {
				return fmt.Errorf("heights %s and %s", ha.Get("Commonroot-Height"), hb.Get("Commonroot-Height"))
			}
			if ha.Get("Content-Type") != hb.Get("Content-Type") {
				t.Errorf("%s is %q, %s is %q", a, ha.Get("Content-Type"), b, hb.Get("Content-Type"))
			}
			if !bytes.Equal(ba, bb) {
				t.Errorf("%s:\n%s\n%s:\n%s", a, ba, b, bb)
			}
			return nil
		})
	}
	same("/ui/restrictions.csv", "/v1/restrictions?format=csv")
	same("/ui/restrictions.json", "/v1/restrictions")
	tests := []struct {
		query string
		rows  int
	}{
		{"?status=active&tld=aaa.", 1},
		{"?tld=AAA", 1},
		{"?q=TEST+COURT", 1},
		{"?status=lifted", 0},
		{"?tld=com.", 0},
	}
	for _, tt := range tests {
		_, _, b := get(t, d.base+"/ui/restrictions.csv"+tt.query)
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("CSV%s: %v", tt.query, err)
		}
		if got := len(recs) - 1; got != tt.rows {
			t.Errorf("CSV%s: %d rows, want %d", tt.query, got, tt.rows)
		}
		var j struct {
			Restrictions []json.RawMessage `json:"restrictions"`
		}
		_, _, b = get(t, d.base+"/ui/restrictions.json"+tt.query)
		if err := json.Unmarshal(b, &j); err != nil || len(j.Restrictions) != tt.rows {
			t.Errorf("JSON%s: %d rows (%v), want %d", tt.query, len(j.Restrictions), err, tt.rows)
		}
	}
	// The TLD's page lists it, and the feed announces the decision.
	_, _, tp := get(t, d.base+"/ui/tlds/aaa.")
	if err := contains(tp, "Restricted: not in the served zone"); err != nil {
		t.Error(err)
	}
	var feed struct {
		Entries []struct {
			Title string `xml:"title"`
			Link  struct {
				Href string `xml:"href,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	code, h, fb := get(t, d.base+"/ui/feed.atom")
	if code != 200 || h.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("feed: %d %q", code, h.Get("Content-Type"))
	}
	if err := xml.Unmarshal(fb, &feed); err != nil {
		t.Fatalf("feed: %v", err)
	}
	want := fmt.Sprintf("Proposal %d (restriction.impose) passed", o.Proposal)
	found, zones := false, 0
	for _, e := range feed.Entries {
		if strings.HasPrefix(e.Title, want) && strings.HasSuffix(e.Link.Href, fmt.Sprintf("/ui/proposals/%d", o.Proposal)) {
			found = true
		}
		if strings.HasPrefix(e.Title, "Zone version serial") {
			zones++
		}
	}
	if !found || zones == 0 {
		t.Errorf("feed: %q found %v, %d zone versions, in %d entries", want, found, zones, len(feed.Entries))
	}
}
