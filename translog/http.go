package translog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Cache-Control values.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheCheckpoint = "public, max-age=2"
	cacheMutable    = "no-cache"
)

// Handler returns the log's HTTP handler. Paths are relative to where it
// is mounted (use http.StripPrefix):
//
//	GET /checkpoint                        latest signed checkpoint (text/plain; charset=utf-8)
//	GET /tile/<L>/<N>[.p/<W>]              hash tile (C2SP tlog-tiles, height 8)
//	GET /tile/entries/<N>[.p/<W>]          entry bundle
//	GET /entry/<I>                         the raw bytes of entry I
//	GET /proof/inclusion?index=I&size=S    inclusion proof of entry I in the tree of size S
//	GET /proof/consistency?old=M&new=N     consistency proof from size M to size N
//
// A proof's body is its hashes in order, each the standard base64 of 32
// bytes followed by a newline (text/plain; an empty body for an empty
// proof); it verifies with tlog.CheckRecord / tlog.CheckTree or any
// RFC 6962 verifier against the roots of the two sizes. Tiles, bundles,
// entries and proofs are served only within the committed tree (never a
// partial tile at a full tile's path) with long-lived cache headers, since
// their bytes never change; /checkpoint may be cached for 2 seconds, and is
// 404 until something was signed. Numbers are decimal without leading
// zeros. A malformed request gets 400, something outside the committed
// tree 404, each with a plain text message quoting the path.
func (l *Log) Handler() http.Handler {
	return http.HandlerFunc(l.serveHTTP)
}

func (l *Log) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %q", r.Method, r.URL.Path))
		return
	}
	path := r.URL.Path
	if r.URL.RawPath != "" {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("escaped characters in path %q", r.URL.RawPath))
		return
	}
	switch {
	case path == "/checkpoint":
		msg, err := l.Checkpoint()
		if err != nil {
			l.fail(w, path, err)
			return
		}
		serve(w, "text/plain; charset=utf-8", cacheCheckpoint, msg)
	case strings.HasPrefix(path, "/tile/"):
		t, err := ParseTilePath(path[1:])
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		data, err := l.ReadTile(t)
		if err != nil {
			l.fail(w, path, err)
			return
		}
		serve(w, "application/octet-stream", cacheImmutable, data)
	case strings.HasPrefix(path, "/entry/"):
		s := path[len("/entry/"):]
		i, ok := parseDecimal(s, 1<<63-1)
		if !ok {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("entry index %q in path %q is not a decimal number without leading zeros", s, path))
			return
		}
		e, err := l.Entry(i)
		if err != nil {
			l.fail(w, path, err)
			return
		}
		serve(w, "application/octet-stream", cacheImmutable, e)
	case path == "/proof/inclusion":
		q, err := queryInts(r, "index", "size")
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		p, err := l.InclusionProof(q[0], q[1])
		if err != nil {
			l.fail(w, r.URL.String(), err)
			return
		}
		serve(w, "text/plain; charset=utf-8", cacheImmutable, FormatProof(p))
	case path == "/proof/consistency":
		q, err := queryInts(r, "old", "new")
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		p, err := l.ConsistencyProof(q[0], q[1])
		if err != nil {
			l.fail(w, r.URL.String(), err)
			return
		}
		serve(w, "text/plain; charset=utf-8", cacheImmutable, FormatProof(p))
	default:
		httpError(w, http.StatusNotFound, fmt.Sprintf("no such resource %q", path))
	}
}

// FormatProof encodes a proof as the proof endpoints serve it: each hash
// in standard base64, followed by a newline.
func FormatProof(p []tlog.Hash) []byte {
	var out []byte
	for _, h := range p {
		out = base64.StdEncoding.AppendEncode(out, h[:])
		out = append(out, '\n')
	}
	return out
}

// ParseProof decodes an untrusted proof in the format of [FormatProof],
// strictly: every line the canonical base64 of 32 bytes, at most 128 lines.
func ParseProof(data []byte) ([]tlog.Hash, error) {
	s := string(data)
	var p []tlog.Hash
	for s != "" {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return nil, fmt.Errorf("translog: proof line %d (%q) does not end with a newline", len(p)+1, line)
		}
		if len(p) == 128 {
			return nil, fmt.Errorf("translog: proof of more than 128 hashes")
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(line)
		if err != nil || len(raw) != tlog.HashSize || base64.StdEncoding.EncodeToString(raw) != line {
			return nil, fmt.Errorf("translog: proof line %d (%q) is not the base64 of %d bytes", len(p)+1, line, tlog.HashSize)
		}
		p = append(p, tlog.Hash(raw))
		s = rest
	}
	return p, nil
}

// queryInts reads the named query parameters, each exactly once, as
// decimal numbers without leading zeros.
func queryInts(r *http.Request, names ...string) ([]int64, error) {
	q := r.URL.Query()
	if len(q) != len(names) {
		return nil, fmt.Errorf("query %q: want exactly the parameters %q", r.URL.RawQuery, names)
	}
	out := make([]int64, len(names))
	for i, name := range names {
		v := q[name]
		if len(v) != 1 {
			return nil, fmt.Errorf("query %q: want the parameter %q exactly once", r.URL.RawQuery, name)
		}
		n, ok := parseDecimal(v[0], 1<<63-1)
		if !ok {
			return nil, fmt.Errorf("query %q: %s=%q is not a decimal number without leading zeros", r.URL.RawQuery, name, v[0])
		}
		out[i] = n
	}
	return out, nil
}

func (l *Log) fail(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		httpError(w, http.StatusNotFound, fmt.Sprintf("%q: %v", what, err))
	case errors.Is(err, ErrInvalidRange):
		httpError(w, http.StatusBadRequest, fmt.Sprintf("%q: %v", what, err))
	default:
		httpError(w, http.StatusInternalServerError, fmt.Sprintf("%q: %v", what, err))
	}
}

func serve(w http.ResponseWriter, contentType, cache string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cache)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", cacheMutable)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
