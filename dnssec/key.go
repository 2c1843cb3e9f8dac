package dnssec

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Algorithm is the DNSSEC algorithm number of every key and signature of
// this package: ED25519 (RFC 8080).
const Algorithm = dns.ED25519

// CSKFlags are the DNSKEY flags of the zone's key: a zone key (bit 7) with
// the secure entry point bit (bit 15) set, a combined signing key.
const CSKFlags = 257

// DefaultDNSKEYTTL is the DNSKEY TTL of a Key whose TTL is zero: the root
// zone's.
const DefaultDNSKEYTTL = 172800

// Key is the zone's signing key: a CSK (flags 257, SEP) of algorithm 15. It
// signs every RRset of the zone. A FROST group key is an ordinary Key.
//
// Others are further keys published in the DNSKEY RRset that sign nothing:
// during a rollover (RFC 7583 §3.3), the next key before it takes over, or
// the previous one before it is retired. Each is a CSK like Public.
type Key struct {
	Public ed25519.PublicKey   // 32 bytes
	TTL    uint32              // TTL of the DNSKEY RRset; 0 means DefaultDNSKEYTTL
	Others []ed25519.PublicKey // 32 bytes each, none equal to Public or to each other
}

// Equal reports whether k and o sign with the same key and publish the
// same DNSKEY RRset.
func (k Key) Equal(o Key) bool {
	if !bytes.Equal(k.Public, o.Public) || k.ttl() != o.ttl() || len(k.Others) != len(o.Others) {
		return false
	}
	for i := range k.Others {
		if !bytes.Equal(k.Others[i], o.Others[i]) {
			return false
		}
	}
	return true
}

func (k Key) ttl() uint32 {
	if k.TTL == 0 {
		return DefaultDNSKEYTTL
	}
	return k.TTL
}

func (k Key) check() error {
	if len(k.Public) != ed25519.PublicKeySize {
		return fmt.Errorf("dnssec: public key has %d bytes, want %d", len(k.Public), ed25519.PublicKeySize)
	}
	for i, o := range k.Others {
		if len(o) != ed25519.PublicKeySize {
			return fmt.Errorf("dnssec: published key %d has %d bytes, want %d", i+1, len(o), ed25519.PublicKeySize)
		}
		if bytes.Equal(o, k.Public) || slices.ContainsFunc(k.Others[:i], func(p ed25519.PublicKey) bool { return bytes.Equal(p, o) }) {
			return fmt.Errorf("dnssec: published key %d (%x…) appears twice in the DNSKEY RRset", i+1, o[:8])
		}
	}
	return nil
}

// DNSKEYs returns the DNSKEY RRset at origin: the signing key's record and
// the others', in canonical order (RFC 4034 §6.3, by RDATA).
func (k Key) DNSKEYs(origin string) []dns.RR {
	all := []dns.RR{k.DNSKEY(origin)}
	for _, o := range k.Others {
		all = append(all, Key{Public: o, TTL: k.TTL}.DNSKEY(origin))
	}
	// The RDATA of two DNSKEYs of this package differs first in the key.
	slices.SortFunc(all, func(a, b dns.RR) int {
		return bytes.Compare(rawKey(a.(*dns.DNSKEY)), rawKey(b.(*dns.DNSKEY)))
	})
	return all
}

func rawKey(k *dns.DNSKEY) []byte {
	b, _ := base64.StdEncoding.DecodeString(k.PublicKey)
	return b
}

// DNSKEY returns the key's DNSKEY record at origin.
func (k Key) DNSKEY(origin string) *dns.DNSKEY {
	return &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: k.ttl()},
		Flags:     CSKFlags,
		Protocol:  3,
		Algorithm: Algorithm,
		PublicKey: base64.StdEncoding.EncodeToString(k.Public),
	}
}

// KeyTag is the key tag of the key's DNSKEY (RFC 4034 Appendix B).
func (k Key) KeyTag() uint16 { return k.DNSKEY(".").KeyTag() }

// DS returns the DS record of the key at origin with the given digest type
// (1 SHA-1, 2 SHA-256, 4 SHA-384), its digest in upper-case hex and the
// DNSKEY's TTL; nil for an unknown digest type or a key that is not 32 bytes.
func (k Key) DS(origin string, digestType uint8) *dns.DS {
	if k.check() != nil {
		return nil
	}
	ds := k.DNSKEY(origin).ToDS(digestType)
	if ds == nil {
		return nil
	}
	ds.Digest = strings.ToUpper(ds.Digest)
	return ds
}

// DSLines returns what `commonroot zone ds` prints for the key of the zone
// origin: the DS record (digest type 2, SHA-256) as a master-file line, and
// the same DS as an unbound trust-anchor line
// (`trust-anchor: ". DS 12345 15 2 ..."`).
func DSLines(k Key, origin string) (ds string, trustAnchor string, err error) {
	if err := k.check(); err != nil {
		return "", "", err
	}
	d := k.DS(dns.Fqdn(origin), dns.SHA256)
	if d == nil {
		return "", "", fmt.Errorf("dnssec: no DS for origin %q", origin)
	}
	ta := fmt.Sprintf("trust-anchor: %q", fmt.Sprintf("%s DS %d %d %d %s", d.Hdr.Name, d.KeyTag, d.Algorithm, d.DigestType, d.Digest))
	return d.String(), ta, nil
}

// Signer signs a batch of messages, the RRSIG signing inputs of RFC 4034
// §3.1.8.1, with the zone's key. It must return exactly one signature per
// message, in the order of msgs, each a 64-byte Ed25519 (RFC 8032)
// signature, or an error. A FROST federation implements it by running one
// session per message; tests and single-member setups use Ed25519Signer.
// The callers check every signature with crypto/ed25519.Verify.
type Signer interface {
	SignBatch(msgs [][]byte) ([][]byte, error)
}

// Ed25519Signer signs with a plain Ed25519 private key, on all cores. Its
// signatures are deterministic (RFC 8032).
type Ed25519Signer struct {
	Key ed25519.PrivateKey
}

// SignBatch implements Signer.
func (s Ed25519Signer) SignBatch(msgs [][]byte) ([][]byte, error) {
	if len(s.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("dnssec: private key has %d bytes, want %d", len(s.Key), ed25519.PrivateKeySize)
	}
	out := make([][]byte, len(msgs))
	buf := make([]byte, len(msgs)*ed25519.SignatureSize)
	parallel(len(msgs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sig := buf[i*ed25519.SignatureSize : (i+1)*ed25519.SignatureSize : (i+1)*ed25519.SignatureSize]
			copy(sig, ed25519.Sign(s.Key, msgs[i]))
			out[i] = sig
		}
	})
	return out, nil
}

// parallel calls f on consecutive ranges covering [0, n), one goroutine per
// core, and waits for all of them. Results must not depend on the split.
func parallel(n int, f func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if n < 256 || w == 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + w - 1) / w
	for lo := 0; lo < n; lo += step {
		hi := min(lo+step, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
