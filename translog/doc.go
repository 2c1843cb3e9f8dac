// Package translog implements commonroot's append-only Merkle log: the
// transparency log every replica of a federation builds, byte for byte the
// same, from the entries of each block.
//
// The tree is the RFC 6962 Merkle tree (SHA-256), computed with
// golang.org/x/mod/sumdb/tlog, and the log is published in C2SP formats
// written here:
//
//   - c2sp.org/tlog-tiles: hash tiles of height 8 at tile/<L>/<N>[.p/<W>] and
//     entry bundles (big-endian uint16 length-prefixed entries) at
//     tile/entries/<N>[.p/<W>], with <N> in the x001/x234/067 form
//     (see [TilePath], [ParseTilePath], [MarshalEntryBundle]);
//   - c2sp.org/tlog-checkpoint: the body "<origin>\n<size>\n<base64 root>\n",
//     with no timestamp and no extension lines, so that every replica
//     produces the same bytes (see [FormatCheckpoint], [ParseCheckpoint]);
//   - c2sp.org/signed-note: each member signs that body with its own Ed25519
//     key (signature type 0x01, deterministic), and the signatures of all
//     members are merged into one note (see [Log.Sign], [Log.AddSignatures],
//     [VerifyCheckpoint]).
//
// Its proofs are RFC 6962 (RFC 9162 §2.1) inclusion and consistency proofs;
// the tests check them with tlog's own CheckRecord/CheckTree and with
// github.com/transparency-dev/merkle, and check the served tiles against
// tlog.ReadTileData and tlog.NewTiles.
//
// # Determinism
//
// Appending is a pure function of the committed tree and the new entries:
// the caller (the block) decides order, indexes follow call order, and
// nothing reads a clock, randomness or the network. A [Batch] stages
// appends in memory over the committed tree, gives the tree hash the block
// commits to, and is written inside the caller's own bbolt write
// transaction ([Batch.Write]); only [Log.Advance], called after that
// transaction committed, moves the committed view. A batch that is never
// written (or whose transaction rolled back) changes nothing, so a block
// may be replayed. Once a transaction holding a batch has committed, the
// caller must Advance before making the next batch (or reopen the log).
//
// # Storage layout
//
// The log lives in four top-level bbolt buckets of the node's database.
// Every integer key is 8 bytes, big-endian (a non-negative int64), so keys
// sort in numeric order.
//
//	translog.meta         "origin" → the origin line, fixed at creation
//	                      "size"   → the committed tree size (8 bytes, big-endian)
//	translog.hashes       tlog stored hash index → 32-byte hash (see tlog.StoredHashIndex);
//	                      written once, never re-hashed
//	translog.entries      entry index → the entry's bytes (1 to 65,535 bytes)
//	translog.checkpoints  tree size → signed checkpoint note carrying every member
//	                      signature collected for that size (not replicated state;
//	                      each node collects its own)
//
// The meta, hashes and entries buckets change only in [Batch.Write]; the
// checkpoints bucket changes only in [Log.Sign] and [Log.AddSignatures], in
// their own small transactions.
//
// # HTTP
//
// [Log.Handler] serves, relative to its mount point: /checkpoint, the tiles
// and entry bundles above, /entry/<I> (the raw bytes of one entry), and two
// proof endpoints, /proof/inclusion?index=I&size=S and
// /proof/consistency?old=M&new=N, whose body is the proof's hashes in order,
// one standard base64 hash per line (text/plain). Everything served lies
// within the committed tree.
package translog
