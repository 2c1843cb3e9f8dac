package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzRoutes sends arbitrary paths and query strings with each method and
// checks the answer: no panic, no 5xx but 503 and 504, and JSON unless the
// route's answer is documented as something else.
func FuzzRoutes(f *testing.F) {
	for _, seed := range []string{
		"/", "/v1/status", "/v1/members", "/v1/members/alpha", "/v1/members/%00",
		"/v1/tlds?after=zz&limit=3&q=a", "/v1/tlds?limit=-1", "/v1/tlds?after=%ff", "/v1/tlds/aa.", "/v1/tlds/..", "/v1/tlds/a%2Fb",
		"/v1/hosts/ns1.aa.", "/v1/hosts/.", "/v1/proposals?status=open&after=1&limit=1000", "/v1/proposals/18446744073709551616",
		"/v1/proposals/1", "/v1/restrictions?format=csv", "/v1/restrictions/1?format=csv&format=json", "/v1/signers/op1",
		"/v1/log/entries/0", "/v1/log/entries/9223372036854775807", "/v1/log/entries/00001", "/v1/zone", "/v1/zone/versions",
		"/checkpoint", "/tile/0/000", "/proof/inclusion?index=0&size=1", "/entry/x", "/healthz", "/metrics",
		"/v1//x", "//", "/v1/tlds?limit=1&limit=2", "/v1/actions",
	} {
		for m := range byte(4) {
			f.Add(m, seed)
		}
	}
	fed := newFed(f, 30, Options{Metrics: prometheus.NewRegistry()})
	fed.populate()
	methods := []string{"GET", "HEAD", "POST", "DELETE"}
	f.Fuzz(func(t *testing.T, m byte, target string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		method := methods[int(m)%len(methods)]
		r := &http.Request{Method: method, URL: u, RequestURI: target, Header: http.Header{}, Body: http.NoBody, Host: "example.org", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		if method == "POST" {
			r.Header.Set("Content-Type", "text/plain")
			r.Body = http.NoBody // an empty action: refused before any block
		}
		w := httptest.NewRecorder()
		fed.h.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != 503 && w.Code != 504 {
			t.Fatalf("%s %q: status %d: %s", method, target, w.Code, w.Body)
		}
		ct := w.Header().Get("Content-Type")
		if ct == "application/json" {
			if method != "HEAD" && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %q: invalid JSON %q", method, target, w.Body)
			}
			return
		}
		p := u.Path
		switch {
		case isLogPath(p): // the log's own handler answers in text
		case w.Code == 200 && (p == "/healthz" || p == "/metrics" || p == "/v1/zone" || u.Query().Get("format") == "csv"):
		default:
			t.Fatalf("%s %q: status %d with Content-Type %q: %q", method, target, w.Code, ct, w.Body)
		}
	})
}
