// Package devzone embeds a real snapshot of the DNS root zone (serial
// 2026082201, 22 August 2026: 1,438 TLD delegations), which `commonroot dev`
// imports and tests and benchmarks use as real data. The snapshot comes
// from a public archive that strips most RRSIGs; it is not an authentic
// copy: never use it as a root hint or a trust anchor.
package devzone

import _ "embed"

// Root is the root zone master file.
//
//go:embed root-2026082201.zone
var Root []byte

// RootSerial is Root's SOA serial.
const RootSerial = 2026082201
