package dnssec

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commonroot/commonroot/dnsserver"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

var _ dnsserver.Zone = (*Signed)(nil)

// servedZone is a dnsserver.Zone made of any records: the forged zone.
type servedZone struct {
	origin string
	rrs    []dns.RR
}

func (z servedZone) Origin() string    { return z.origin }
func (z servedZone) Serial() uint32    { return z.rrs[0].(*dns.SOA).Serial }
func (z servedZone) Records() []dns.RR { return z.rrs }

// serve publishes z on a dnsserver.Server at 127.0.0.1 and returns its
// address.
func serve(t *testing.T, z dnsserver.Zone) string {
	t.Helper()
	s, err := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Publish(z); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s.Addr()
}

// startUnbound runs a validating unbound on 127.0.0.1 whose only source is
// the root server at authAddr (a stub for "." and root hints naming only
// 127.0.0.1) and whose trust anchor is trustAnchor. It returns the port.
func startUnbound(t *testing.T, authAddr, trustAnchor string) int {
	t.Helper()
	bin := testtool.Path(t, "unbound")
	dir := t.TempDir()
	host, authPort, err := net.SplitHostPort(authAddr)
	if err != nil {
		t.Fatal(err)
	}
	port := testtool.FreePort(t)
	conf := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %d
	do-ip6: no
	do-not-query-localhost: no
	chroot: ""
	username: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: ""
	verbosity: 1
	val-log-level: 2
	num-threads: 1
	module-config: "validator iterator"
	harden-referral-path: no
	qname-minimisation: no
	%s
stub-zone:
	name: "."
	stub-addr: %s@%s
`, port, dir, filepath.Join(dir, "unbound.pid"), trustAnchor, host, authPort)
	cf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(bin, "-d", "-c", cf)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("unbound log:\n%s", log.String())
		}
	})
	// Wait until it answers (a query for the apex SOA; whatever the
	// answer), or fail if it exits.
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeSOA)
	for i := 0; ; i++ {
		select {
		case <-exited:
			t.Fatalf("unbound exited:\n%s\nconfig:\n%s", log.String(), conf)
		default:
		}
		if _, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return port
		}
		if i == 100 {
			t.Fatalf("unbound does not answer on port %d:\n%s", port, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type kdigResult struct {
	status string
	ad     bool
	answer string
}

var (
	kdigStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	kdigFlags  = regexp.MustCompile(`Flags: ([a-z ]+);`)
)

// kdig asks the server at 127.0.0.1:port for name/typ with DO (and RD) set.
func kdig(t *testing.T, port int, name, typ string) kdigResult {
	t.Helper()
	bin := testtool.Path(t, "kdig")
	out, err := exec.Command(bin, "@127.0.0.1", "-p", fmt.Sprint(port), "+dnssec", "+timeout=5", "+retry=1", name, typ).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig %s %s: %v\n%s", name, typ, err, out)
	}
	s := string(out)
	st, fl := kdigStatus.FindStringSubmatch(s), kdigFlags.FindStringSubmatch(s)
	if st == nil || fl == nil {
		t.Fatalf("kdig %s %s: no status or flags in\n%s", name, typ, s)
	}
	return kdigResult{status: st[1], ad: strings.Contains(" "+fl[1]+" ", " ad "), answer: s}
}

// TestUnboundValidates serves the signed root to a validating unbound
// whose trust anchor is the DS line of DSLines: the DS of a TLD validates
// (AD), a missing TLD is a validated NXDOMAIN, and a zone that publishes
// the same DNSKEY but whose RRSIGs are made by another key is bogus
// (SERVFAIL).
func TestUnboundValidates(t *testing.T) {
	z := rootZone(t)
	var tld string
	for _, d := range z.Delegations() {
		if len(d.DS) > 0 {
			tld = d.Name
			break
		}
	}
	k, s := testKey("root")
	now := time.Now().Truncate(time.Second)
	pol := Policy{Inception: now.Add(-time.Hour), Expiration: now.Add(7 * 24 * time.Hour)}
	sz := signWith(t, z, k, s, pol)
	_, ta, err := DSLines(k, ".")
	if err != nil {
		t.Fatal(err)
	}
	auth := serve(t, sz)
	_, authPort, _ := net.SplitHostPort(auth)
	ap, _ := strconv.Atoi(authPort)
	if r := kdig(t, ap, tld, "DS"); r.status != "NOERROR" || !strings.Contains(r.answer, "\tRRSIG\tDS 15 ") {
		t.Errorf("DS of %s from the server: status %s, want NOERROR with an RRSIG:\n%s", tld, r.status, r.answer)
	}
	port := startUnbound(t, auth, ta)

	if r := kdig(t, port, tld, "DS"); r.status != "NOERROR" || !r.ad || !strings.Contains(r.answer, "\tDS\t") {
		t.Errorf("DS of %s: status %s, AD %v, want NOERROR with AD and the DS:\n%s", tld, r.status, r.ad, r.answer)
	}
	if r := kdig(t, port, "no-such-tld-commonroot.", "A"); r.status != "NXDOMAIN" || !r.ad {
		t.Errorf("missing TLD: status %s, AD %v, want NXDOMAIN with AD:\n%s", r.status, r.ad, r.answer)
	}

	// The forger publishes the real key's DNSKEY and key tag, but signs
	// with its own key.
	fk, forger := testKey("forger")
	other := signWith(t, z, fk, forger, pol)
	var rrs []dns.RR
	for _, rr := range other.Records() {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			rr = k.DNSKEY(".")
		case *dns.RRSIG:
			c := *x
			c.KeyTag = k.KeyTag()
			rr = &c
		}
		rrs = append(rrs, rr)
	}
	fport := startUnbound(t, serve(t, servedZone{origin: ".", rrs: rrs}), ta)
	if r := kdig(t, fport, tld, "DS"); r.status != "SERVFAIL" || r.ad {
		t.Errorf("DS of %s from the forged zone: status %s, AD %v, want SERVFAIL:\n%s", tld, r.status, r.ad, r.answer)
	}
}
