#!/usr/bin/env bash
# bench/soak.sh: a sustained-load run of a local federation (not run in CI).
#
# It starts `commonroot dev` (4 members in one process, the real root zone),
# then for $SOAK_MINUTES minutes at once:
#   - dnsperf at the maximum rate, as bench/dns.sh measures it (unthrottled,
#     8 clients, 500 queries outstanding, the DO bit, 80% existing names and
#     20% missing ones, from `dnsbench queries` over the served zone), against
#     the first member's DNS server;
#   - a steady stream of $RATE delegation changes a second by $TLDS TLD
#     operators, sent to the 4 members' APIs in turn (bench/cmd/soakload);
#   - the resident memory of the federation's processes, sampled every 10 s.
# At the end it reports queries answered and errors (lost queries, rcodes
# other than NOERROR/NXDOMAIN), RSS at the start, after a minute of load (the
# warm-up: answer templates built on first use, zone versions kept for IXFR,
# Go heap headroom), at its maximum and at the end, and actions sent/accepted/
# in the log, which must be equal. RSS after the warm-up is a saw (the Go
# heap grows to twice the live heap between collections), so growth is the
# peak of the run's second half after the warm-up minus the peak of its first
# half. It exits 1 if an action is lost, a query fails, or that growth is
# more than $MAX_GROWTH_MIB.
#
# Usage: bench/soak.sh            (as root on Debian it installs what is missing)
# Environment: SOAK_MINUTES=10 RATE=10 TLDS=40 MAX_GROWTH_MIB=64
#              SERVER_CPU=0 CLIENT_CPU=1 WORK=/tmp/dir (kept)
set -euo pipefail

SOAK_MINUTES=${SOAK_MINUTES:-10}
RATE=${RATE:-10}
TLDS=${TLDS:-40}
MAX_GROWTH_MIB=${MAX_GROWTH_MIB:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
WORK=${WORK:-$(mktemp -d /tmp/soak.XXXXXX)}
DNS_PORT=${DNS_PORT:-5394}
HTTP_PORT=${HTTP_PORT:-8094}

REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
log() { echo "soak.sh: $*" >&2; }

# --- tools -------------------------------------------------------------------
missing=()
for t in dnsperf:dnsperf kdig:knot-dnsutils taskset:util-linux go:golang-go; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
	if [[ $(id -u) == 0 ]]; then
		log "installing ${missing[*]}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	else
		log "missing ${missing[*]}: run as root or install them"
		exit 1
	fi
fi
log "work directory $WORK"
(cd "$REPO" && go build -o "$WORK/commonroot" ./cmd/commonroot && go build -o "$WORK/soakload" ./bench/cmd/soakload &&
	go build -o "$WORK/dnsbench" ./bench/cmd/dnsbench)
cd "$WORK"

# --- the federation ----------------------------------------------------------
rm -rf fed
setsid taskset -c "$SERVER_CPU" "$WORK/commonroot" dev --dir "$WORK/fed" --dns "127.0.0.1:$DNS_PORT" --http "127.0.0.1:$HTTP_PORT" >dev.log 2>&1 &
PGID=$!
SAMPLER=
cleanup() {
	[[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null || true
	kill -TERM -- "-$PGID" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 -- "-$PGID" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL -- "-$PGID" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 600); do
	grep -q "ready in" dev.log && break
	kill -0 "$PGID" 2>/dev/null || { log "commonroot dev died:"; tail -20 dev.log >&2; exit 1; }
	sleep 0.5
done
grep -q "ready in" dev.log || { log "commonroot dev not ready after 300 s"; tail -20 dev.log >&2; exit 1; }
NODES=$(awk '$2=="http"{print $3}' dev.log | paste -sd,)
log "federation ready: $(grep 'ready in' dev.log); APIs $NODES"

# The queries: the served zone by AXFR, 80% existing and 20% missing names.
kdig @127.0.0.1 -p "$DNS_PORT" . AXFR +noall +answer +timeout=60 >zone.txt
"$WORK/dnsbench" queries -zone zone.txt -n 1000000 >queries
log "zone of $(wc -l <zone.txt) records; $(wc -l <queries) queries"

# rss prints "RSS anon file" in KiB, summed over the federation's processes.
rss() {
	local p r=0 a=0 f=0 x y z
	for p in $(pgrep -g "$PGID"); do
		read -r x y z < <(awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{print r+0, a+0, f+0}' /proc/"$p"/status 2>/dev/null || echo "0 0 0")
		r=$((r + x)) a=$((a + y)) f=$((f + z))
	done
	echo "$r $a $f"
}
SECONDS_TOTAL=$((SOAK_MINUTES * 60))
echo -e "t_s\trss_kib\tanon_kib\tfile_kib" >rss.tsv
(
	t=0
	while :; do
		echo -e "$t\t$(rss | tr ' ' '\t')" >>rss.tsv
		sleep 10
		t=$((t + 10))
	done
) &
SAMPLER=$!

# --- the load ----------------------------------------------------------------
log "soaking for $SOAK_MINUTES minutes: dnsperf at the maximum rate, $RATE actions/s by $TLDS operators"
taskset -c "$CLIENT_CPU" "$WORK/soakload" -dir "$WORK/fed" -nodes "$NODES" -rate "$RATE" -tlds "$TLDS" \
	-duration "${SECONDS_TOTAL}s" >actions.txt 2>soakload.log &
LOADER=$!
taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d queries -D -l "$SECONDS_TOTAL" -c 8 -q 500 -T 1 -S 10 >dnsperf.txt 2>&1 || true
actions_ok=1
wait "$LOADER" || actions_ok=0
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=
echo -e "end\t$(rss | tr ' ' '\t')" >>rss.tsv
tail -5 soakload.log >&2

# --- report ------------------------------------------------------------------
v() { awk -v k="$1" '$1==k{print $2}' actions.txt; }
sent=$(v actions_sent) acc=$(v actions_accepted) inlog=$(v actions_in_log) committed=$(v actions_committed)
q_sent=$(awk '/Queries sent:/{print $3}' dnsperf.txt)
q_done=$(awk '/Queries completed:/{print $3}' dnsperf.txt)
q_lost=$(awk '/Queries lost:/{print $3}' dnsperf.txt)
qps=$(awk '/Queries per second:/{print int($4)}' dnsperf.txt)
rcodes=$(awk '/Response codes:/{sub(/.*Response codes: */,""); print}' dnsperf.txt)
bad_rcodes=$(echo "$rcodes" | tr ',' '\n' | grep -v -E '^ *(NOERROR|NXDOMAIN) ' | grep -c . || true)
intervals=$(awk '/^[0-9]+\.[0-9]+: [0-9.]+$/{print int($2)}' dnsperf.txt | paste -sd' ')
read -r rss_start anon_start < <(awk -F'\t' 'NR==2{print int($2/1024), int($3/1024)}' rss.tsv)
read -r rss_warm anon_warm < <(awk -F'\t' '$1=="60"{print int($2/1024), int($3/1024)}' rss.tsv)
read -r rss_max anon_max < <(awk -F'\t' 'NR>1 && $2>m{m=$2} NR>1 && $3>a{a=$3} END{print int(m/1024), int(a/1024)}' rss.tsv)
read -r rss_end anon_end < <(awk -F'\t' '$1=="end"{print int($2/1024), int($3/1024)}' rss.tsv)
rss_warm=${rss_warm:-$rss_start} anon_warm=${anon_warm:-$anon_start}
half=$(((60 + SECONDS_TOTAL) / 2))
read -r peak_early peak_late < <(awk -F'\t' -v h="$half" 'NR>1 {t=($1=="end")?1e9:$1; if (t>=60 && t<h && $2>e) e=$2; if (t>=h && $2>l) l=$2} END{print int(e/1024), int(l/1024)}' rss.tsv)
growth=$((peak_late - peak_early))

echo
echo "SOAK_MINUTES=$SOAK_MINUTES RATE=$RATE TLDS=$TLDS; federation on CPU $SERVER_CPU, dnsperf and soakload on CPU $CLIENT_CPU"
echo "$(nproc) CPUs: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo); $(go version | cut -d' ' -f3); commit $(cd "$REPO" && git rev-parse --short HEAD)"
echo
echo "| what | value |"
echo "|---|---|"
echo "| DNS queries sent / answered / lost | $q_sent / $q_done / $q_lost |"
echo "| DNS answers per second (whole run) | $qps |"
echo "| DNS answers per second, each 10 s | $intervals |"
echo "| DNS response codes | $rcodes |"
echo "| RSS MiB at start / after 1 min / max / end | $rss_start / $rss_warm / $rss_max / $rss_end |"
echo "| of which anonymous (heap) MiB | $anon_start / $anon_warm / $anon_max / $anon_end |"
echo "| RSS peak 60–${half} s / ${half}–${SECONDS_TOTAL} s, growth | $peak_early / $peak_late MiB, $growth MiB (bound $MAX_GROWTH_MIB MiB) |"
echo "| actions sent / accepted / in the log (each looked up) / committed | $sent / $acc / $inlog / $committed |"
echo "| action accept latency p50 / p99 ms | $(v accept_latency_p50_ms) / $(v accept_latency_p99_ms) |"
echo "| actions refused / unanswered, ticks skipped (no idle operator) | $(v actions_refused) / $(v actions_unanswered), $(v ticks_skipped) |"
echo
echo "files in $WORK: rss.tsv (samples), dnsperf.txt, actions.txt, soakload.log, dev.log"

status=0
if ((actions_ok == 0)) || [[ -z $sent || $sent != "$acc" || $acc != "$inlog" || $acc != "$committed" ]]; then
	log "FAIL: actions sent $sent, accepted $acc, in the log $inlog, committed $committed"
	grep '^lost\|^refused' actions.txt | head -5 >&2 || true
	status=1
fi
if [[ -z $q_lost || $q_lost != 0 || $bad_rcodes != 0 ]]; then
	log "FAIL: $q_lost queries lost, response codes: $rcodes"
	status=1
fi
if ((growth > MAX_GROWTH_MIB)); then
	log "FAIL: the RSS peak grew $growth MiB from the first to the second half of the run, more than $MAX_GROWTH_MIB MiB"
	status=1
fi
((status == 0)) && log "ok: no lost action, no failed query, RSS growth within the bound"
exit $status
