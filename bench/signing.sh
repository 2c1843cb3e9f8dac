#!/usr/bin/env bash
# bench/signing.sh: full DNSSEC signing of one synthetic zone of 1,000,000
# delegations (two in-bailiwick NS with A and AAAA glue each, a DS for one in
# five) by commonroot's dnssec package (BenchmarkSign1M: plan, Ed25519 in
# process on all cores, every signature verified, ZONEMD), ldns-signzone and
# Knot's signer (knotd with automatic CSK, signing-threads 1 and 2), and
# commonroot's threshold signing (BenchmarkSign1MPooled: 3 of 4 FROST, the
# members in one process), all
# with Ed25519 (algorithm 15), NSEC and a SHA-384 ZONEMD, in one run. It
# prints the wall time and peak RSS of each and the ratios to commonroot.
#
# Usage: bench/signing.sh
# Environment: WORK=/tmp/dir (kept), SKIP_KNOT=1, SKIP_LDNS=1, SKIP_FROST=1
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/signing.XXXXXX)}
mkdir -p "$WORK"
cd "$WORK"
echo "work directory: $WORK"
for tool in ldns-signzone ldns-keygen knotd knotc /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "signing.sh: $tool is missing (apt-get install ldnsutils knot time)" >&2; exit 1; }
done

secs() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }

load() { echo "load average before $1: $(cut -d' ' -f1-3 /proc/loadavg)"; }

# 1. commonroot: the benchmark writes the unsigned zone it signs.
load commonroot
(cd "$ROOT" && go test -c -o "$WORK/dnssec.test" ./dnssec)
(cd "$ROOT/dnssec" && DNSSEC_BENCH_ZONE="$WORK/synth.zone" /usr/bin/time -f "%M" -o "$WORK/go.rss" \
	"$WORK/dnssec.test" -test.run '^$' -test.bench '^BenchmarkSign1M$' -test.benchtime 1x -test.benchmem) | tee go.txt
go_ns=$(awk '/^BenchmarkSign1M/ { print $3 }' go.txt)
go_s=$(secs "$go_ns")
go_cpu=$(awk '/^BenchmarkSign1M/ { for (i = 1; i < NF; i++) if ($(i+1) == "cpu-s/op") printf "%.1f", $i }' go.txt)
go_rss=$(( $(cat go.rss) / 1024 ))
# 1b. commonroot with a 3-of-4 FROST key, as the federation signs
# (BenchmarkSign1MPooled: commitments made ahead, untimed; shares, aggregation,
# verification and ZONEMD timed).
frost_s=- frost_cpu=- frost_commit=- frost_rss=-
if [[ -z ${SKIP_FROST:-} ]]; then
	load "commonroot FROST"
	(cd "$ROOT/dnssec" && /usr/bin/time -f "%M" -o "$WORK/frost.rss" \
		"$WORK/dnssec.test" -test.run '^$' -test.bench '^BenchmarkSign1MPooled$' -test.benchtime 1x -test.timeout 60m) | tee frost.txt
	frost_s=$(secs "$(awk '/^BenchmarkSign1MPooled/ { print $3 }' frost.txt)")
	metric() { awk -v m="$1" '/^BenchmarkSign1MPooled/ { for (i = 1; i < NF; i++) if ($(i+1) == m) printf "%.1f", $i }' frost.txt; }
	frost_cpu=$(metric cpu-s/op)
	frost_commit=$(metric commit-s/op)
	frost_rss=$(( $(cat frost.rss) / 1024 ))
fi
# The unsigned ZONEMD is left out for the other signers, which add their own.
grep -v 'ZONEMD' synth.zone >synth.nozonemd
echo "zone: $(wc -l <synth.nozonemd) records"

# 2. ldns-signzone.
ldns_s=- ldns_rss=- ldns_cpu=-
if [[ -z ${SKIP_LDNS:-} ]]; then
	load ldns-signzone
	rm -f K.+015+*
	key=$(ldns-keygen -a ED25519 -k .)
	/usr/bin/time -f "%e %M %U %S" -o ldns.time ldns-signzone -z 1:1 -o . -f ldns.signed synth.nozonemd "$key"
	read -r ldns_s ldns_rss u s <ldns.time
	ldns_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.1f", u + s }')
	ldns_rss=$(( ldns_rss / 1024 ))
fi

# 3. Knot: load and sign at start (time until the zone is served), then a
# full re-sign (knotc zone-sign, blocking).
knot() {
	local workers=$1 dir="$WORK/knot$1"
	load "knotd ($workers signing threads)" >&2
	rm -rf "$dir" && mkdir -p "$dir"
	cat >"$dir/knot.conf" <<-CONF
	server:
	    rundir: "$dir"
	    background-workers: $workers
	log:
	  - target: "$dir/knot.log"
	    any: info
	database:
	    storage: "$dir"
	policy:
	  - id: ed25519
	    algorithm: ed25519
	    single-type-signing: on
	    nsec3: off
	    signing-threads: $workers
	template:
	  - id: default
	    storage: "$dir"
	zone:
	  - domain: .
	    file: "$WORK/synth.nozonemd"
	    dnssec-signing: on
	    dnssec-policy: ed25519
	    zonefile-sync: -1
	    zonefile-load: whole
	    journal-content: none
	    zonemd-generate: zonemd-sha384
	CONF
	local start end
	start=$(date +%s.%N)
	/usr/bin/time -f "%M %U %S" -o "$dir/rss" knotd -c "$dir/knot.conf" &
	local pid=$!
	until knotc -c "$dir/knot.conf" zone-status . 2>/dev/null | grep -q 'serial: [0-9]'; do
		kill -0 $pid 2>/dev/null || { echo "knotd exited:"; cat "$dir/knot.log"; exit 1; }
		sleep 0.2
	done
	end=$(date +%s.%N)
	local load resign
	load=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	start=$(date +%s.%N)
	knotc -c "$dir/knot.conf" -b -t 3600 zone-sign . >/dev/null
	end=$(date +%s.%N)
	resign=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	knotc -c "$dir/knot.conf" stop >/dev/null
	wait $pid || true
	local rss u s
	read -r rss u s <"$dir/rss"
	echo "$load $resign $(( rss / 1024 )) $(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.1f", u + s }')"
}
k1="- - - -" k2="- - - -"
if [[ -z ${SKIP_KNOT:-} ]]; then
	k1=$(knot 1)
	k2=$(knot 2)
fi
read -r k1_load k1_resign k1_rss k1_cpu <<<"$k1"
read -r k2_load k2_resign k2_rss k2_cpu <<<"$k2"

ratio() { awk -v a="$1" -v b="$go_s" 'BEGIN { if (a == "-") print "-"; else printf "%.2f", a / b }'; }
echo
f='%-44s %9s %9s %9s %13s\n'
printf "$f" signer "wall s" "CPU s" "peak MB" "wall ÷ ours"
printf "$f" "commonroot dnssec (plan+sign+verify+ZONEMD)" "$go_s" "$go_cpu" "$go_rss" 1.00
printf "$f" "commonroot, FROST 3 of 4, commitments ahead" "$frost_s" "$frost_cpu" "$frost_rss" "$(ratio "$frost_s")"
printf "$f" "ldns-signzone (read+sign+write)" "$ldns_s" "$ldns_cpu" "$ldns_rss" "$(ratio "$ldns_s")"
printf "$f" "knotd, 1 signing thread: load+sign" "$k1_load" "" "$k1_rss" "$(ratio "$k1_load")"
printf "$f" "knotd, 1 signing thread: full re-sign" "$k1_resign" "" "" "$(ratio "$k1_resign")"
printf "$f" "knotd, 1 signing thread: whole process" "" "$k1_cpu" "" ""
printf "$f" "knotd, 2 signing threads: load+sign" "$k2_load" "" "$k2_rss" "$(ratio "$k2_load")"
printf "$f" "knotd, 2 signing threads: full re-sign" "$k2_resign" "" "" "$(ratio "$k2_resign")"
printf "$f" "knotd, 2 signing threads: whole process" "" "$k2_cpu" "" ""
vs() { awk -v a="$1" -v b="$frost_s" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2f", a / b }'; }
echo "against FROST: ldns-signzone $(vs "$ldns_s")x, knotd 1 thread $(vs "$k1_load")x, knotd 2 threads $(vs "$k2_load")x" \
	"(above 1: FROST is faster); making the FROST commitments ahead took $frost_commit s"
echo "commonroot: wall and CPU of signing only; peak RSS includes building the input and the"
echo "unsigned zone. knotd CPU covers load, sign and re-sign. The load averages above tell how"
echo "much other work shared the machine."
