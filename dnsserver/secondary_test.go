package dnsserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/miekg/dns"
)

// lockedBuffer collects a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runDaemon starts a daemon in its own process group and stops the group at
// the end of the test; its output is logged when the test fails.
func runDaemon(t *testing.T, path string, args ...string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() || os.Getenv("DNSSERVER_SHOW_DAEMON") != "" {
			t.Logf("%s output:\n%s", filepath.Base(path), out.String())
		}
	})
}

// waitFor asks addr the question until check accepts the answer or the
// deadline passes.
func waitFor(t *testing.T, addr, what, qname string, qtype uint16, check func(*dns.Msg) bool) {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	var last *dns.Msg
	var lastErr error
	for time.Now().Before(deadline) {
		m := new(dns.Msg)
		m.SetQuestion(qname, qtype)
		m.RecursionDesired = false
		last, _, lastErr = c.Exchange(m, addr)
		if lastErr == nil && check(last) {
			return
		}
		time.Sleep(100 * time.Millisecond) // poll interval, not an assertion
	}
	t.Fatalf("secondary never showed %s: last answer %v, error %v", what, last, lastErr)
}

// testSecondary makes a real secondary (started by start, given the
// primary's port and returning its own address) follow the server through
// one NOTIFY-triggered update.
func testSecondary(t *testing.T, start func(t *testing.T, dir string, primary, port int)) {
	vs := rootVersions(t)
	v1, v2 := vs[0], vs[1]
	port := testtool.FreePort(t)
	secondary := fmt.Sprintf("127.0.0.1:%d", port)
	s := newTestServer(t, Config{AllowTransfer: allowTest, Notify: []string{secondary}}, v1)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	_, p := splitAddr(t, s.Addr())
	primary, _ := strconv.Atoi(p)
	start(t, t.TempDir(), primary, port)

	serialIs := func(want uint32) func(*dns.Msg) bool {
		return func(r *dns.Msg) bool {
			return r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && r.Answer[0].(*dns.SOA).Serial == want
		}
	}
	waitFor(t, secondary, fmt.Sprintf("serial %d", v1.Serial()), ".", dns.TypeSOA, serialIs(v1.Serial()))
	m := new(dns.Msg)
	m.SetQuestion("www.commonroot.", dns.TypeA)
	if r, err := dns.Exchange(m, secondary); err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("before the update, the secondary answers www.commonroot. with %v (%v), want NXDOMAIN", r, err)
	}

	if err := s.Publish(v2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, secondary, "the commonroot. delegation", "www.commonroot.", dns.TypeA, func(r *dns.Msg) bool {
		if r.Rcode != dns.RcodeSuccess || len(r.Ns) != 2 || r.Ns[0].Header().Name != "commonroot." {
			return false
		}
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok && a.Hdr.Name == "ns1.commonroot." && a.A.String() == "192.0.2.10" {
				return true
			}
		}
		return false
	})
	waitFor(t, secondary, fmt.Sprintf("serial %d", v2.Serial()), ".", dns.TypeSOA, serialIs(v2.Serial()))
}

func TestSecondaryNSD(t *testing.T) {
	nsd := testtool.Path(t, "nsd")
	testSecondary(t, func(t *testing.T, dir string, primary, port int) {
		path := testtool.WriteNSDSecondary(t, dir, port, primary)
		runDaemon(t, nsd, "-d", "-c", path)
	})
}

func TestSecondaryKnot(t *testing.T) {
	knotd := testtool.Path(t, "knotd")
	testSecondary(t, func(t *testing.T, dir string, primary, port int) {
		conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[2]d
    rundir: "%[1]s"
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/db"
remote:
  - id: primary
    address: 127.0.0.1@%[3]d
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
zone:
  - domain: "."
    storage: "%[1]s"
    file: "root.zone"
    master: primary
    acl: notify_from_primary
    journal-content: none
    zonefile-sync: -1
`, dir, port, primary)
		if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "knot.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		runDaemon(t, knotd, "-c", path)
	})
}
