// Package api is the HTTP JSON API that every commonroot node serves: it
// takes signed actions in, and shows the committed state, the transparency
// log and the zone to anyone.
//
// The API holds no business rule: an action is checked by the registry
// (registry.State.Check, the same check CheckTx makes) and decided in a
// block; everything read comes from the [Backend], which gives committed
// data only.
//
// Routes (JSON unless said otherwise):
//
//	POST /v1/actions                   a raw signed action (text/plain or application/octet-stream):
//	                                   200 {"accepted":true,"index":N,"proposal":ID,"height":H},
//	                                   422 {"accepted":false,"code":C,"reason":"..."} when refused,
//	                                   413 when larger than action.MaxSize, 504 when not committed in time
//	GET  /v1/status                    origin, apex, height, app hash, log size and root, zone serial and ZONEMD, members
//	GET  /v1/members                   every member with its first 100 owned TLDs and their count
//	GET  /v1/members/{name}            one member
//	GET  /v1/tlds?after=&limit=&prefix=&q=&owner=&operator=
//	                                   TLDs sorted by name, a page at a time ("next" is the cursor);
//	                                   prefix=, owner= and operator= are binary searches, q= (a
//	                                   substring) looks at 100,000 names a page at most
//	GET  /v1/tlds/{name}               one TLD: owner, operator, NS, DS, glue of its hosts, restrictions
//	GET  /v1/hosts/{name}              a name-server host: addresses, the TLDs that use it
//	GET  /v1/proposals?status=&after=&limit=   proposals by id (status open or closed)
//	GET  /v1/proposals/{id}            one proposal: arguments, votes with rationales, status, tally
//	GET  /v1/restrictions[?format=csv] every restriction with its responses
//	GET  /v1/restrictions/{id}[?format=csv]
//	GET  /v1/signers/{name}            a signer's next sequence number and kind (member or operator)
//	GET  /v1/log/entries/{index}       a decoded log entry, its leaf hash and inclusion proof
//	GET  /v1/zone                      the zone's master file (text/dns)
//	GET  /v1/zone/versions             serial and ZONEMD of the kept zone versions
//	GET  /v1/keys                      the zone key (group key, DNSKEY, DS, trust anchor, verification shares)
//	                                   and every key-generation ceremony (status, round, participants, excluded)
//	GET  /checkpoint, /tile/…, /proof/…, /entry/…   the log's own C2SP tlog-tiles handler
//	GET  /healthz                      200 "ok" once the backend has committed a block, 503 before
//	GET  /metrics                      Prometheus metrics (when Options.Metrics is set)
//	GET  /openapi.json                 the OpenAPI 3 description of all of the above
//
// Invariants: every JSON answer about state carries "height" (the block
// the state reflects) and "checkpoint" ({"size":N,"root":"base64"}, the log
// tree read under the same read lock as the state), and the same values in
// the Commonroot-Height, Commonroot-Log-Size and Commonroot-Log-Root headers
// (which CSV and zone answers carry too). Every error is JSON
// {"error":"message"} with a 4xx or 5xx status; an unknown path is a 404,
// a known path with the wrong method a 405 with an Allow header. Request
// bodies are limited to Options.MaxBody bytes. 5xx answers are only 500
// (a backend failure), 503 (no state yet) and 504 (not committed in time).
package api
