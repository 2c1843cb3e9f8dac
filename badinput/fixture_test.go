package badinput

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/node"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
)

// fed is the one running federation every test in the package shares: a
// single member (alpha, owner of de. and fr.), the real root zone, no
// address allowed to transfer the zone.
var fed struct {
	dir    string
	f      *localfed.Federation
	n      *node.Node
	api    string // base URL
	dns    string // host:port
	origin string
	alpha  note.Signer
	com    note.Signer // com.'s operator
	comKey string      // its verifier key
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "badinput")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	c, err := localfed.CreateDev(dir, 1)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := localfed.Start(localfed.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Stop()
	if err := f.WaitReady(60 * time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fed.dir, fed.f, fed.origin = dir, f, c.Origin
	fed.n = f.Nodes[c.Members[0].Name]
	fed.api = "http://" + fed.n.HTTPAddr()
	fed.dns = fed.n.DNSAddr()
	for _, k := range []struct {
		path string
		s    *note.Signer
	}{{setup.MemberKeyPath(dir, "alpha"), &fed.alpha}, {setup.OperatorKeyPath(dir, "com."), &fed.com}} {
		key, err := setup.LoadKey(k.path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		*k.s = key.Signer
		if k.s == &fed.com {
			fed.comKey = key.Verifier
		}
	}
	return m.Run()
}

// snapshot is what a hostile input must leave as it was.
type snapshot struct {
	height  int64
	appHash []byte
	logSize int64
	logRoot string
	serial  uint32
	zonemd  string
	// content is a digest of everything the state holds apart from the
	// block height and time (which empty blocks advance every few
	// seconds): members, TLDs, hosts, proposals, restrictions and the
	// sequence numbers of the package's signers.
	content string
}

func take(t *testing.T) snapshot {
	t.Helper()
	a := fed.n.App()
	var s snapshot
	var err error
	a.View(func(st *registry.State) {
		s.height, s.appHash = a.Height()
		s.logSize = a.Log().Size()
		root, rerr := a.Log().Root()
		if rerr != nil {
			err = rerr
			return
		}
		s.logRoot = hex.EncodeToString(root[:])
		h := sha256.New()
		enc := json.NewEncoder(h)
		enc.Encode(st.Members())
		for _, name := range st.TLDNames() {
			tld, _ := st.TLD(name)
			enc.Encode(tld)
		}
		for _, name := range st.HostNames() {
			host, _ := st.Host(name)
			enc.Encode(host)
		}
		enc.Encode(st.Proposals())
		enc.Encode(st.Restrictions())
		enc.Encode(st.Serial())
		for _, signer := range []string{"alpha", fed.com.Name()} {
			fmt.Fprintf(h, "%s %d\n", signer, st.NextSeq(signer))
		}
		s.content = hex.EncodeToString(h.Sum(nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	z, _ := a.Zone()
	s.serial, s.zonemd = z.Serial(), hex.EncodeToString(z.Digest())
	return s
}

// unchanged fails the test unless now equals before. The app hash is
// compared when no block came in between; the content digest always.
func unchanged(t *testing.T, before snapshot) {
	t.Helper()
	after := take(t)
	if after.height == before.height && !bytes.Equal(after.appHash, before.appHash) {
		t.Errorf("app hash at height %d changed: %X, was %X", after.height, after.appHash, before.appHash)
	}
	if after.logSize != before.logSize || after.logRoot != before.logRoot {
		t.Errorf("log is %d %s, was %d %s", after.logSize, after.logRoot, before.logSize, before.logRoot)
	}
	if after.serial != before.serial || after.zonemd != before.zonemd {
		t.Errorf("zone is serial %d ZONEMD %s, was %d %s", after.serial, after.zonemd, before.serial, before.zonemd)
	}
	if after.content != before.content {
		t.Errorf("state content digest %s, was %s", after.content, before.content)
	}
}

// blockTime is the committed block time (the registry's clock).
func blockTime() time.Time {
	var bt time.Time
	fed.n.App().View(func(st *registry.State) { bt = st.Time() })
	return bt
}

// nextSeq is signer's next sequence number.
func nextSeq(signer string) uint64 {
	var n uint64
	fed.n.App().View(func(st *registry.State) { n = st.NextSeq(signer) })
	return n
}

// sign signs an action of s with its next sequence number, expiring an
// hour after the block time, after edit changes it.
func sign(t *testing.T, s note.Signer, kind string, body any, edit ...func(a *action.Action)) []byte {
	t.Helper()
	a := action.Action{Origin: fed.origin, Signer: s.Name(), Seq: nextSeq(s.Name()), Expires: blockTime().Add(time.Hour).UTC().Format(time.RFC3339), Kind: kind, Body: body}
	for _, e := range edit {
		e(&a)
	}
	msg, err := action.Sign(a, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// signText signs a raw note text (one line of JSON and a newline) with s,
// for inputs action.Sign would refuse to make.
func signText(t *testing.T, s note.Signer, text string) []byte {
	t.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// post sends body to POST /v1/actions and returns the status and body.
func post(t *testing.T, body []byte, contentType string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", fed.api+"/v1/actions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

// get sends GET target (a raw request target, not re-escaped).
func get(t *testing.T, method, target string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, fed.api+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "//" + strings.TrimPrefix(fed.api, "http://") + target
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, b
}
