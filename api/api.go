package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/registry"
)

// Backend is what a node gives the API. All reads are of committed data.
type Backend interface {
	// View runs f with the state under the node's read lock; f must not
	// keep s. s is nil while the node has no state yet. f calls Log and
	// the log's methods (so that the log tree is read with the state), and
	// no other Backend method (a second read lock could deadlock against a
	// waiting writer).
	View(f func(s *registry.State))
	// Submit runs CheckTx on tx, then waits until the block with it is
	// committed, or ctx is done. A CheckTx refusal is an error wrapping
	// ErrRejected whose text is the reason (and, if it also wraps a
	// *registry.Rejection, whose code is that code).
	Submit(ctx context.Context, tx []byte) (Outcome, error)
	// Zone returns the committed zone (nil before the first) and its height.
	Zone() (Zone, int64)
	// Versions returns the recent zone versions, oldest first.
	Versions() []Zone
	// Log returns the transparency log (nil while there is none).
	Log() Log
	// Height returns the committed height and app hash.
	Height() (int64, []byte)
	Constitution() *constitution.Constitution
}

// Outcome is what became of a submitted action in its block.
type Outcome struct {
	registry.Result
	Height int64 `json:"height"`
}

// ErrRejected is wrapped by Backend.Submit's error when CheckTx refuses an
// action.
var ErrRejected = errors.New("rejected")

// Log is the part of the transparency log (*translog.Log) the API reads.
type Log interface {
	// Size and Root give the committed tree; the tree never shrinks.
	Size() int64
	Root() (tlog.Hash, error)
	// Entry returns entry i, 0 ≤ i < Size().
	Entry(i int64) ([]byte, error)
	// InclusionProof proves entry index in the tree of the given size,
	// 0 ≤ index < size ≤ Size().
	InclusionProof(index, size int64) ([]tlog.Hash, error)
	// Handler serves /checkpoint, /tile/…, /proof/… and /entry/… at the root.
	Handler() http.Handler
}

// Zone is the part of a zone version (*zone.Zone) the API reads.
type Zone interface {
	Origin() string
	Serial() uint32
	// Digest is the zone's ZONEMD digest.
	Digest() []byte
	// WriteTo writes the zone's master file.
	WriteTo(w io.Writer) (int64, error)
}

// Options tune the API; the zero value is usable.
type Options struct {
	// MaxBody bounds every request body (default 70000 bytes; an action is
	// refused above action.MaxSize whatever MaxBody is).
	MaxBody int64
	// Metrics, if set, receives the API's metrics (see NewMetrics) and is
	// served at /metrics.
	Metrics *prometheus.Registry
	// Logger logs backend failures and panics (default: discard).
	Logger *slog.Logger
	// SubmitTimeout bounds the wait for an action's block (default 30 s).
	SubmitTimeout time.Duration
	// Limits bounds submissions per client address and per signer.
	Limits Limits
	// TLDs, when set, is the TLD index to keep (shared with the portal);
	// nil means one of the API's own.
	TLDs *TLDIndex
}

// DefaultMaxBody is Options.MaxBody's default.
const DefaultMaxBody = 70000

// DefaultSubmitTimeout is Options.SubmitTimeout's default.
const DefaultSubmitTimeout = 30 * time.Second

// Page sizes of the list routes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

type server struct {
	b       Backend
	o       Options
	log     *slog.Logger
	metrics *Metrics
	routes  []route

	byAddress, bySigner *limiter
	tldIdx              *tldIndex
}

// route is one path pattern: segments, with "{}" matching one non-empty segment.
type route struct {
	method  string
	pattern string
	segs    []string
	h       func(w http.ResponseWriter, r *http.Request, args []string)
}

// New returns the API's handler for b.
func New(b Backend, o Options) http.Handler {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.SubmitTimeout <= 0 {
		o.SubmitTimeout = DefaultSubmitTimeout
	}
	s := &server{b: b, o: o, log: o.Logger,
		byAddress: newLimiter(o.Limits.PerAddress, o.Limits.Burst), bySigner: newLimiter(o.Limits.PerSigner, o.Limits.Burst)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.TLDs == nil {
		o.TLDs = new(TLDIndex)
	}
	s.tldIdx = &o.TLDs.x
	if o.Metrics != nil {
		s.metrics = NewMetrics(o.Metrics)
	}
	s.handle("POST", "/v1/actions", s.submit)
	s.handle("GET", "/v1/status", s.status)
	s.handle("GET", "/v1/members", s.members)
	s.handle("GET", "/v1/members/{}", s.member)
	s.handle("GET", "/v1/tlds", s.tlds)
	s.handle("GET", "/v1/tlds/{}", s.tld)
	s.handle("GET", "/v1/hosts/{}", s.host)
	s.handle("GET", "/v1/proposals", s.proposals)
	s.handle("GET", "/v1/proposals/{}", s.proposal)
	s.handle("GET", "/v1/restrictions", s.restrictions)
	s.handle("GET", "/v1/restrictions/{}", s.restriction)
	s.handle("GET", "/v1/signers/{}", s.signer)
	s.handle("GET", "/v1/log/entries/{}", s.entry)
	s.handle("GET", "/v1/zone", s.zone)
	s.handle("GET", "/v1/zone/versions", s.zoneVersions)
	s.handle("GET", "/v1/keys", s.keys)
	s.handle("GET", "/healthz", s.healthz)
	s.handle("GET", "/metrics", s.serveMetrics)
	s.handle("GET", "/openapi.json", s.openapi)
	return s
}

func (s *server) handle(method, pattern string, h func(http.ResponseWriter, *http.Request, []string)) {
	s.routes = append(s.routes, route{method, pattern, strings.Split(pattern, "/"), h})
}

// logPrefixes are the paths the log's own handler serves, at the root.
var logPrefixes = []string{"/tile/", "/proof/", "/entry/"}

func isLogPath(p string) bool {
	if p == "/checkpoint" {
		return true
	}
	for _, pre := range logPrefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// logRoute names a log path for metrics.
func logRoute(p string) string {
	if p == "/checkpoint" {
		return p
	}
	for _, pre := range logPrefixes {
		if strings.HasPrefix(p, pre) {
			return pre
		}
	}
	return "unknown"
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	routeName := "unknown"
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("api: panic", "path", r.URL.Path, "panic", v)
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal error")
			}
		}
		if s.metrics != nil {
			s.metrics.observe(routeName, rec.status(), time.Since(start))
		}
	}()
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBody)
	p := r.URL.Path
	if isLogPath(p) {
		routeName = logRoute(p)
		l := s.b.Log()
		if isNil(l) {
			writeError(rec, http.StatusServiceUnavailable, "the log is not open yet")
			return
		}
		l.Handler().ServeHTTP(rec, r)
		return
	}
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeError(rec, http.StatusNotFound, fmt.Sprintf("no such resource %q", trim(p)))
		return
	}
	var allow []string
	for _, rt := range s.routes {
		args, ok := rt.match(segs)
		if !ok {
			continue
		}
		if rt.method == r.Method || rt.method == "GET" && r.Method == "HEAD" {
			routeName = rt.pattern
			rt.h(rec, r, args)
			return
		}
		allow = append(allow, rt.method)
		if rt.method == "GET" {
			allow = append(allow, "HEAD")
		}
	}
	if len(allow) > 0 {
		routeName = "method"
		rec.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(rec, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %q (allowed: %s)", trim(r.Method), trim(p), strings.Join(allow, ", ")))
		return
	}
	writeError(rec, http.StatusNotFound, fmt.Sprintf("no such resource %q", trim(p)))
}

// splitPath splits an escaped path into unescaped segments.
func splitPath(escaped string) ([]string, bool) {
	segs := strings.Split(escaped, "/")
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

func (rt route) match(segs []string) ([]string, bool) {
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	var args []string
	for i, p := range rt.segs {
		switch {
		case p == "{}":
			if segs[i] == "" {
				return nil, false
			}
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

// recorder notes the status a handler wrote.
type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) status() int {
	if !r.wrote {
		return http.StatusOK
	}
	return r.code
}

// isNil reports whether an interface holds nothing or a nil pointer (a
// backend that returns a nil *translog.Log as a Log).
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

// Stamp says which state an answer reflects.
type Stamp struct {
	// Height is the block the state reflects.
	Height int64 `json:"height"`
	// Checkpoint is the log tree read together with the state.
	Checkpoint *Tree `json:"checkpoint,omitempty"`
}

// Tree is a log tree: its size and its root hash (standard base64).
type Tree struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
}

// httpError is an answer other than 200.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &httpError{code, fmt.Sprintf(format, args...)}
}

var errNoState = fail(http.StatusServiceUnavailable, "the node has no state yet")

// LogTree reads a consistent (size, root) of l: the size before and after
// reading the root must agree (the tree only grows, so equal sizes mean the
// root is that size's).
func LogTree(l Log) (int64, tlog.Hash, error) {
	for range 8 {
		n := l.Size()
		h, err := l.Root()
		if err != nil {
			return 0, tlog.Hash{}, fmt.Errorf("reading the log root: %v", err)
		}
		if l.Size() == n {
			return n, h, nil
		}
	}
	return 0, tlog.Hash{}, errors.New("the log grew while its root was read, 8 times")
}

// read runs f under the backend's read lock with the state and the stamp
// of what it reflects, and writes f's answer as JSON. f's value is
// marshaled under the lock, so it may share memory with the state.
func (s *server) read(w http.ResponseWriter, f func(st *registry.State, stamp Stamp) (any, error)) {
	var body []byte
	var stamp Stamp
	var err error
	s.b.View(func(st *registry.State) {
		if st == nil {
			err = errNoState
			return
		}
		stamp, err = s.stamp(st)
		if err != nil {
			return
		}
		var v any
		if v, err = f(st, stamp); err != nil {
			return
		}
		body, err = marshal(v)
	})
	if err != nil {
		s.writeErr(w, err)
		return
	}
	setStampHeaders(w, stamp)
	writeBody(w, http.StatusOK, "application/json", body)
}

func (s *server) stamp(st *registry.State) (Stamp, error) {
	stamp := Stamp{Height: st.Height()}
	if l := s.b.Log(); !isNil(l) {
		n, h, err := LogTree(l)
		if err != nil {
			return stamp, err
		}
		stamp.Checkpoint = &Tree{Size: n, Root: base64.StdEncoding.EncodeToString(h[:])}
	}
	return stamp, nil
}

func setStampHeaders(w http.ResponseWriter, st Stamp) {
	h := w.Header()
	h.Set("Commonroot-Height", strconv.FormatInt(st.Height, 10))
	if st.Checkpoint != nil {
		h.Set("Commonroot-Log-Size", strconv.FormatInt(st.Checkpoint.Size, 10))
		h.Set("Commonroot-Log-Root", st.Checkpoint.Root)
	}
}

// writeErr writes err: an *httpError as itself, anything else as a 500
// (logged).
func (s *server) writeErr(w http.ResponseWriter, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeError(w, he.code, he.msg)
		return
	}
	s.log.Error("api: backend failure", "err", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := marshal(struct {
		Error string `json:"error"`
	}{msg})
	writeBody(w, code, "application/json", body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeBody(w, code, "application/json", body)
}

func writeBody(w http.ResponseWriter, code int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
}

// marshal encodes v as JSON without HTML escaping, newline-terminated.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the answer: %v", err)
	}
	return buf.Bytes(), nil
}

// trim shortens what an error quotes.
func trim(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
