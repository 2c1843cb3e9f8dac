package verify_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/verify"
)

// bodyTransport answers every request with 200 and body.
type bodyTransport []byte

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Body: io.NopCloser(bytes.NewReader(b)), Request: r, Header: http.Header{}}, nil
}

// FuzzFetchProof feeds a node's proof answer, untrusted bytes, to the
// parser: it never panics, and what it accepts is exactly one 32-byte hash
// per line, each line the hash's canonical standard base64 (a regression
// seed keeps the non-canonical padding bits the fuzzer once slipped past).
func FuzzFetchProof(f *testing.F) {
	h1 := base64.StdEncoding.EncodeToString(make([]byte, tlog.HashSize))
	h2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, tlog.HashSize))
	for _, s := range []string{
		"", "\n", h1 + "\n", h1 + "\n" + h2 + "\n", h1, h1 + "\n\n" + h2, "not base64\n",
		h1[:40] + "\n", h1 + "AAAA\n", h1 + "\r\n", " " + h1 + "\n", h1 + "\n" + h2 + "\nx", h1 + "\r\n" + h2 + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cl := client.New("http://node.invalid")
		cl.HTTP.Transport = bodyTransport(body)
		proof, err := verify.FetchProof(cl, "/proof/inclusion?index=0&size=1")
		if err != nil {
			return
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		if len(proof) != len(lines) {
			t.Fatalf("%q gave %d hashes from %d lines", body, len(proof), len(lines))
		}
		for i, h := range proof {
			if got := base64.StdEncoding.EncodeToString(h[:]); got != strings.ReplaceAll(lines[i], "\r", "") {
				t.Errorf("%q: hash %d re-encodes to %q, the line was %q", body, i, got, lines[i])
			}
		}
	})
}
