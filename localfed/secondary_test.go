package localfed

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/commonroot/commonroot/action"
	"github.com/commonroot/commonroot/client"
	"github.com/commonroot/commonroot/internal/testtool"
	"github.com/commonroot/commonroot/setup"
)

// TestSecondaryFollowsNode: a real nsd, configured as a secondary of a
// member's node, pulls the zone, and after a delegation change decided
// through consensus it is notified and serves the new delegation.
func TestSecondaryFollowsNode(t *testing.T) {
	nsd := testtool.Path(t, "nsd")
	nsdPort := testtool.FreePort(t)
	dir := t.TempDir()
	if _, err := CreateDev(dir, 4); err != nil {
		t.Fatal(err)
	}
	f, err := Start(Options{Dir: dir,
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Notify:        []string{fmt.Sprintf("127.0.0.1:%d", nsdPort)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	if err := f.WaitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	_, primaryPort, _ := net.SplitHostPort(f.Nodes["alpha"].DNSAddr())
	primary, err := strconv.Atoi(primaryPort)
	if err != nil {
		t.Fatal(err)
	}
	path := testtool.WriteNSDSecondary(t, t.TempDir(), nsdPort, primary)
	var logs bytes.Buffer
	cmd := exec.Command(nsd, "-d", "-c", path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("nsd:\n%s", logs.String())
		}
	})
	secondary := fmt.Sprintf("127.0.0.1:%d", nsdPort)
	ask := func(name string) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeNS)
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, secondary)
		return r, err
	}
	eventually(t, "nsd serves the zone it transferred", 60*time.Second, func() error {
		r, err := ask("com.")
		if err != nil {
			return err
		}
		if !strings.Contains(nsOf(r), "a.gtld-servers.net.") {
			return fmt.Errorf("com. NS from nsd = %q (rcode %s)", nsOf(r), dns.RcodeToString[r.Rcode])
		}
		return nil
	})

	op, err := setup.LoadKey(setup.OperatorKeyPath(dir, "com."))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.New(f.HTTP("bravo"))
	msg, err := cl.Build(op.Signer, action.KindDelegate, &action.Delegate{TLD: "com.", NS: []string{"a.gtld-servers.net.", "m.gtld-servers.net."}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Submit(msg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "nsd serves the change after NOTIFY", 60*time.Second, func() error {
		r, err := ask("com.")
		if err != nil {
			return err
		}
		if got := nsOf(r); got != "a.gtld-servers.net. m.gtld-servers.net." {
			return fmt.Errorf("com. NS from nsd = %q", got)
		}
		return nil
	})
}
