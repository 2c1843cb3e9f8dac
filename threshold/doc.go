// Package threshold implements FROST threshold signing with the RFC 9591
// ciphersuite FROST-ED25519-SHA512-v1 ("FROST(Ed25519, SHA-512)", RFC 9591
// §6.1), a trusted-dealer key split with Feldman VSS commitments (RFC 9591
// Appendix C), and the primitives of a Pedersen distributed key generation
// (the KeyGen of Komlo and Goldberg's FROST paper, with proofs of knowledge
// bound to the participant and the session context).
//
// Compatibility: the group public key is an ordinary 32-byte Ed25519 public
// key and every signature this package returns is an ordinary 64-byte RFC 8032
// Ed25519 signature (R || S) over the message itself, so it validates as a
// DNSSEC algorithm 15 (ED25519, RFC 8080) signature in any resolver. Aggregate
// checks each signature with crypto/ed25519.Verify and never returns one that
// fails. The group secret is a bare scalar, not an RFC 8032 seed: it cannot be
// turned into a crypto/ed25519.PrivateKey or a key file for other signers.
//
// Invariants kept by this package:
//   - every point decoded from received bytes is canonically encoded, not the
//     identity, and in the prime-order subgroup (DecodePoint); every scalar is
//     canonical (< L, DecodeScalar);
//   - participant identifiers are uint16 values 1..n, encoded as 32-byte
//     little-endian scalars wherever RFC 9591 hashes them;
//   - signing nonces are hedged (H3(32 random bytes || secret share)) and
//     single-use: Sign zeroes them, and a second Sign with them fails with
//     ErrNonceReused;
//   - commitment lists are sorted by identifier, without duplicates, and each
//     signer recomputes every binding factor itself;
//   - the package is pure: randomness comes in as an io.Reader, and it has no
//     goroutines, clocks, I/O or map iteration, so replicated state machines
//     can use it (UsedCommitments in particular).
//
// Wire encodings (all fixed-size, big-endian uint16 identifiers) are given
// with each Encode method; every decoder of received bytes has a fuzz target.
package threshold
