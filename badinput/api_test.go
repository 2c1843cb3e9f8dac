package badinput

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/constitution"
)

// apiCase is one hostile request: what the client sends and the status and
// exact message ("error", or "reason" of a refused action) it gets back.
type apiCase struct {
	name string
	// method and target make a request without a body; body, when set,
	// makes a POST /v1/actions instead.
	method, target string
	body           func(t *testing.T) []byte
	contentType    string
	code           int
	msg            string
	// sub says msg is a stable exact substring of the message (which names
	// the field and quotes the input), not the whole of it.
	sub bool
}

var (
	label64 = strings.Repeat("a", 64)
	// name256 is 256 octets in presentation form without the final dot.
	name256 = strings.Repeat(strings.Repeat("b", 63)+".", 4)[:255] + "c."
)

// answerMessage is the message of an error answer or a refused action.
func answerMessage(t *testing.T, body []byte) string {
	t.Helper()
	var a struct {
		Error    *string `json:"error"`
		Accepted bool    `json:"accepted"`
		Reason   string  `json:"reason"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, body)
	}
	if a.Error != nil {
		return *a.Error
	}
	if a.Accepted {
		t.Fatalf("accepted: %s", body)
	}
	return a.Reason
}

func delegateDE(ns ...string) *action.Delegate {
	return &action.Delegate{TLD: "de.", NS: ns}
}

func TestAPI(t *testing.T) {
	// A first accepted action, so that there is something to replay.
	first := sign(t, fed.alpha, action.KindDelegate, delegateDE("a.gtld-servers.net.", "b.gtld-servers.net."))
	if code, body := post(t, first, "text/plain"); code != http.StatusOK {
		t.Fatalf("the first action: %d %s", code, body)
	}
	delegate := func(d *action.Delegate, edit ...func(a *action.Action)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return sign(t, fed.alpha, action.KindDelegate, d, edit...) }
	}
	propose := func(p *action.Propose) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return sign(t, fed.alpha, action.KindPropose, p) }
	}
	raw := func(b []byte) func(t *testing.T) []byte { return func(*testing.T) []byte { return b } }
	text := func(format string, args ...any) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return signText(t, fed.alpha, fmt.Sprintf(format, args...))
		}
	}
	head := func() string {
		return fmt.Sprintf(`{"origin":%q,"signer":"alpha","seq":%d,"expires":%q`, fed.origin, nextSeq("alpha"), blockTime().Add(time.Hour).Format(time.RFC3339))
	}
	manyNS := func(n int) []string {
		var ns []string
		for i := range n {
			ns = append(ns, fmt.Sprintf("ns%d.example.net.", i))
		}
		return ns
	}

	size := fed.n.App().Log().Size()
	cases := []apiCase{
		{name: "body over MaxBody", body: raw(make([]byte, 70001)), code: 413,
			msg: "the body is larger than 70000 bytes; an action is at most 65535"},
		{name: "body over an entry", body: raw(make([]byte, 65536)), code: 413,
			msg: "the action has 65536 bytes, more than the 65535 a log entry holds"},
		{name: "JSON content type", body: delegate(delegateDE("a.gtld-servers.net.")), contentType: "application/json", code: 415,
			msg: `content type "application/json": send the signed action as text/plain or application/octet-stream (curl --data-binary @action.txt -H 'Content-Type: text/plain')`},
		{name: "empty body", body: raw(nil), code: 422, msg: "malformed action: not a signed note: malformed note"},
		{name: "invalid UTF-8", body: raw([]byte("{\"origin\":\"\xff\"}\n\n— alpha AAAA\n")), code: 422, msg: "malformed action: not valid UTF-8"},
		{name: "deep nesting", body: func(t *testing.T) []byte {
			return text(head()+`,"kind":"vote","body":{"proposal":1,"vote":"yes","rationale":"x","x":%s1%s}}`+"\n", strings.Repeat("[", 10000), strings.Repeat("]", 10000))(t)
		}, code: 422, msg: "malformed action: JSON nested deeper than 32 levels"},
		{name: "duplicate key", body: func(t *testing.T) []byte {
			return text("%s", head()+`,"kind":"vote","kind":"vote","body":{"proposal":1,"vote":"yes"}}`+"\n")(t)
		}, code: 422, msg: `malformed action: duplicate key "kind"`},
		{name: "two lines of text", body: func(t *testing.T) []byte {
			return text("%s", head()+`,"kind":"vote",`+"\n"+`"body":{"proposal":1,"vote":"yes"}}`+"\n")(t)
		}, code: 422, msg: "malformed action: the text must be one line of JSON"},
		{name: "unknown kind", body: func(t *testing.T) []byte {
			return text("%s", head()+`,"kind":"delete-everything","body":{}}`+"\n")(t)
		}, code: 422, msg: `malformed action: unknown kind "delete-everything"`},
		{name: "bad signature", body: func(t *testing.T) []byte {
			b := sign(t, fed.alpha, action.KindDelegate, delegateDE("a.gtld-servers.net.", "c.gtld-servers.net."))
			i := bytes.LastIndexByte(b, ' ') + 1
			sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b[i:])))
			if err != nil {
				t.Fatal(err)
			}
			sig[10] ^= 1 // past the 4-octet key hash
			return append(b[:i], base64.StdEncoding.EncodeToString(sig)+"\n"...)
		}, code: 422, msg: `action: bad signature by "alpha"`},
		{name: "signature of another key", body: func(t *testing.T) []byte {
			b := sign(t, fed.alpha, action.KindDelegate, delegateDE("a.gtld-servers.net.", "c.gtld-servers.net."))
			i := bytes.LastIndexByte(b, ' ') + 1
			sig, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b[i:])))
			sig[0] ^= 1
			return append(b[:i], base64.StdEncoding.EncodeToString(sig)+"\n"...)
		}, code: 422, msg: `action: signed by a key of "alpha" that is not its registered key`},
		{name: "wrong origin", body: delegate(delegateDE("a.gtld-servers.net."), func(a *action.Action) { a.Origin = "evil.example/fed" }), code: 422,
			msg: `action is for the federation "evil.example/fed", this is "` + fed.origin + `"`},
		{name: "replayed action", body: raw(first), code: 422, msg: `sequence 1 of "alpha" was already used (next is 2)`},
		{name: "sequence far ahead", body: delegate(delegateDE("a.gtld-servers.net."), func(a *action.Action) { a.Seq += 16 }), code: 422,
			msg: `sequence 18 of "alpha" is too far ahead (next is 2, at most 16 may wait)`},
		{name: "expired", body: delegate(delegateDE("a.gtld-servers.net."), func(a *action.Action) {
			a.Expires = "2001-01-01T00:00:00Z"
		}), code: 422, msg: "action expired at 2001-01-01T00:00:00Z"},
		{name: "expiry years ahead", body: delegate(delegateDE("a.gtld-servers.net.", "c.gtld-servers.net."), func(a *action.Action) {
			a.Expires = "2099-01-01T00:00:00Z"
		}), code: 422, sub: true, msg: "action expires at 2099-01-01T00:00:00Z, more than 168h0m0s after the block time"},
		{name: "sequence one ahead (reordered)", body: delegate(delegateDE("a.gtld-servers.net.", "c.gtld-servers.net."), func(a *action.Action) { a.Seq++ }), code: 422,
			msg: `sequence 3 of "alpha" is out of order (next is 2)`},
		{name: "expiry not UTC", body: func(t *testing.T) []byte {
			return text(`{"origin":%q,"signer":"alpha","seq":%d,"expires":"2099-01-01T00:00:00+02:00","kind":"vote","body":{"proposal":1,"vote":"yes"}}`+"\n", fed.origin, nextSeq("alpha"))(t)
		}, code: 422, sub: true, msg: `expires "2099-01-01T00:00:00+02:00" is not an RFC 3339 UTC time like 2026-11-24T10:00:00Z`},
		{name: "label of 64 octets", body: delegate(delegateDE(label64+".example.net.", "a.gtld-servers.net.")), code: 422,
			msg: `delegation of "de.": NS host: name "` + label64 + `.example.net.": label "` + label64 + `" is 64 octets, more than 63`},
		{name: "name of 256 octets", body: delegate(delegateDE(name256, "a.gtld-servers.net.")), code: 422,
			msg: `delegation of "de.": NS host: name "` + name256[:77] + `..." is 256 octets long, more than 253 before the final dot`},
		{name: "NS is the TLD itself", body: delegate(delegateDE("de.", "a.gtld-servers.net.")), code: 422,
			msg: `delegation of "de.": NS host "de." lies under "de." and needs glue (its addresses) in this action`},
		{name: "glue of another TLD's host", body: delegate(&action.Delegate{TLD: "de.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."},
			Glue: []action.Glue{{Host: "a.gtld-servers.net.", Addrs: []string{"193.0.14.129"}}}}), code: 422,
			msg: `delegation of "de.": glue for "a.gtld-servers.net.": the host belongs to "net.", and only "net."'s owner or operator sets its addresses`},
		{name: "glue for a host no NS names", body: delegate(&action.Delegate{TLD: "de.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."},
			Glue: []action.Glue{{Host: "ns9.de.", Addrs: []string{"193.0.14.129"}}}}), code: 422,
			msg: `delegation of "de.": glue for "ns9.de.", which no delegation names as a name server`},
		{name: "private glue address", body: delegate(&action.Delegate{TLD: "de.", NS: []string{"ns1.de.", "a.gtld-servers.net."},
			Glue: []action.Glue{{Host: "ns1.de.", Addrs: []string{"10.0.0.1"}}}}), code: 422,
			msg: `delegation of "de.": glue for "ns1.de.": 10.0.0.1 is not a public unicast address`},
		{name: "14 NS records", body: delegate(delegateDE(manyNS(14)...)), code: 422,
			msg: `delegation of "de.": 14 NS hosts, the policy allows at most 13`},
		{name: "10,000 NS records", body: func(t *testing.T) []byte {
			b, _ := json.Marshal(delegateDE(manyNS(10000)...))
			return text(head()+`,"kind":"delegate","body":%s}`+"\n", b)(t)
		}, code: 413, msg: "the body is larger than 70000 bytes; an action is at most 65535"},
		{name: "operator changes another TLD", body: func(t *testing.T) []byte {
			return sign(t, fed.com, action.KindDelegate, delegateDE("a.gtld-servers.net.", "b.gtld-servers.net."))
		}, code: 422, msg: `"op-com" may not change "de.": only its owner "alpha" or its operator may`},
		{name: "Cyrillic look-alike TLD", body: propose(&action.Propose{Proposal: constitution.TLDCreate, Rationale: "r", TLD: "соm.", Operator: fed.comKey}), code: 422,
			msg: `tld.create proposal: name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
		{name: "invalid A-label", body: propose(&action.Propose{Proposal: constitution.TLDCreate, Rationale: "r", TLD: "xn--zz.", Operator: fed.comKey}), code: 422,
			msg: `tld.create proposal: name "xn--zz.": label "xn--zz" is not a valid A-label: idna: invalid label "zz"`},
		{name: "restriction of 100 years", body: propose(&action.Propose{Proposal: constitution.RestrictionImpose, Rationale: "r", TLD: "com.",
			LegalBasis: "b", Evidence: strings.Repeat("ab", 32), Duration: "876000h"}), code: 422,
			msg: `restriction.impose proposal: duration 876000h is outside (0, 2160h0m0s], the constitution's maximum`},
		{name: "negative duration", body: func(t *testing.T) []byte {
			return text("%s", head()+`,"kind":"propose","body":{"proposal":"restriction.impose","rationale":"r","tld":"com.","legal_basis":"b","evidence":"`+strings.Repeat("ab", 32)+`","duration":"-5h"}}`+"\n")(t)
		}, code: 422, sub: true,
			msg: `duration "-5h" is not a positive Go duration like 720h`},

		// Reads.
		{name: "TLD name of invalid UTF-8", method: "GET", target: "/v1/tlds/%ff.", code: 400, msg: `TLD name "\xff." is not valid UTF-8`},
		{name: "TLD name of 256 octets", method: "GET", target: "/v1/tlds/" + name256, code: 400,
			msg: `TLD name "` + name256[:77] + `..." is 256 octets long, more than 253 before the final dot`},
		{name: "Cyrillic look-alike read", method: "GET", target: "/v1/tlds/%D1%81%D0%BEm", code: 400,
			msg: `TLD name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
		{name: "escaped slashes in a name", method: "GET", target: "/v1/tlds/..%2F..%2Fetc%2Fpasswd", code: 400,
			msg: `TLD name "../../etc/passwd.": empty label`},
		{name: "host of 64-octet label", method: "GET", target: "/v1/hosts/" + label64 + ".de.", code: 400,
			msg: `host name "` + label64 + `.de.": label "` + label64 + `" is 64 octets, more than 63`},
		{name: "negative page size", method: "GET", target: "/v1/tlds?limit=-1", code: 400, msg: `limit "-1" must be a number from 1 to 1000`},
		{name: "huge page size", method: "GET", target: "/v1/tlds?limit=99999999999999999999", code: 400, msg: `limit "99999999999999999999" must be a number from 1 to 1000`},
		{name: "proposal id not a number", method: "GET", target: "/v1/proposals/abc", code: 400, msg: `proposal id "abc" is not a decimal number`},
		{name: "proposal id over 64 bits", method: "GET", target: "/v1/proposals/18446744073709551616", code: 400, msg: `proposal id "18446744073709551616" is not a decimal number`},
		{name: "negative log index", method: "GET", target: "/v1/log/entries/-1", code: 400, msg: `log index "-1" is not a decimal number`},
		{name: "log index past the end", method: "GET", target: "/v1/log/entries/999999999", code: 404, msg: fmt.Sprintf("no log entry 999999999: the log has %d", size)},
		{name: "bad escape in the path", method: "GET", target: "/v1/tlds/%zz", code: 400, msg: "400 Bad Request"},
		{name: "DELETE the zone", method: "DELETE", target: "/v1/zone", code: 405, msg: `method DELETE not allowed on "/v1/zone" (allowed: GET, HEAD)`},
		{name: "tile beyond the tree", method: "GET", target: "/tile/0/x001/234", code: 404, msg: "\"/tile/0/x001/234\": translog: not in the committed log: tile/0/x001/234, tree size " + fmt.Sprint(size) + "\n"},
		{name: "tile of level 99", method: "GET", target: "/tile/99/000", code: 400, msg: "translog: malformed tile path \"tile/99/000\": level \"99\" is not 0 to 63 without leading zeros\n"},
		{name: "tile index without x", method: "GET", target: "/tile/0/001/234", code: 400, msg: "translog: malformed tile path \"tile/0/001/234\": element \"001\" of the tile number does not start with \"x\"\n"},
		{name: "partial tile of width 0", method: "GET", target: "/tile/0/000.p/0", code: 400, msg: "translog: malformed tile path \"tile/0/000.p/0\": width \"0\" is not 1 to 255 without leading zeros\n"},
		{name: "proof of a negative index", method: "GET", target: "/proof/-1", code: 404, msg: "no such resource \"/proof/-1\"\n"},
		{name: "entry bundle beyond the tree", method: "GET", target: "/tile/entries/999", code: 404, msg: "\"/tile/entries/999\": translog: not in the committed log: tile/entries/999, tree size " + fmt.Sprint(size) + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := take(t)
			var code int
			var body []byte
			if c.body != nil {
				ct := c.contentType
				if ct == "" {
					ct = "text/plain"
				}
				code, body = post(t, c.body(t), ct)
			} else {
				code, body = get(t, c.method, c.target)
			}
			got := ""
			if strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
				got = answerMessage(t, body)
			} else {
				got = string(body)
			}
			if code != c.code || got != c.msg && !(c.sub && strings.Contains(got, c.msg)) {
				t.Errorf("got %d %q\nwant %d %q", code, got, c.code, c.msg)
			}
			unchanged(t, before)
		})
	}
}
