package testtool

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Unbound runs a validating unbound on 127.0.0.1 whose only source is
// the root server at authAddr (a stub for "." and root hints naming only
// 127.0.0.1) and whose trust anchor is trustAnchor. It returns the port.
func Unbound(t testing.TB, authAddr, trustAnchor string) int {
	t.Helper()
	bin := Path(t, "unbound")
	dir := t.TempDir()
	host, authPort, err := net.SplitHostPort(authAddr)
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
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

// KdigResult is what Kdig read from kdig's answer: the rcode, the AD
// flag and the whole output.
type KdigResult struct {
	Status string
	AD     bool
	Answer string
}

var (
	kdigStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	kdigFlags  = regexp.MustCompile(`Flags: ([a-z ]+);`)
)

// Kdig asks the server at 127.0.0.1:port for name/typ with DO (and RD) set.
func Kdig(t testing.TB, port int, name, typ string) KdigResult {
	t.Helper()
	bin := Path(t, "kdig")
	out, err := exec.Command(bin, "@127.0.0.1", "-p", fmt.Sprint(port), "+dnssec", "+timeout=5", "+retry=1", name, typ).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig %s %s: %v\n%s", name, typ, err, out)
	}
	s := string(out)
	st, fl := kdigStatus.FindStringSubmatch(s), kdigFlags.FindStringSubmatch(s)
	if st == nil || fl == nil {
		t.Fatalf("kdig %s %s: no status or flags in\n%s", name, typ, s)
	}
	return KdigResult{Status: st[1], AD: strings.Contains(" "+fl[1]+" ", " ad "), Answer: s}
}
