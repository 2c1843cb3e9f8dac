// Package dnssec turns an unsigned zone version (a *zone.Zone) into a
// DNSSEC-signed one: a single combined signing key (CSK, flags 257) of
// algorithm 15, ED25519 (RFC 8080), an NSEC chain (RFC 4034 §4, RFC 4035
// §2.3), an RRSIG over every authoritative RRset and a ZONEMD (RFC 8976)
// computed over the signed zone and signed last.
//
// Signing is split so that a federation can sign with a FROST group key,
// each signature made by t of n members through consensus: NewPlan (or
// PlanUpdate, which keeps the still valid signatures of the previous
// version) lists the signing inputs, in canonical order and byte-identical
// on every replica; the signatures come back through Attach, which checks
// each with crypto/ed25519.Verify and computes the ZONEMD; the ZONEMD RRset
// is signed in a second round (Digested.Input, Digested.Finish). Any valid
// signature is accepted, since FROST signatures are not deterministic; no
// unverified signature is ever part of a Signed. Plan.Sign runs both rounds
// with one Signer, such as Ed25519Signer.
//
// The package is pure apart from parallelism: it reads no clock (the
// validity period comes in a Policy, from block time) and no randomness,
// and its results do not depend on how work is split across cores. The
// signed zone is compatible with ldns-verify-zone, BIND's named-checkzone
// and validating resolvers such as unbound, which the tests use as judges.
package dnssec
