package badinput

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/commonroot/commonroot/setup"
)

var cli struct {
	once sync.Once
	path string
	err  error
}

// commonroot builds the command once for the package's tests.
func commonroot(t *testing.T) string {
	t.Helper()
	cli.once.Do(func() {
		dir, err := os.MkdirTemp("", "badinput-cli")
		if err != nil {
			cli.err = err
			return
		}
		cli.path = filepath.Join(dir, "commonroot")
		out, err := exec.Command("go", "build", "-o", cli.path, "github.com/commonroot/commonroot/cmd/commonroot").CombinedOutput()
		if err != nil {
			cli.err = errors.New(string(out))
		}
	})
	if cli.err != nil {
		t.Fatalf("building commonroot: %v", cli.err)
	}
	return cli.path
}

// digestFiles hashes the files a command is given, to show it left them as
// they were.
func digestFiles(t *testing.T, paths ...string) [32]byte {
	t.Helper()
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return [32]byte(h.Sum(nil))
}

// TestCLI runs the command with hostile flags and files: each exits 1
// with this exact line on stderr, changes no file it was given and nothing
// in the federation it talks to.
func TestCLI(t *testing.T) {
	bin := commonroot(t)
	defer os.RemoveAll(filepath.Dir(bin))
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cons := setup.ConstitutionPath(fed.dir)
	sigs := setup.SigsPath(fed.dir)
	alpha := setup.MemberKeyPath(fed.dir, "alpha")
	garbage := write("garbage.json", []byte("\xff\xfe not JSON"))
	deep := write("deep.json", []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)))
	badSigs := write("bad.sigs", []byte("not a note\n"))
	badKey := write("bad.key", []byte("PRIVATE+KEY+alpha+00000000+AAAA\n"))
	node := []string{"--node", fed.api, "--key", alpha}
	cases := []struct {
		name  string
		args  []string
		files []string
		want  string
	}{
		{"constitution check of invalid UTF-8", []string{"constitution", "check", garbage, sigs}, []string{garbage, sigs},
			"commonroot constitution: " + garbage + ": constitution: invalid character 'ÿ' looking for beginning of value"},
		{"constitution check of deep nesting", []string{"constitution", "check", deep, sigs}, []string{deep},
			"commonroot constitution: " + deep + ": constitution: JSON nested deeper than 32 levels"},
		{"constitution check of a broken signatures file", []string{"constitution", "check", cons, badSigs}, []string{cons, badSigs},
			"commonroot constitution: constitution signatures: not a signed note: malformed note"},
		{"constitution check of a missing file", []string{"constitution", "check", filepath.Join(dir, "nothing.json"), sigs}, nil,
			"commonroot constitution: open " + filepath.Join(dir, "nothing.json") + ": no such file or directory"},
		{"delegate with a missing key file", []string{"delegate", "de.", "--ns", "a.gtld-servers.net.", "--node", fed.api, "--key", filepath.Join(dir, "none.key")}, nil,
			"commonroot delegate: setup: reading key: open " + filepath.Join(dir, "none.key") + ": no such file or directory"},
		{"delegate with a broken key file", []string{"delegate", "de.", "--ns", "a.gtld-servers.net.", "--node", fed.api, "--key", badKey}, []string{badKey},
			"commonroot delegate: setup: " + badKey + ": setup: not a signed-note private key: unknown verifier algorithm"},
		{"delegate to a 64-octet label", append([]string{"delegate", "de.", "--ns", label64 + ".example.net.", "--ns", "a.gtld-servers.net."}, node...), []string{alpha},
			`commonroot delegate: rejected: delegation of "de.": NS host: name "` + label64 + `.example.net.": label "` + label64 + `" is 64 octets, more than 63`},
		{"delegate with glue that is not an address", append([]string{"delegate", "de.", "--ns", "ns1.de.", "--ns", "a.gtld-servers.net.", "--glue", "ns1.de.=not-an-ip"}, node...), []string{alpha},
			`commonroot delegate: rejected: delegation of "de.": glue for "ns1.de.": "not-an-ip" is not an IPv4 or IPv6 address`},
		{"delegate with glue without =", append([]string{"delegate", "de.", "--ns", "ns1.de.", "--glue", "ns1.de."}, node...), []string{alpha},
			`commonroot delegate: --glue "ns1.de.": want HOST=IP`},
		{"delegate with a broken DS", append([]string{"delegate", "de.", "--ns", "a.gtld-servers.net.", "--ns", "b.gtld-servers.net.", "--ds", "1 8 2 XYZ"}, node...), []string{alpha},
			`commonroot delegate: rejected: delegation of "de.": DS "1 8 2 XYZ": digest is not hex`},
		{"vote on proposal abc", append([]string{"vote", "abc", "yes"}, node...), []string{alpha}, `commonroot vote: proposal id "abc" is not a number`},
		{"vote maybe", append([]string{"vote", "1", "maybe"}, node...), []string{alpha}, `commonroot vote: action: vote "maybe" must be yes, no or abstain`},
		{"restriction of negative duration", append([]string{"propose", "restriction.impose", "com.", "--legal-basis", "b", "--evidence-sha256", strings.Repeat("ab", 32), "--duration", "-5h", "--rationale", "r"}, node...), []string{alpha},
			`commonroot propose: action: duration "-5h" is not a positive Go duration like 720h`},
		{"key.roll without a threshold", append([]string{"propose", "key.roll", "--rationale", "r"}, node...), []string{alpha},
			`commonroot propose: key.roll needs --threshold T (at least 2): how many members must cooperate to sign`},
		{"key.roll of a zone without a key", append([]string{"propose", "key.roll", "--threshold", "3", "--rationale", "r"}, node...), []string{alpha},
			`commonroot propose: rejected: key.roll proposal: the zone has no key to roll: make one with key.generate`},
		{"unknown flag", []string{"delegate", "--frobnicate"}, nil, "commonroot delegate: flag provided but not defined: -frobnicate (see commonroot help)"},
		{"keys public of a broken key", []string{"keys", "public", badKey}, []string{badKey}, "commonroot keys: setup: " + badKey + ": setup: not a signed-note private key: unknown verifier algorithm"},
		{"node that is not there", []string{"status", "--node", "http://127.0.0.1:1"}, nil, `commonroot status: Get "http://127.0.0.1:1/v1/status": dial tcp 127.0.0.1:1: connect: connection refused`},
		{"Cyrillic look-alike TLD", append([]string{"propose", "tld.create", "соm.", "--operator", fed.comKey, "--rationale", "r"}, node...), []string{alpha},
			`commonroot propose: rejected: tld.create proposal: name "соm.": label "соm" has 'с' (U+0441), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := take(t)
			files := digestFiles(t, c.files...)
			cmd := exec.Command(bin, c.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("exit: %v, want status 1", err)
			}
			if got := strings.TrimSuffix(stderr.String(), "\n"); got != c.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, c.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %s", stdout.String())
			}
			if digestFiles(t, c.files...) != files {
				t.Errorf("it changed one of %v", c.files)
			}
			unchanged(t, before)
		})
	}
}
