package dnssec

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/commonroot/commonroot/zone"
)

// exportMagic begins an exported signed version.
const exportMagic = "commonroot/signatures/v1\n"

// Export returns the signatures of the version with their validity
// periods, in the order of the plan, then the ZONEMD's: what Restore needs,
// with the zone and the key, to rebuild s. It is 72 bytes a signature.
func (s *Signed) Export() []byte {
	b := make([]byte, 0, len(exportMagic)+4+(len(s.ins)+1)*72)
	b = append(b, exportMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.ins)))
	put := func(in, sig []byte) {
		b = append(b, in[offExpiration:offKeyTag]...)
		b = append(b, sig...)
	}
	for i, in := range s.ins {
		put(in, s.sigs[i])
	}
	put(s.zonemdIn, s.zonemdSig)
	return b
}

// Restore rebuilds the signed version of z that Export wrote: it plans z
// from scratch, takes each RRset's validity period and signature from data
// and checks every signature and the layout, so a store that was changed
// (or belongs to another zone version or key) is refused.
func Restore(z *zone.Zone, k Key, data []byte) (*Signed, error) {
	fail := func(format string, args ...any) (*Signed, error) {
		return nil, fmt.Errorf("dnssec: restoring the signatures of %q serial %d: %s", z.Origin(), z.Serial(), fmt.Sprintf(format, args...))
	}
	if len(data) < len(exportMagic)+4 || string(data[:len(exportMagic)]) != exportMagic {
		return fail("not an export of signatures")
	}
	data = data[len(exportMagic):]
	n := int(binary.BigEndian.Uint32(data))
	data = data[4:]
	if len(data) != (n+1)*72 {
		return fail("%d bytes for %d signatures", len(data), n+1)
	}
	last := data[n*72:]
	exp, inc := binary.BigEndian.Uint32(last), binary.BigEndian.Uint32(last[4:])
	p, err := NewPlan(z, k, Policy{Inception: time.Unix(int64(inc), 0), Expiration: time.Unix(int64(inc)+int64(int32(exp-inc)), 0)})
	if err != nil {
		return fail("%v", err)
	}
	if len(p.ins) != n {
		return fail("the zone has %d signed RRsets, the export %d", len(p.ins), n)
	}
	sigs := make([][]byte, n)
	for i, in := range p.ins {
		rec := data[i*72 : (i+1)*72]
		copy(in[offExpiration:offKeyTag], rec[:8])
		sigs[i] = rec[8:72:72]
	}
	d, err := p.Attach(sigs)
	if err != nil {
		return fail("%v", err)
	}
	return d.Finish(last[8 : 8+ed25519.SignatureSize])
}
