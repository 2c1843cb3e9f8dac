package node

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/commonroot/commonroot/dnssec"
	"github.com/commonroot/commonroot/signing"
	"github.com/commonroot/commonroot/zone"
)

// zoneSnapshot is a zone version as the signing bucket keeps it: what
// zone.Build needs to make it again.
type zoneSnapshot struct {
	Params      zone.Params       `json:"params"`
	Serial      uint32            `json:"serial"`
	Delegations []zone.Delegation `json:"delegations"`
	Hosts       []zone.Host       `json:"hosts"`
}

func encodeZone(z *zone.Zone) ([]byte, error) {
	return json.Marshal(zoneSnapshot{Params: z.Params(), Serial: z.Serial(), Delegations: z.Delegations(), Hosts: z.Hosts()})
}

func decodeZone(b []byte) (*zone.Zone, error) {
	var s zoneSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return zone.Build(s.Params, s.Serial, s.Delegations, s.Hosts)
}

// writeSigning persists the signing step's new versions in a block's
// store transaction.
func writeSigning(b *bbolt.Bucket, target *zone.Zone, signed *dnssec.Signed) error {
	if signed != nil {
		z, err := encodeZone(signed.Zone())
		if err != nil {
			return err
		}
		if err := b.Put(keySignedZone, z); err != nil {
			return err
		}
		if err := b.Put(keySignedSigs, signed.Export()); err != nil {
			return err
		}
		if target == nil {
			if err := b.Delete(keyTarget); err != nil {
				return err
			}
		}
	}
	if target != nil {
		z, err := encodeZone(target)
		if err != nil {
			return err
		}
		return b.Put(keyTarget, z)
	}
	return nil
}

// loadSigning restores the signing step from the store and checks it
// against the state: the signed version must hash to the ZONEMD the state
// recorded and the open request's zone must be the one it signs.
func (a *App) loadSigning() error {
	var target, signedZone, sigs []byte
	err := a.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSigning)
		target = append([]byte(nil), b.Get(keyTarget)...)
		signedZone = append([]byte(nil), b.Get(keySignedZone)...)
		sigs = append([]byte(nil), b.Get(keySignedSigs)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("node: reading the signed versions: %v", err)
	}
	st := signing.Step{}
	if v, ok := a.state.Signed(); ok {
		key, err := signing.VersionKey(v)
		if err != nil {
			return fmt.Errorf("node: %w: signed version %d: %v", ErrTampered, v.Serial, err)
		}
		if len(signedZone) == 0 || len(sigs) == 0 {
			return fmt.Errorf("node: %w: the state has signed version %d but the store has not", ErrTampered, v.Serial)
		}
		z, err := decodeZone(signedZone)
		if err != nil {
			return fmt.Errorf("node: %w: stored signed zone: %v", ErrTampered, err)
		}
		s, err := dnssec.Restore(z, key, sigs)
		if err != nil {
			return fmt.Errorf("node: %w: %v", ErrTampered, err)
		}
		if got := fmt.Sprintf("%X", s.Digest()); s.Serial() != v.Serial || !strings.EqualFold(got, v.ZONEMD) {
			return fmt.Errorf("node: %w: the stored signed version %d hashes to %s, the state recorded %d with %s", ErrTampered, s.Serial(), got, v.Serial, v.ZONEMD)
		}
		st.Signed = s
	}
	if r, ok := a.state.SigningRequest(); ok {
		if len(target) == 0 {
			return fmt.Errorf("node: %w: signing request %d is open but its zone version is not stored", ErrTampered, r.ID)
		}
		z, err := decodeZone(target)
		if err != nil {
			return fmt.Errorf("node: %w: stored zone of signing request %d: %v", ErrTampered, r.ID, err)
		}
		if z.Serial() != r.Target {
			return fmt.Errorf("node: %w: signing request %d signs serial %d, the stored zone is %d", ErrTampered, r.ID, r.Target, z.Serial())
		}
		st.Target = z
	}
	a.sign = st
	return nil
}
