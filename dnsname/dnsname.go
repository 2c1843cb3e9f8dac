// Package dnsname checks the domain names and DS records that commonroot
// accepts from members and operators: host-name syntax (RFC 952, RFC 1123
// §2.1, RFC 5891 A-labels), length limits (RFC 1035 §2.3.4) and DS
// presentation form (RFC 4034 §5.3).
//
// A label that starts with "xn--" must be a valid A-label (RFC 5890 §2.3.2.1):
// it decodes to a U-label that IDNA2008 permits for registration (with the
// Bidi and ContextJ rules) and encodes back to the same octets. The tables are
// golang.org/x/net/idna's, pinned in go.mod: replicas built from the same
// go.mod agree on every name.
//
// Names are always fully qualified and lower case: "com.", "a.gtld-servers.net.",
// and "." for the root. Anything else is refused rather than normalised, so the
// bytes a member signed are the bytes that are stored.
package dnsname

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Check reports whether name is a fully qualified, lower-case host name
// (letters, digits, hyphens; no label starting or ending with a hyphen;
// labels of 1..63 octets; at most 253 characters before the final dot).
func Check(name string) error {
	if name == "." {
		return nil
	}
	if !strings.HasSuffix(name, ".") {
		return fmt.Errorf("name %q is not fully qualified (it must end with a dot)", name)
	}
	if len(name) > 254 {
		return fmt.Errorf("name %q is %d octets long, more than 253 before the final dot", trim(name), len(name)-1)
	}
	for _, l := range strings.Split(name[:len(name)-1], ".") {
		if err := checkLabel(l); err != nil {
			return fmt.Errorf("name %q: %v", trim(name), err)
		}
	}
	return nil
}

func checkLabel(l string) error {
	if l == "" {
		return fmt.Errorf("empty label")
	}
	if len(l) > 63 {
		return fmt.Errorf("label %q is %d octets, more than 63", trim(l), len(l))
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || i == len(l)-1 {
				return fmt.Errorf("label %q starts or ends with a hyphen", l)
			}
		case c >= 'A' && c <= 'Z':
			return fmt.Errorf("label %q has upper-case letters (write names in lower case)", l)
		default:
			r, size := utf8.DecodeRuneInString(l[i:])
			if r == utf8.RuneError && size <= 1 {
				return fmt.Errorf("label %q has the octet %#x, which is not UTF-8", trim(l), c)
			}
			return fmt.Errorf("label %q has %q (U+%04X), not a letter, digit or hyphen (write an internationalized label as its A-label, xn--...)", trim(l), r, r)
		}
	}
	if len(l) >= 4 && l[2:4] == "--" {
		if l[:2] != "xn" {
			return fmt.Errorf("label %q has hyphens in the third and fourth positions but is not an A-label (xn--)", l)
		}
		return checkALabel(l)
	}
	return nil
}

// checkALabel checks that l, a lower-case LDH label starting with "xn--",
// is a valid A-label: its U-label is not all ASCII, IDNA2008 permits it for
// registration, and it encodes back to l.
func checkALabel(l string) error {
	u, err := idna.Registration.ToUnicode(l)
	if err != nil {
		return fmt.Errorf("label %q is not a valid A-label: %v", l, err)
	}
	if u == l || !hasNonASCII(u) {
		return fmt.Errorf("label %q is not a valid A-label: it does not decode to an internationalized label", l)
	}
	back, err := idna.Registration.ToASCII(u)
	if err != nil || back != l {
		return fmt.Errorf("label %q is not a valid A-label: its U-label %q encodes to %q", l, u, back)
	}
	return nil
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// CheckTLD checks a TLD label under the root: besides Check, it must not be
// all digits (RFC 1123 §2.1, so it cannot be read as an address).
func CheckTLD(name string) error {
	if err := Check(name); err != nil {
		return err
	}
	label := strings.TrimSuffix(name, ".")
	if _, err := strconv.ParseUint(label, 10, 64); err == nil || strings.Trim(label, "0123456789") == "" {
		return fmt.Errorf("TLD %q is all digits", name)
	}
	return nil
}

// IsBelow reports whether name is apex or a name beneath it.
func IsBelow(name, apex string) bool {
	if apex == "." {
		return true
	}
	return name == apex || strings.HasSuffix(name, "."+apex)
}

// IsChild reports whether name is exactly one label below apex.
func IsChild(name, apex string) bool {
	if name == apex || !IsBelow(name, apex) {
		return false
	}
	rest := name
	if apex != "." {
		rest = strings.TrimSuffix(name, apex)
	}
	rest = strings.TrimSuffix(rest, ".")
	return rest != "" && !strings.Contains(rest, ".")
}

// ChildOf returns the child of apex that name lies under ("net." for
// "a.gtld-servers.net." under "."), or "" if name is apex or not below it.
func ChildOf(name, apex string) string {
	if name == apex || !IsBelow(name, apex) {
		return ""
	}
	rest := strings.TrimSuffix(name, ".")
	if apex != "." {
		rest = strings.TrimSuffix(name, "."+apex)
	}
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		rest = rest[i+1:]
	}
	if apex == "." {
		return rest + "."
	}
	return rest + "." + apex
}

// DS is a delegation signer record (RFC 4034 §5) without owner, class or TTL.
type DS struct {
	KeyTag     uint16
	Algorithm  uint8
	DigestType uint8
	Digest     string // upper-case hex
}

// String gives the presentation form "KEYTAG ALGORITHM DIGESTTYPE HEX".
func (d DS) String() string {
	return fmt.Sprintf("%d %d %d %s", d.KeyTag, d.Algorithm, d.DigestType, d.Digest)
}

// DigestLength is the digest length in octets of a DS digest type, or 0 for
// a type commonroot does not accept (RFC 4034: 1 SHA-1; RFC 4509: 2 SHA-256;
// RFC 6605: 4 SHA-384).
func DigestLength(digestType uint8) int {
	switch digestType {
	case 1:
		return 20
	case 2:
		return 32
	case 4:
		return 48
	}
	return 0
}

// ParseDS parses "KEYTAG ALGORITHM DIGESTTYPE HEX" (the hex may be split by
// spaces, as zone files do). The digest length must fit the digest type and
// the algorithm must be a DNSSEC signing algorithm number (RFC 8624).
func ParseDS(s string) (DS, error) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return DS{}, fmt.Errorf("DS %q: want \"KEYTAG ALGORITHM DIGESTTYPE HEX\"", trim(s))
	}
	tag, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil {
		return DS{}, fmt.Errorf("DS %q: key tag %q is not a number in 0..65535", trim(s), trim(f[0]))
	}
	alg, err := strconv.ParseUint(f[1], 10, 8)
	if err != nil || !validAlgorithm(uint8(alg)) {
		return DS{}, fmt.Errorf("DS %q: algorithm %q is not a DNSSEC signing algorithm", trim(s), trim(f[1]))
	}
	dt, err := strconv.ParseUint(f[2], 10, 8)
	if err != nil || DigestLength(uint8(dt)) == 0 {
		return DS{}, fmt.Errorf("DS %q: digest type %q is not 1, 2 or 4", trim(s), trim(f[2]))
	}
	hexd := strings.ToUpper(strings.Join(f[3:], ""))
	raw, err := hex.DecodeString(hexd)
	if err != nil {
		return DS{}, fmt.Errorf("DS %q: digest is not hex", trim(s))
	}
	if want := DigestLength(uint8(dt)); len(raw) != want {
		return DS{}, fmt.Errorf("DS %q: digest type %d needs %d octets, got %d", trim(s), dt, want, len(raw))
	}
	return DS{KeyTag: uint16(tag), Algorithm: uint8(alg), DigestType: uint8(dt), Digest: hexd}, nil
}

// validAlgorithm accepts the DNSSEC algorithm numbers that sign zones
// (RFC 8624 §3.1 and the IANA registry): 5, 7, 8, 10, 13, 14, 15, 16, 17, 23.
func validAlgorithm(a uint8) bool {
	switch a {
	case 5, 7, 8, 10, 13, 14, 15, 16, 17, 23:
		return true
	}
	return false
}

// trim shortens what an error quotes, so a hostile megabyte is not echoed.
func trim(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
