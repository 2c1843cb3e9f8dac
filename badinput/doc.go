// Package badinput is a catalogue of hostile inputs (tests only): for every
// way in, the inputs an attacker or a careless user sends, each with the
// exact error the user sees and a check that nothing changed.
//
// The tests share one running federation (localfed, one member, the real
// root zone, no address allowed to transfer the zone), started by TestMain.
// "Nothing changed" means: the log's size and root, the zone's serial and
// ZONEMD, a digest of the state's content (members, TLDs, hosts, proposals,
// restrictions, sequence numbers) and, when no empty block came in between,
// the app hash are what they were before the input.
//
// Categories (a table each):
//
//   - TestAPI: POST /v1/actions and the read routes, tiles and proofs:
//     oversized bodies, wrong content type, invalid UTF-8, JSON nested
//     10,000 deep, duplicate keys, unknown kinds, bad and foreign
//     signatures, wrong origin, replayed, reordered and far-ahead sequence
//     numbers, past, far-future and non-UTC expiry, 64-octet labels and
//     256-octet names, NS at the TLD itself, glue of another TLD's host and
//     of no name server, private glue, 14 and 10,000 NS, a Cyrillic
//     look-alike of com and an A-label that is not IDNA; reads of names
//     that are not names, bad page sizes and ids, log indexes and tile
//     paths out of range or malformed.
//   - TestDNS: raw UDP and TCP messages: short headers, QDCOUNT 65535,
//     ARCOUNT lies, octets after the question, compression loops and
//     forward pointers, 64-octet labels, names over 255 octets, two OPT
//     records, EDNS version 1, an OPT not at the root, an EDNS option
//     longer than its OPT, responses, UPDATE, NOTIFY, AXFR and IXFR from an
//     address not allowed, AXFR over UDP, class CHAOS, TCP length prefixes
//     of 0 and past the data. After each, an honest query is still answered.
//   - TestConstitution: constitution.Parse: over 16 MiB, deep nesting,
//     duplicate keys, trailing data, unknown fields, invalid UTF-8, bad
//     names (64-octet label, 256 octets, look-alike, bad A-label), NS that
//     are not names, none, or 10,000, glue outside the TLD, negative, huge,
//     2^31 and zero TTLs, a key named for another member, a veto by a
//     stranger, a restriction without a maximum.
//   - TestZoneImport: master files given to setup.Create (what `commonroot
//     dev` does with the root zone): bad names, NS at itself without glue,
//     orphan glue, 10,000 NS, negative, huge and zero TTLs, a wrong origin,
//     a second SOA, look-alike and invalid UTF-8 names, class CHAOS,
//     $INCLUDE, CNAME at a delegation, DS without NS. The directory gets no
//     constitution.
//   - TestCLI: the built commonroot command with broken files (invalid
//     UTF-8, deep JSON, a broken signatures file or key, missing files),
//     bad flag values (64-octet labels, glue that is not an address, a DS
//     that is not hex, proposal id "abc", vote "maybe", a negative duration,
//     a look-alike TLD), unknown flags and an absent node: exit status 1,
//     the exact line on stderr, the files given unchanged.
//
// Known open cases, in packages this catalogue may not change (the
// behaviour believed right is in brackets; the tables test what users see
// today only where it is already right):
//
//   - action: a Decode error of a field says "malformed action: action:
//     expires ..." [one prefix]; the tables compare the part after it.
//   - registry: an action expiring years ahead, or one sequence number ahead,
//     passes CheckTx and is refused only in its block [refuse the first in
//     CheckTx: it needs no state]; nothing changes either way.
//   - setup: importing a zone with no DS record (or no glue) writes TTL 0 to
//     the new constitution, which then refuses it with "ttls.ds: 0 is
//     outside 1..2147483647" [keep the default TTL of a kind the zone lacks].
//   - setup: a broken key file reads "setup: FILE: setup: not a signed-note
//     private key" [one prefix].
//   - node: a request line Go's HTTP server cannot parse ("%zz") is answered
//     "400 Bad Request" in plain text, not the API's JSON error.
//   - dnsname: an A-label whose U-label is valid but looks like another TLD
//     in another script (whole-script confusables such as Cyrillic "сом"),
//     or an emoji the UTS 46 tables allow, is accepted [the root zone's
//     label generation rules would refuse both].
package badinput
