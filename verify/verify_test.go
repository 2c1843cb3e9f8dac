package verify_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/dnsserver"
	"github.com/commonroot/commonroot/localfed"
	"github.com/commonroot/commonroot/registry"
	"github.com/commonroot/commonroot/setup"
	"github.com/commonroot/commonroot/translog"
	"github.com/commonroot/commonroot/verify"
	"github.com/commonroot/commonroot/zone"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// devFed starts a dev federation of n members (the real root zone
// imported) whose DNS servers allow transfers from loopback.
func devFed(t *testing.T, n int) (*localfed.Federation, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := localfed.CreateDev(dir, n); err != nil {
		t.Fatal(err)
	}
	f, err := localfed.Start(localfed.Options{Dir: dir, AllowTransfer: loopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return f, dir
}

// liar serves z over DNS on a free loopback port, as a node that lies
// about the zone would.
func liar(t *testing.T, z dnsserver.Zone) string {
	t.Helper()
	s, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0", AllowTransfer: loopback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(z); err != nil {
		t.Fatalf("publishing the lying zone: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.Addr()
}

// rewriter serves node's HTTP API with every answer's body passed through
// rewrite (given the request path), as a lying node would.
func rewriter(t *testing.T, node string, rewrite func(path string, body []byte) []byte) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(node + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(rewrite(r.URL.Path, body))
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// records is a dnsserver.Zone made of any records, for zones that
// zone.Build would never make.
type records struct {
	origin string
	serial uint32
	rrs    []dns.RR
}

func (r *records) Origin() string    { return r.origin }
func (r *records) Serial() uint32    { return r.serial }
func (r *records) Records() []dns.RR { return r.rrs }

// served waits until every node serves the same zone version and returns
// it: the honest zone, logged and served.
func served(t *testing.T, f *localfed.Federation) *zone.Zone {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var z0 *zone.Zone
		same := true
		for _, n := range f.Nodes {
			z, _ := n.App().Zone()
			if z0 == nil {
				z0 = z
			} else if z.Serial() != z0.Serial() {
				same = false
			}
		}
		if same {
			return z0
		}
		if time.Now().After(deadline) {
			t.Fatal("the nodes do not agree on the served zone")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCheckpoint waits until node serves a checkpoint that covers the
// whole of n's log.
func waitCheckpoint(t *testing.T, f *localfed.Federation, node string) {
	t.Helper()
	cl := client.New(f.HTTP(node))
	want := f.Nodes[node].App().Log().Size()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp, err := cl.Get("/checkpoint")
		if err == nil {
			text, _, _ := bytes.Cut(cp, []byte("\n\n"))
			_, size, _, perr := translog.ParseCheckpoint(append(text, '\n'))
			if perr == nil && size >= want {
				return
			}
			err = fmt.Errorf("checkpoint of size %d (%v), want %d", size, perr, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of the whole log served: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRun(t *testing.T) {
	f, dir := devFed(t, 4)
	alpha := f.Nodes["alpha"]
	c := f.Constitution
	honest := func() verify.Options {
		return verify.Options{Node: f.HTTP("alpha"), DNS: alpha.DNSAddr(), Constitution: c}
	}

	// A node serves only checkpoints that carry a quorum of signatures;
	// the others' signatures arrive a block or two after its own, and
	// until then /checkpoint answers 404 or with an older size that does
	// not cover the served zone's version (Run does not wait for either).
	waitCheckpoint(t, f, "alpha")
	// The honest node passes; remember its checkpoint.
	first, err := verify.Run(honest())
	if err != nil {
		t.Fatalf("honest node: %v", err)
	}
	z := served(t, f)
	if first.Serial != z.Serial() || !strings.EqualFold(first.ZONEMD, fmt.Sprintf("%X", z.Digest())) {
		t.Errorf("report: serial %d ZONEMD %s, the node serves serial %d ZONEMD %X", first.Serial, first.ZONEMD, z.Serial(), z.Digest())
	}
	if len(first.Signers) < 3 {
		t.Errorf("report: signers %v, want at least 3 of 4", first.Signers)
	}
	if want := len(z.Records()); first.Records != want {
		t.Errorf("report: %d records transferred, the zone has %d", first.Records, want)
	}

	// An operator changes com.; the log grows and stays consistent with
	// the first checkpoint.
	op, err := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(f.HTTP("alpha"))
	msg, err := cl.Build(op.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net.", "b.gtld-servers.net."}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Submit(msg); err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, f, "alpha")
	o := honest()
	o.Previous = first.Checkpoint
	second, err := verify.Run(o)
	if err != nil {
		t.Fatalf("with the first checkpoint saved: %v", err)
	}
	if second.Size <= first.Size || second.Serial == first.Serial {
		t.Errorf("after a change: size %d → %d, serial %d → %d; want both to grow", first.Size, second.Size, first.Serial, second.Serial)
	}

	// The honest zone, and a forgery: org. delegated elsewhere, same serial,
	// its own ZONEMD right but not the logged one.
	z = served(t, f)
	dels := z.Delegations()
	altered := make([]zone.Delegation, len(dels))
	copy(altered, dels)
	found := false
	for i, d := range altered {
		if d.Name == "org." {
			altered[i].NS, found = []string{"ns1.evil.example.", "ns2.evil.example."}, true
		}
	}
	if !found {
		t.Fatal("no org. in the zone")
	}
	forged, err := zone.Build(z.Params(), z.Serial(), altered, z.Hosts())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(forged.Digest(), z.Digest()) {
		t.Fatal("the altered zone has the honest digest")
	}

	t.Run("lying DNS", func(t *testing.T) {
		tests := []struct {
			name string
			zone func() dnsserver.Zone
			want string
		}{
			{
				// Its own ZONEMD is right, but it is not the logged one.
				name: "one delegation altered, same serial",
				zone: func() dnsserver.Zone { return forged },
				want: fmt.Sprintf("the served zone (serial %d) has ZONEMD %X but the log", z.Serial(), forged.Digest()),
			},
			{
				name: "honest records, ZONEMD altered",
				zone: func() dnsserver.Zone {
					rrs := append([]dns.RR(nil), z.Records()...)
					for i, rr := range rrs {
						if md, ok := rr.(*dns.ZONEMD); ok {
							bad := dns.Copy(md).(*dns.ZONEMD)
							sum := sha512.Sum384([]byte(md.Digest))
							bad.Digest = fmt.Sprintf("%X", sum[:])
							rrs[i] = bad
						}
					}
					return &records{origin: z.Origin(), serial: z.Serial(), rrs: rrs}
				},
				want: zone.ErrDigestMismatch.Error(),
			},
			{
				name: "honest records, ZONEMD removed",
				zone: func() dnsserver.Zone {
					var rrs []dns.RR
					for _, rr := range z.Records() {
						if _, ok := rr.(*dns.ZONEMD); !ok {
							rrs = append(rrs, rr)
						}
					}
					return &records{origin: z.Origin(), serial: z.Serial(), rrs: rrs}
				},
				want: "the served zone: zone: verify: no ZONEMD record at the apex",
			},
			{
				name: "honest records, SOA serial bumped",
				zone: func() dnsserver.Zone {
					rrs := append([]dns.RR(nil), z.Records()...)
					soa := dns.Copy(rrs[0]).(*dns.SOA)
					soa.Serial += 1000
					rrs[0] = soa
					return &records{origin: z.Origin(), serial: soa.Serial, rrs: rrs}
				},
				want: fmt.Sprintf("ZONEMD serial %d differs from SOA serial %d", z.Serial(), z.Serial()+1000),
			},
			{
				name: "a serial the log never recorded",
				zone: func() dnsserver.Zone {
					lie, err := zone.Build(z.Params(), z.Serial()+1000, z.Delegations(), z.Hosts())
					if err != nil {
						t.Fatal(err)
					}
					return lie
				},
				want: fmt.Sprintf("no zone.version entry for the served serial %d", z.Serial()+1000),
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := honest()
				o.DNS = liar(t, tt.zone())
				r, err := verify.Run(o)
				if err == nil {
					t.Fatalf("Run = ok (serial %d, ZONEMD %s), want an error containing %q", r.Serial, r.ZONEMD, tt.want)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Run error = %q, want it to contain %q", err, tt.want)
				}
			})
		}
		// The same lying server answers honestly once it serves the honest
		// zone: the failures above are the lies, not the set-up.
		o := honest()
		o.DNS = liar(t, z)
		if _, err := verify.Run(o); err != nil {
			t.Fatalf("a second server with the honest zone: %v", err)
		}
	})

	t.Run("lying node", func(t *testing.T) {
		// The node's HTTP API lies along with its DNS: it serves the forged
		// zone and rewrites what the log says about it. Nothing it can
		// rewrite survives the checkpoint's signatures and the proofs.
		forgeEntry := func(path string, body []byte) []byte {
			ev, err := registry.DecodeEvent(body)
			if !strings.HasPrefix(path, "/entry/") || err != nil || ev.Event != "zone.version" || ev.Serial != z.Serial() {
				return body
			}
			ev.ZONEMD = fmt.Sprintf("%X", forged.Digest())
			return registry.EncodeEvent(*ev)
		}
		keepSignatures := func(k int) func(string, []byte) []byte {
			return func(path string, body []byte) []byte {
				if path != "/checkpoint" {
					return body
				}
				text, sigs, _ := bytes.Cut(body, []byte("\n\n"))
				lines := strings.SplitAfter(string(sigs), "\n")
				return append(append(text, "\n\n"...), strings.Join(lines[:min(k, len(lines))], "")...)
			}
		}
		growRoot := func(path string, body []byte) []byte {
			if path != "/checkpoint" {
				return body
			}
			text, sigs, _ := bytes.Cut(body, []byte("\n\n"))
			origin, size, _, err := translog.ParseCheckpoint(append(text, '\n'))
			if err != nil {
				t.Errorf("the honest checkpoint %q: %v", body, err)
				return body
			}
			return append(append(translog.FormatCheckpoint(origin, size, sha256.Sum256([]byte("other"))), '\n'), sigs...)
		}
		garbleProofs := func(path string, body []byte) []byte {
			if !strings.HasPrefix(path, "/proof/") {
				return body
			}
			// Change the first character of every hash line.
			lines := bytes.SplitAfter(body, []byte("\n"))
			for _, l := range lines {
				if len(l) > 0 && l[0] == 'A' {
					l[0] = 'B'
				} else if len(l) > 0 {
					l[0] = 'A'
				}
			}
			return bytes.Join(lines, nil)
		}
		tests := []struct {
			name     string
			rewrite  func(path string, body []byte) []byte
			dns      dnsserver.Zone
			previous []byte
			want     string
		}{
			{"its log entry claims the forged digest", forgeEntry, forged, nil, "is not included in the checkpoint"},
			{"checkpoint with one signature", keepSignatures(1), z, nil, "checkpoint: "},
			{"checkpoint of another root", growRoot, z, nil, "checkpoint: "},
			{"garbled inclusion proof", garbleProofs, z, nil, "is not included in the checkpoint"},
			{"garbled consistency proof", garbleProofs, z, first.Checkpoint, "the log is not consistent with the saved checkpoint"},
			{"honest (the proxy itself changes nothing)", func(_ string, b []byte) []byte { return b }, z, first.Checkpoint, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := honest()
				o.Node = rewriter(t, f.HTTP("alpha"), tt.rewrite)
				o.DNS = liar(t, tt.dns)
				o.Previous = tt.previous
				o.Wait = 500 * time.Millisecond
				_, err := verify.Run(o)
				switch {
				case tt.want == "" && err != nil:
					t.Fatalf("Run = %v, want success", err)
				case tt.want != "" && err == nil:
					t.Fatalf("Run = ok, want an error containing %q", tt.want)
				case tt.want != "" && !strings.Contains(err.Error(), tt.want):
					t.Fatalf("Run error = %q, want it to contain %q", err, tt.want)
				}
			})
		}
	})

	t.Run("saved checkpoint", func(t *testing.T) {
		alphaKey, err := setup.LoadKey(setup.MemberKeyPath(dir, "alpha"))
		if err != nil {
			t.Fatal(err)
		}
		impostor, err := setup.NewKey("alpha") // another federation's alpha
		if err != nil {
			t.Fatal(err)
		}
		sign := func(k *setup.Key, size int64, root tlog.Hash) []byte {
			msg, err := note.Sign(&note.Note{Text: string(translog.FormatCheckpoint(c.Origin, size, root))}, k.Signer)
			if err != nil {
				t.Fatal(err)
			}
			return msg
		}
		tests := []struct {
			name     string
			previous []byte
			want     string // "" for success
		}{
			{"the first one", first.Checkpoint, ""},
			{"the second one", second.Checkpoint, ""},
			{"a fork signed by a member", sign(alphaKey, first.Size, sha256.Sum256([]byte("fork"))),
				fmt.Sprintf("the log is not consistent with the saved checkpoint (size %d)", first.Size)},
			{"a longer log signed by a member", sign(alphaKey, second.Size+1000, second.Root),
				fmt.Sprintf("the log shrank: the saved checkpoint has %d entries", second.Size+1000)},
			{"same origin, another federation's key", sign(impostor, first.Size, first.Root), "the saved checkpoint: "},
			{"not a note", []byte("hello\n"), "the saved checkpoint: "},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := honest()
				o.Previous = tt.previous
				_, err := verify.Run(o)
				switch {
				case tt.want == "" && err != nil:
					t.Fatalf("Run = %v, want success", err)
				case tt.want != "" && err == nil:
					t.Fatalf("Run = ok, want an error containing %q", tt.want)
				case tt.want != "" && !strings.Contains(err.Error(), tt.want):
					t.Fatalf("Run error = %q, want it to contain %q", err, tt.want)
				}
			})
		}
	})

	t.Run("quorum", func(t *testing.T) {
		tests := []struct {
			quorum int
			want   string // "" for success
		}{
			{1, ""},
			{3, ""},
			{5, "checkpoint: "},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprint(tt.quorum), func(t *testing.T) {
				o := honest()
				o.Quorum, o.Wait = tt.quorum, 500*time.Millisecond
				if tt.want == "" {
					o.Wait = 10 * time.Second
				}
				r, err := verify.Run(o)
				switch {
				case tt.want == "" && err != nil:
					t.Fatalf("quorum %d: %v", tt.quorum, err)
				case tt.want == "" && len(r.Signers) < tt.quorum:
					t.Fatalf("quorum %d: Run = ok with signers %v", tt.quorum, r.Signers)
				case tt.want != "" && err == nil:
					t.Fatalf("quorum %d: Run = ok with signers %v, want an error containing %q", tt.quorum, r.Signers, tt.want)
				case tt.want != "" && !strings.Contains(err.Error(), tt.want):
					t.Fatalf("quorum %d: Run error = %q, want it to contain %q", tt.quorum, err, tt.want)
				}
			})
		}
	})
}
