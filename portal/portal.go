// Package portal is the public transparency portal every commonroot node
// serves under /ui/: server-rendered HTML pages (html/template, with the
// CSS and one small script embedded in the binary; nothing loads from
// another host) that show everything the federation decided and let a
// reader check it: an overview, the TLD directory and a page per TLD with
// the history of its changes, proposals with their votes, the
// restrictions report (CSV and JSON export), the log browser with
// inclusion proofs and an in-browser RFC 6962 verification, zone versions
// and their diffs, members and their cosigning record, and an Atom feed
// of decisions and zone versions.
//
// The portal reads the same [api.Backend] as the JSON API, under the same
// read lock, so a page and the API agree. Invariants: every page names the
// block height and the log tree (size, root) it reflects, read together
// with the state, and carries them in the Commonroot-Height,
// Commonroot-Log-Size and Commonroot-Log-Root headers as the API does;
// every page works without JavaScript, except the in-browser
// verification, whose place takes a command to run. The portal keeps an
// index of the log in memory that it extends as the log grows (each entry
// is read once); no request rescans the log.
package portal

import (
	"bytes"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the portal is served.
const Prefix = "/ui/"

// Options tune the portal; the zero value is usable.
type Options struct {
	// Logger logs backend failures (default: discard).
	Logger *slog.Logger
	// NodeURL is the base URL shown in copy-pasteable commands (default:
	// taken from each request's Host).
	NodeURL string
	// DNS is the node's DNS address shown in the verify command (default
	// "127.0.0.1:53").
	DNS string
	// TLDs, when set, is the TLD index the API keeps too; nil means one
	// of the portal's own.
	TLDs *api.TLDIndex
}

// Page sizes.
const (
	dirPage     = 100
	historyPage = 50
	logPage     = 50
)

type server struct {
	b      api.Backend
	o      Options
	log    *slog.Logger
	idx    *index
	tldIdx *api.TLDIndex // the TLD names and owners, as the API keeps them
	pages  map[string]*template.Template
	mux    *http.ServeMux
}

// New returns the portal's handler for b. It serves the paths under
// [Prefix] and answers 404 to anything else.
func New(b api.Backend, o Options) http.Handler {
	if o.DNS == "" {
		o.DNS = "127.0.0.1:53"
	}
	s := &server{b: b, o: o, log: o.Logger, idx: newIndex(), pages: map[string]*template.Template{}, tldIdx: o.TLDs}
	if s.tldIdx == nil {
		s.tldIdx = new(api.TLDIndex)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.parse()
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", staticHandler(static)))
	m.HandleFunc("GET /ui/{$}", s.overview)
	m.HandleFunc("GET /ui/tlds", s.tlds)
	m.HandleFunc("GET /ui/tlds/{name}", s.tld)
	m.HandleFunc("GET /ui/proposals", s.proposals)
	m.HandleFunc("GET /ui/proposals/{id}", s.proposal)
	m.HandleFunc("GET /ui/restrictions", s.restrictions)
	m.HandleFunc("GET /ui/restrictions.csv", s.restrictionsExport)
	m.HandleFunc("GET /ui/restrictions.json", s.restrictionsExport)
	m.HandleFunc("GET /ui/log", s.logList)
	m.HandleFunc("GET /ui/log/{index}", s.logEntry)
	m.HandleFunc("GET /ui/zone", s.zoneVersions)
	m.HandleFunc("GET /ui/zone/diff", s.zoneDiff)
	m.HandleFunc("GET /ui/members", s.members)
	m.HandleFunc("GET /ui/members/{name}", s.member)
	m.HandleFunc("GET /ui/feed.atom", s.feed)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("There is no page %q.", trim(r.URL.Path)))
	})
	s.mux = m
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("portal: panic", "path", r.URL.Path, "panic", v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func staticHandler(root fs.FS) http.Handler {
	fsrv := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fsrv.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16] + "…"
		}
		return s
	},
	"ts":   fmtTime,
	"esc":  url.PathEscape,
	"qesc": url.QueryEscape,
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"int":  func(i int64) int { return int(i) },
	"frac": func(f constitution.Fraction) string {
		return strconv.FormatFloat(float64(f)*100/constitution.PPM, 'f', -1, 64) + "%"
	},
	"pct": func(a, b int) int {
		if b == 0 {
			return 0
		}
		return a * 100 / b
	},
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// parse parses each page's template together with the layout. A template
// that does not parse is a programmer error: it panics.
func (s *server) parse() {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	entries, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, p := range entries {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		s.pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, p))
	}
}

// stamp says which state a page reflects.
type stamp struct {
	Height int64
	Time   time.Time
	// Size and Root are the log tree read with the state.
	Size int64
	Root string
}

// page is what the layout renders.
type page struct {
	Title  string
	Nav    string
	Origin string
	Apex   string
	Stamp  stamp
	Data   any
}

var errNoState = &httpError{http.StatusServiceUnavailable, "The node has no committed state yet; try again in a moment."}

type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// isNil reports whether an interface holds nothing or a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func:
		return rv.IsNil()
	}
	return false
}

// view runs f under the backend's read lock with the state, the stamp of
// what it reflects and the index brought up to exactly that log size
// (f must copy what it keeps: the page is rendered after the lock is
// released). The index is first brought close outside the lock, so that
// the lock is held only for the last few entries.
func (s *server) view(f func(st *registry.State, x *index, p *page) error) (*page, error) {
	l := s.b.Log()
	if !isNil(l) {
		s.idx.mu.Lock()
		err := s.idx.catchUp(l, l.Size())
		s.idx.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	p := &page{}
	var err error
	s.b.View(func(st *registry.State) {
		if st == nil {
			err = errNoState
			return
		}
		c := st.Constitution()
		p.Origin, p.Apex = c.Origin, c.Apex
		p.Stamp = stamp{Height: st.Height(), Time: st.Time()}
		s.idx.mu.Lock()
		defer s.idx.mu.Unlock()
		if !isNil(l) {
			n, h, e := api.LogTree(l)
			if e != nil {
				err = e
				return
			}
			p.Stamp.Size, p.Stamp.Root = n, base64.StdEncoding.EncodeToString(h[:])
			if err = s.idx.catchUp(l, n); err != nil {
				return
			}
		}
		s.idx.names, s.idx.owned = s.tldIdx.Names(st), s.tldIdx.Owned(st)
		err = f(st, s.idx, p)
	})
	return p, err
}

func setStampHeaders(w http.ResponseWriter, st stamp) {
	h := w.Header()
	h.Set("Commonroot-Height", strconv.FormatInt(st.Height, 10))
	if st.Root != "" {
		h.Set("Commonroot-Log-Size", strconv.FormatInt(st.Size, 10))
		h.Set("Commonroot-Log-Root", st.Root)
	}
}

// render writes page name, or the error err as an error page.
func (s *server) render(w http.ResponseWriter, r *http.Request, name string, p *page, err error) {
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			s.errorPage(w, r, he.code, he.msg)
			return
		}
		s.log.Error("portal: backend failure", "path", r.URL.Path, "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.write(w, http.StatusOK, name, p)
}

func (s *server) write(w http.ResponseWriter, code int, name string, p *page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("portal: rendering", "page", name, "err", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	setStampHeaders(w, p.Stamp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	p := &page{Title: http.StatusText(code), Data: msg}
	s.b.View(func(st *registry.State) {
		if st != nil {
			p.Origin, p.Apex = st.Constitution().Origin, st.Constitution().Apex
			p.Stamp = stamp{Height: st.Height(), Time: st.Time()}
		}
	})
	s.write(w, code, "error", p)
}

// trim shortens what a message quotes.
func trim(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// canonical returns a domain name as the registry keys it.
func canonical(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// keyName returns a verifier key's name ("name+hash+key"), or "".
func keyName(vkey string) string {
	name, _, _ := strings.Cut(vkey, "+")
	return name
}

// baseURL is the node's URL for commands a reader copies.
func (s *server) baseURL(r *http.Request) string {
	if s.o.NodeURL != "" {
		return strings.TrimSuffix(s.o.NodeURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
