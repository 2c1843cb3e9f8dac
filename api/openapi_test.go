package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/api"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/constitution"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/setup"
)

// schemaCheck validates v (decoded JSON) against an OpenAPI schema, for
// the subset the description uses: $ref to components, type (with
// nullable), enum, required, properties and items. It is stricter than
// OpenAPI: an object may hold no property its schema does not list, so
// every field the API sends is documented.
func schemaCheck(doc map[string]any, schema map[string]any, v any, at string) error {
	if r, ok := schema["$ref"].(string); ok {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		s, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: unresolved $ref %q", at, r)
		}
		return schemaCheck(doc, s, v, at)
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null, want %v", at, schema["type"])
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
		}
	}
	switch typ, _ := schema["type"].(string); typ {
	case "":
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, v)
		}
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := o[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if props == nil {
					continue // a free-form object
				}
				return fmt.Errorf("%s: property %q is not documented", at, k)
			}
			if err := schemaCheck(doc, ps, o[k], at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, v)
		}
		items, _ := schema["items"].(map[string]any)
		for i, x := range a {
			if err := schemaCheck(doc, items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want a string", at, v)
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, s)
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: %T, want an integer", at, v)
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("%s: %v is not an integer", at, n)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: %T, want a number", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want a boolean", at, v)
		}
	default:
		return fmt.Errorf("%s: the checker does not know type %q", at, typ)
	}
	return nil
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func TestSchemaCheck(t *testing.T) {
	doc := map[string]any{"components": map[string]any{"schemas": map[string]any{
		"T": map[string]any{"type": "object", "required": []any{"a"}, "properties": map[string]any{
			"a": map[string]any{"type": "integer"},
			"b": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []any{"x", "y"}}},
			"c": map[string]any{"type": "array", "nullable": true, "items": map[string]any{"type": "boolean"}},
		}}}}}
	ref := map[string]any{"$ref": "#/components/schemas/T"}
	tests := []struct {
		json string
		ok   bool
	}{
		{`{"a":1}`, true},
		{`{"a":1,"b":["x","y"],"c":null}`, true},
		{`{"a":1,"c":[true]}`, true},
		{`{}`, false},
		{`{"a":1.5}`, false},
		{`{"a":"1"}`, false},
		{`{"a":1,"b":["z"]}`, false},
		{`{"a":1,"b":"x"}`, false},
		{`{"a":1,"d":2}`, false},
		{`{"a":1,"c":[1]}`, false},
		{`[]`, false},
	}
	for _, tt := range tests {
		v, err := decodeJSON([]byte(tt.json))
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaCheck(doc, ref, v, "$"); (err == nil) != tt.ok {
			t.Errorf("%s: error %v, want ok=%v", tt.json, err, tt.ok)
		}
	}
}

// TestOpenAPI walks every path of the OpenAPI description against a
// running 1-member dev federation (with a passed proposal and a
// restriction, so that lists are not empty) and checks every answer's
// status, content type and, for JSON, its shape against the documented
// schema. The description served at /openapi.json is the embedded one.
func TestOpenAPI(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	dir := t.TempDir()
	if _, err := localfed.CreateDev(dir, 1); err != nil {
		t.Fatal(err)
	}
	f, err := localfed.Start(localfed.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	base := f.HTTP("alpha")
	cl := client.New(base)
	key, err := setup.LoadKey(setup.MemberKeyPath(dir, "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	submit := func(kind string, body any) *client.Outcome {
		msg, err := cl.Build(key.Signer, kind, body, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		o, err := cl.Submit(msg)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		return o
	}
	op, _ := setup.NewKey("op-openapi")
	// Proposal 1 (passes with alpha's yes) and restriction 2 (the
	// examples of the description's path parameters).
	submit(action.KindPropose, &action.Propose{Proposal: constitution.TLDCreate, Rationale: "openapi walk", TLD: "openapi.", Operator: op.Verifier,
		Delegation: &action.Delegate{NS: []string{"ns1.openapi.", "a.gtld-servers.net."}, Glue: []action.Glue{{Host: "ns1.openapi.", Addrs: []string{"203.0.113.7"}}}}})
	submit(action.KindVote, &action.Vote{Proposal: 1, Vote: "yes", Rationale: "for the walk"})
	ev := sha256.Sum256([]byte("evidence"))
	submit(action.KindPropose, &action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "openapi walk", TLD: "openapi.",
		LegalBasis: "a test", Evidence: hex.EncodeToString(ev[:]), Duration: "24h0m0s"})
	submit(action.KindVote, &action.Vote{Proposal: 2, Vote: "yes", Rationale: "for the walk"})

	_, served := fetch(t, "GET", base+"/openapi.json", nil)
	if !bytes.Equal(served, api.OpenAPI) {
		t.Errorf("/openapi.json is not the embedded description")
	}
	var size int64
	if _, b := fetch(t, "GET", base+"/v1/status", nil); true {
		var st struct {
			LogSize int64 `json:"log_size"`
		}
		json.Unmarshal(b, &st)
		size = st.LogSize
	}
	paths := doc["paths"].(map[string]any)
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	walked := 0
	for _, p := range names {
		for method, op := range paths[p].(map[string]any) {
			op := op.(map[string]any)
			reqs := requests(t, p, op, size)
			for _, u := range reqs {
				var body []byte
				if method == "post" {
					body = []byte("not a signed action\n")
				}
				t.Run(strings.ToUpper(method)+" "+u, func(t *testing.T) {
					resp, b := fetch(t, strings.ToUpper(method), base+u, body)
					checkAnswer(t, doc, op, resp, b)
				})
				walked++
			}
		}
	}
	if walked < len(paths) {
		t.Errorf("walked %d requests for %d paths", walked, len(paths))
	}
}

// requests makes the URLs to try for one documented operation: its path
// with the parameters' examples, and once more per value of each query
// parameter with an enum.
func requests(t *testing.T, p string, op map[string]any, size int64) []string {
	t.Helper()
	path := p
	query := url.Values{}
	var enums []url.Values
	params, _ := op["parameters"].([]any)
	for _, x := range params {
		prm := x.(map[string]any)
		name, in := prm["name"].(string), prm["in"].(string)
		ex := fmt.Sprint(prm["example"])
		if strings.HasPrefix(p, "/tile/") && name == "N" {
			// The rightmost partial tile of the current tree.
			ex = fmt.Sprintf("000.p/%d", size%256)
		}
		switch in {
		case "path":
			if prm["example"] == nil {
				t.Fatalf("%s: path parameter %q without an example", p, name)
			}
			path = strings.Replace(path, "{"+name+"}", ex, 1)
		case "query":
			if prm["required"] == true {
				query.Set(name, ex)
			}
			if s, ok := prm["schema"].(map[string]any); ok {
				if enum, ok := s["enum"].([]any); ok {
					for _, e := range enum {
						enums = append(enums, url.Values{name: {fmt.Sprint(e)}})
					}
				}
			}
		}
	}
	out := []string{path}
	if len(query) > 0 {
		out[0] += "?" + query.Encode()
	}
	for _, e := range enums {
		out = append(out, path+"?"+e.Encode())
	}
	return out
}

func fetch(t *testing.T, method, u string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// checkAnswer checks an answer against the operation's documented
// responses: a documented status, a documented media type, and JSON of
// the documented schema.
func checkAnswer(t *testing.T, doc, op map[string]any, resp *http.Response, b []byte) {
	t.Helper()
	responses := op["responses"].(map[string]any)
	r, ok := responses[fmt.Sprint(resp.StatusCode)].(map[string]any)
	if !ok {
		t.Fatalf("status %d is not documented (%v): %s", resp.StatusCode, keys(responses), b)
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("status %d: %s", resp.StatusCode, b)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	content := r["content"].(map[string]any)
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Fatalf("media type %q is not documented (%v)", mt, keys(content))
	}
	if mt != "application/json" {
		return
	}
	v, err := decodeJSON(b)
	if err != nil {
		t.Fatalf("the answer is not JSON: %v", err)
	}
	if err := schemaCheck(doc, media["schema"].(map[string]any), v, "$"); err != nil {
		t.Errorf("%v\n%s", err, b)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
