#!/usr/bin/env bash
# bench/dns.sh: commonroot's DNS server against nsd and knot, in one run.
#
# The three servers serve the same zone files — the real root zone snapshot
# and a generated zone of $BIG delegations, each unsigned and signed with
# ldns-signzone (Ed25519) — each pinned to CPU $SERVER_CPU, while dnsperf runs
# on CPU $CLIENT_CPU with the DO bit set, 80% existing and 20% missing names.
# The servers take turns, $ROUNDS rounds of $DURATION seconds each; the
# median answers/s is reported with its ratio to nsd and knot. Latency
# (p50/p99) is measured in a separate run at a fixed rate of $LATQPS
# queries/s, resident memory (RSS and PSS, summed over each server's
# processes) after loading and after the load runs, and AXFR time and bytes
# with kdig. See bench/README.md for results.
#
# Usage: bench/dns.sh            (as root on Debian it installs what is missing)
# Environment: DURATION=30 ROUNDS=3 BIG=1000000 QUERIES=1000000 SIGN=1
#              ZONES="root root.signed big big.signed" LATQPS=20000 LATDUR=5
#              SERVER_CPU=0 CLIENT_CPU=1 WORK=/tmp/dir (kept; reused inputs)
set -euo pipefail

DURATION=${DURATION:-30}
ROUNDS=${ROUNDS:-3}
BIG=${BIG:-1000000}
QUERIES=${QUERIES:-1000000}
SIGN=${SIGN:-1}
ZONES=${ZONES:-"root root.signed big big.signed"}
LATQPS=${LATQPS:-20000}
LATDUR=${LATDUR:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
WORK=${WORK:-$(mktemp -d /tmp/dnsbench.XXXXXX)}
PORT_CR=5391
PORT_NSD=5392
PORT_KNOT=5393

REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
log() { echo "dns.sh: $*" >&2; }

# --- tools -------------------------------------------------------------------
missing=()
for t in nsd:nsd knotd:knot kdig:knot-dnsutils dnsperf:dnsperf ldns-signzone:ldnsutils taskset:util-linux go:golang-go; do
	command -v "${t%%:*}" >/dev/null 2>&1 || command -v "/usr/sbin/${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
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
PATH=$PATH:/usr/sbin
log "work directory $WORK"

# --- inputs ------------------------------------------------------------------
(cd "$REPO" && go build -o "$WORK/dnsbench" ./bench/cmd/dnsbench)
cd "$WORK"
if [[ ! -s root.zone ]]; then
	# The snapshot keeps only some RRSIGs: strip all DNSSEC records (and the
	# ZONEMD, which signing would invalidate) to sign it ourselves.
	awk '$4!="RRSIG" && $4!="NSEC" && $4!="DNSKEY" && $4!="ZONEMD"' "$REPO/internal/devzone/root-2026082201.zone" >root.zone
fi
[[ -s big.zone ]] || "$WORK/dnsbench" gen -n "$BIG" >big.zone
if [[ $SIGN == 1 ]]; then
	[[ -s key ]] || ldns-keygen -a ED25519 -k . >key
	for z in root big; do
		if [[ ! -s $z.signed ]]; then
			log "signing $z.zone"
			ldns-signzone -f "$z.signed" -i 20260101000000 -e 20360101000000 "$z.zone" "$(cat key)"
		fi
	done
fi
for z in root big; do
	[[ -s $z.queries ]] || "$WORK/dnsbench" queries -zone "$z.zone" -n "$QUERIES" >"$z.queries"
done

# --- servers -----------------------------------------------------------------
declare -A PGID PORT
PORT[commonroot]=$PORT_CR PORT[nsd]=$PORT_NSD PORT[knot]=$PORT_KNOT

start() { # name zonefile
	local name=$1 file=$WORK/$2 dir=$WORK/run-$1
	rm -rf "$dir" && mkdir -p "$dir"
	case $name in
	commonroot)
		setsid taskset -c "$SERVER_CPU" "$WORK/dnsbench" serve -zone "$file" -addr "127.0.0.1:$PORT_CR" >"$dir/out.log" 2>&1 &
		;;
	nsd)
		cat >"$dir/nsd.conf" <<-EOF
			server:
			  ip-address: 127.0.0.1@$PORT_NSD
			  server-count: 1
			  username: ""
			  chroot: ""
			  zonesdir: "$WORK"
			  database: ""
			  pidfile: "$dir/nsd.pid"
			  xfrdfile: "$dir/xfrd.state"
			  zonelistfile: "$dir/zone.list"
			  logfile: "$dir/nsd.log"
			  rrl-ratelimit: 0
			  verbosity: 1
			remote-control:
			  control-enable: no
			zone:
			  name: "."
			  zonefile: "$file"
			  provide-xfr: 127.0.0.0/8 NOKEY
		EOF
		setsid taskset -c "$SERVER_CPU" nsd -d -c "$dir/nsd.conf" >"$dir/out.log" 2>&1 &
		;;
	knot)
		mkdir -p "$dir/db"
		cat >"$dir/knot.conf" <<-EOF
			server:
			  rundir: "$dir"
			  listen: 127.0.0.1@$PORT_KNOT
			  udp-workers: 1
			  tcp-workers: 1
			  background-workers: 1
			log:
			  - target: stderr
			    any: warning
			database:
			  storage: "$dir/db"
			acl:
			  - id: local
			    address: 127.0.0.0/8
			    action: transfer
			zone:
			  - domain: "."
			    file: "$file"
			    storage: "$dir/db"
			    acl: local
			    zonefile-sync: -1
			    zonefile-load: whole
			    journal-content: none
		EOF
		setsid taskset -c "$SERVER_CPU" knotd -c "$dir/knot.conf" >"$dir/out.log" 2>&1 &
		;;
	esac
	PGID[$name]=$!
}

stop() { # name
	local g=${PGID[$1]:-}
	[[ -n $g ]] || return 0
	kill -TERM -- "-$g" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 -- "-$g" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL -- "-$g" 2>/dev/null || true
	unset "PGID[$1]"
}
cleanup() { for s in "${!PGID[@]}"; do stop "$s"; done; }
trap cleanup EXIT

ready() { # name: wait until it answers the SOA query
	for _ in $(seq 1200); do
		if [[ -n $(kdig @127.0.0.1 -p "${PORT[$1]}" . SOA +short +timeout=1 +retry=0 2>/dev/null) ]]; then
			return 0
		fi
		kill -0 -- "-${PGID[$1]}" 2>/dev/null || { log "$1 died:"; cat "$WORK/run-$1/out.log" "$WORK/run-$1/nsd.log" 2>/dev/null | tail -5 >&2; return 1; }
		sleep 0.5
	done
	log "$1 never answered"
	return 1
}

mem() { # name: "RSS PSS" in MiB, summed over the server's processes
	local rss=0 pss=0 p
	for p in $(pgrep -g "${PGID[$1]}"); do
		[[ $(cat /proc/"$p"/comm) == taskset ]] && continue
		read -r r s < <(awk '/^Rss:/{r=$2} /^Pss:/{s=$2} END{print r, s}' /proc/"$p"/smaps_rollup 2>/dev/null || echo "0 0")
		rss=$((rss + r)) pss=$((pss + s))
	done
	echo "$((rss / 1024)) $((pss / 1024))"
}

perf() { # name queryfile seconds → answers/s
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$1]}" -d "$2" -D -l "$3" -c 8 -q 500 -T 1 2>&1 |
		awk '/Queries per second:/{print int($4)}'
}

latency() { # name queryfile → "p50 p99" in microseconds at $LATQPS queries/s
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$1]}" -d "$2" -D -l "$LATDUR" -Q "$LATQPS" -c 8 -T 1 -v 2>/dev/null |
		awk '/^> /{print $NF*1e6}' | sort -n |
		awk '{a[NR]=$1} END{if (NR==0) {print "- -"; exit}; printf "%d %d\n", a[int(NR*0.5)+1], a[int(NR*0.99)+1]}'
}

axfr() { # name → "ms bytes"
	kdig @127.0.0.1 -p "${PORT[$1]}" . AXFR +noall +stats +timeout=120 2>/dev/null |
		awk '/;; Received/{b=$3} /;; From .* in /{t=$(NF-1)} END{printf "%s %s\n", t, b}'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

RESULTS=$WORK/results.tsv
printf "zone\tserver\tqps_median\tqps_runs\tp50_us\tp99_us\trss_loaded_MiB\tpss_loaded_MiB\trss_after_MiB\tpss_after_MiB\taxfr_ms\taxfr_bytes\n" >"$RESULTS"
SERVERS=(commonroot nsd knot)
for zone in $ZONES; do
	file=$zone
	[[ -s $WORK/$file ]] || file=$zone.zone
	[[ -s $WORK/$file ]] || { log "no $zone, skipped"; continue; }
	queries=$WORK/${zone%%.*}.queries
	log "zone $file: starting the servers"
	declare -A runs=() loaded=() lat=()
	for s in "${SERVERS[@]}"; do
		start "$s" "$file"
		ready "$s"
		loaded[$s]=$(mem "$s")
		perf "$s" "$queries" 2 >/dev/null # warm-up
	done
	for r in $(seq "$ROUNDS"); do
		for s in "${SERVERS[@]}"; do
			q=$(perf "$s" "$queries" "$DURATION")
			runs[$s]="${runs[$s]:-} $q"
			log "zone $file round $r: $s $q answers/s"
		done
	done
	for s in "${SERVERS[@]}"; do
		lat[$s]=$(latency "$s" "$queries")
	done
	for s in "${SERVERS[@]}"; do
		after=$(mem "$s")
		x=$(axfr "$s")
		med=$(echo "${runs[$s]}" | median)
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$file" "$s" "$med" "$(echo ${runs[$s]} | tr ' ' ',')" \
			"$(echo "${lat[$s]}" | tr ' ' '\t')" "$(echo "${loaded[$s]}" | tr ' ' '\t')" "$(echo "$after" | tr ' ' '\t')" "$(echo "$x" | tr ' ' '\t')" >>"$RESULTS"
	done
	for s in "${SERVERS[@]}"; do stop "$s"; done
	unset runs loaded lat
done

# --- report ------------------------------------------------------------------
echo
echo "DURATION=$DURATION ROUNDS=$ROUNDS BIG=$BIG LATQPS=$LATQPS, servers on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU"
echo "$(nproc) CPUs: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo); $(nsd -v 2>&1 | head -1); $(knotd -V); $(go version | cut -d' ' -f3)"
echo
awk -F'\t' '
NR==1 {next}
{ z[NR]=$1; s[NR]=$2; q[NR]=$3; runs[NR]=$4; p50[NR]=$5; p99[NR]=$6; rl[NR]=$7; pl[NR]=$8; ra[NR]=$9; pa[NR]=$10; am[NR]=$11; ab[NR]=$12; qps[$1,$2]=$3; n=NR }
END {
	print "| zone | server | answers/s (median) | runs | vs nsd | vs knot | p50 µs | p99 µs | RSS loaded / after MiB | PSS after MiB | AXFR ms | AXFR bytes |"
	print "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i=2; i<=n; i++) {
		rn = qps[z[i],"nsd"] ? sprintf("%.2f", q[i]/qps[z[i],"nsd"]) : "-"
		rk = qps[z[i],"knot"] ? sprintf("%.2f", q[i]/qps[z[i],"knot"]) : "-"
		printf "| %s | %s | %d | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s |\n", z[i], s[i], q[i], runs[i], rn, rk, p50[i], p99[i], rl[i], ra[i], pa[i], am[i], ab[i]
	}
}' "$RESULTS"
