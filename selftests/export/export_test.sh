#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# export_test.sh - "kvmio-lat export --openmetrics" read by the real
# consumers, on the host (no lab, no module): the snapshots of
# selftests/unit/fixtures/ exported, then
#   - parsed strictly (prometheus_client's OpenMetrics parser) and checked
#     against `kvmio-lat show --json` of the same snapshot, histogram by
#     histogram and bucket by bucket (selftests/export/om_check.py);
#   - served by node_exporter's textfile collector: every sample as
#     written, node_textfile_scrape_error 0, `promtool check metrics` clean;
#   - scraped by Prometheus every second: histogram_quantile(0.99) of each
#     disk and path within one exported bucket of the reader's p99;
#   - read by PCP's pmdaopenmetrics (./Install, pminfo, pmval, ./Remove);
#   - an empty or malformed snapshot: export fails, says why on stderr and
#     leaves the output directory as it was.
# node_exporter, Prometheus and pmcd are started here, on free ports of
# 127.0.0.1, with their files in a temporary directory; pmcd has a private
# pcp.conf (PCP_CONF), so its pmcd.conf, PMNS, PMDA directory, logs and
# sockets are the test's own and the system's PCP is not touched.  All of
# it is stopped and removed on exit, failed or not (EXPORT_TEST_KEEP=1
# keeps the directory).  Installs what it needs (Debian packages) when
# missing, without starting their services; hence root.
#
#   selftests/export/export_test.sh [READER]       (default build/kvmio-lat)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/selftests/export
fixtures=$top/selftests/unit/fixtures
reader=${1:-build/kvmio-lat}
case $reader in /*) ;; *) reader=$PWD/$reader ;; esac
# Debian's python3, with python3-prometheus-client (not a pyenv's)
py=/usr/bin/python3
check="$py $here/om_check.py"
# (pmdaopenmetrics imports requests, which pcp does not depend on)
pkgs=(prometheus-node-exporter prometheus pcp python3-pcp python3-requests
      curl python3-prometheus-client systemd)
# snapshot and stats (none for replay_uring: a replay has no stats)
fixture_list=(disks lab_native two_vcpus replay_uring)
PLAN=31

# shellcheck source=selftests/lib/tap.sh
. "$top/selftests/lib/tap.sh"
start=$SECONDS

# diag FILE: its lines as TAP comments
diag() {
	sed 's/^/# /' "$1"
}

if [ "$(id -u)" != 0 ]; then
	echo "Bail out! export_test.sh runs as root: it installs packages, runs pmcd"
	exit 1
fi

tmp=$(mktemp -d /tmp/kvmio-export-test.XXXXXX) || exit 1
chmod 755 "$tmp"	# the daemons may read it as other users
mkdir -p "$tmp/log" "$tmp/out" "$tmp/textfile"
daemons=()		# "name pid": each the leader of its process group
pmda_installed=

# stop NAME PID: SIGTERM to its process group, SIGKILL after 5 s
stop() {
	local name=$1 pid=$2 i

	kill -TERM -- "-$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# $name ($pid) still there after 5 s: SIGKILL"
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# shellcheck disable=SC2317 # (a trap)
cleanup() {
	local d i

	trap - EXIT INT TERM
	if [ -n "$pmda_installed" ]; then
		(cd "$pcp/var/pmdas/openmetrics" && timeout 60 env "${pcp_env[@]}" \
			./Remove) >"$tmp/log/remove-at-exit.log" 2>&1
	fi
	for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
		d=${daemons[$i]}
		stop "${d% *}" "${d#* }"
	done
	if [ "${EXPORT_TEST_KEEP:-0}" = 1 ]; then
		echo "# kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: a port of 127.0.0.1 nobody listens on (bound, then let go)
free_port() {
	$py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# daemon NAME LOG COMMAND...: COMMAND in the background in a session of
# its own (so that stop() ends its children too); sets $daemon_pid
daemon() {
	local name=$1 log=$2

	shift 2
	setsid "$@" >"$log" 2>&1 </dev/null &
	daemon_pid=$!
	daemons+=("$name $daemon_pid")
}

# wait_for SECONDS PID COMMAND...: until COMMAND succeeds (0), PID dies
# (1) or SECONDS pass (2), polling every 0.2 s
wait_for() {
	local secs=$1 pid=$2 end

	shift 2
	end=$((SECONDS + secs))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$SECONDS" -lt "$end" ] || return 2
		sleep 0.2
	done
}

pkg_ok() {
	[ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

echo "TAP version 13"
echo "1..$PLAN"

# --- 1. packages ------------------------------------------------------

# The daemons the packages' scripts would start (invoke-rc.d, systemctl:
# pcp's postinst and prerm fail without systemd) are not started: shims
# on dpkg's PATH (APT's DPkg::Path, which APT gives dpkg in place of its
# own PATH).  Any that starts all the same is stopped (by pid, only the
# new ones).
install_pkgs() {
	local shim=$tmp/shim p before after apt
	local daemon_re='^(/usr/[a-z/]*/)?(prometheus|prometheus-node-exporter|pmcd|pmlogger|pmie|pmproxy)( |$)'

	mkdir -p "$shim"
	for p in systemctl invoke-rc.d service deb-systemd-invoke; do
		printf '#!/bin/sh\necho "export_test.sh: not running %s $*" >&2\nexit 0\n' \
			"$p" >"$shim/$p"
		chmod +x "$shim/$p"
	done
	before=$(pgrep -d ' ' -f "$daemon_re")
	apt=(apt-get -o "DPkg::Path=$shim:/usr/sbin:/usr/bin:/sbin:/bin")
	{
		export DEBIAN_FRONTEND=noninteractive PATH=$shim:$PATH
		"${apt[@]}" install -y --no-install-recommends "$@" ||
		{ apt-get update && "${apt[@]}" install -y --no-install-recommends "$@"; }
		# an earlier install left pcp half-configured (no systemd)
		for p in "$@"; do
			pkg_ok "$p" || { dpkg --configure -a; break; }
		done
	} >"$tmp/log/apt.log" 2>&1
	after=$(pgrep -f "$daemon_re")
	for p in $after; do
		case " $before " in *" $p "*) continue ;; esac
		echo "# stopping $(cat "/proc/$p/comm" 2>/dev/null) ($p), started by the install"
		kill "$p" 2>/dev/null
	done
}

missing=()
for p in "${pkgs[@]}"; do
	pkg_ok "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "# installing ${missing[*]}"
	install_pkgs "${missing[@]}"
fi
missing=()
for p in "${pkgs[@]}"; do
	pkg_ok "$p" || missing+=("$p")
done
dpkg-query -W -f '# ${Package} ${Version}\n' "${pkgs[@]}" 2>/dev/null
if [ ${#missing[@]} -eq 0 ]; then
	{
		prometheus-node-exporter --version 2>&1 | head -1
		prometheus --version 2>&1 | head -1
		promtool --version 2>&1 | head -1
		pminfo --version 2>&1
	} >"$tmp/log/versions" 2>&1
	diag "$tmp/log/versions"
	result 0 "packages installed: ${pkgs[*]}"
else
	result 1 "packages installed: missing ${missing[*]}" "$tmp/log/apt.log"
fi
have_pkgs() {
	local p
	for p in "$@"; do
		pkg_ok "$p" || return 1
	done
}

# --- 2. export, parsed and compared with show --json --------------------

if "$reader" export --help >"$tmp/log/export-help" 2>&1; then
	have_export=1
	result 0 "$reader export exists"
else
	have_export=
	result 1 "$reader export exists" "$tmp/log/export-help"
fi

# export_to NAME OUT [ARGS...]: export fixture NAME to OUT, in the
# format $fmt (--openmetrics; --prometheus for node_exporter)
fmt=--openmetrics
export_to() {
	local name=$1 out=$2 stats=$fixtures/$1.stats

	shift 2
	if [ -f "$stats" ]; then
		set -- "$@" --stats "$stats"
	fi
	"$reader" export "$fmt" --input "$fixtures/$name.hist" "$@" -o "$out"
}

# check_written FILE: the file export -o wrote: "# EOF" last, readable by
# the daemons' users (node_exporter runs as prometheus, pmdas as pcp),
# no temporary file left beside it
check_written() {
	local f=$1 dir left

	dir=$(dirname "$f")
	[ -s "$f" ] || { echo "no $f"; return 1; }
	[ "$(tail -n 1 "$f")" = "# EOF" ] || { echo "$f: last line '$(tail -n 1 "$f")'"; return 1; }
	[ -n "$(find "$f" -perm -0444)" ] || { echo "$f: mode $(stat -c %a "$f"), not readable by all"; return 1; }
	left=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name '*.prom' ! -name '*.err' ! -name '*.log')
	[ -z "$left" ] || { echo "left in $dir: $left"; return 1; }
}

for f in "${fixture_list[@]}"; do
	if [ -z "$have_export" ]; then
		skip "export $f" "no export command"
		continue
	fi
	if export_to "$f" "$tmp/out/$f.prom" >"$tmp/out/$f.err" 2>&1 &&
	   check_written "$tmp/out/$f.prom" >>"$tmp/out/$f.err" 2>&1; then
		result 0 "export $f: $(grep -c -v '^#' "$tmp/out/$f.prom") samples, mode $(stat -c %a "$tmp/out/$f.prom")"
	else
		result 1 "export $f" "$tmp/out/$f.err"
	fi
done

for f in "${fixture_list[@]}"; do
	stats=$fixtures/$f.stats
	[ -f "$stats" ] || stats=
	if [ ! -s "$tmp/out/$f.prom" ] || ! have_pkgs python3-prometheus-client; then
		skip "$f.prom: strict OpenMetrics, as show --json" "no file or no parser"
	elif $check file "$tmp/out/$f.prom" "$reader" "$fixtures/$f.hist" ${stats:+"$stats"} \
			>"$tmp/log/check-$f" 2>&1; then
		cat "$tmp/log/check-$f"
		result 0 "$f.prom: strict OpenMetrics, as show --json"
	else
		result 1 "$f.prom: strict OpenMetrics, as show --json" "$tmp/log/check-$f"
	fi
done

if [ -z "$have_export" ] || ! have_pkgs python3-prometheus-client; then
	skip "export --no-vcpu two_vcpus: vCPUs merged" "no export or no parser"
elif export_to two_vcpus "$tmp/out/novcpu.prom" --no-vcpu >"$tmp/log/novcpu" 2>&1 &&
     $check file "$tmp/out/novcpu.prom" "$reader" "$fixtures/two_vcpus.hist" \
		"$fixtures/two_vcpus.stats" --no-vcpu >>"$tmp/log/novcpu" 2>&1; then
	result 0 "export --no-vcpu two_vcpus: vCPUs merged"
else
	result 1 "export --no-vcpu two_vcpus: vCPUs merged" "$tmp/log/novcpu"
fi

# --- 3. bad input -----------------------------------------------------

# bad_input TEXT FILE: export of FILE fails with a message and leaves the
# output directory (holding a good export) as it was
bad_input() {
	local text=$1 in=$2 dir=$tmp/bad rc=0

	if [ -z "$have_export" ]; then
		skip "$text" "no export command"
		return
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -p "$tmp/out/disks.prom" "$dir/kvmio_lat.prom" 2>/dev/null ||
		echo "# EOF" >"$dir/kvmio_lat.prom"
	touch -d @1000000000 "$dir/kvmio_lat.prom"
	(cd "$dir" && find . -mindepth 1 -printf '%p %s %T@ %m\n' | sort && md5sum kvmio_lat.prom) \
		>"$tmp/log/bad-before"
	"$reader" export --openmetrics --input "$in" -o "$dir/kvmio_lat.prom" \
		>"$tmp/log/bad-stdout" 2>"$tmp/log/bad-stderr" || rc=$?
	(cd "$dir" && find . -mindepth 1 -printf '%p %s %T@ %m\n' | sort && md5sum kvmio_lat.prom) \
		>"$tmp/log/bad-after"
	# and where there was no file, none appears
	"$reader" export --openmetrics --input "$in" -o "$dir/new.prom" \
		>/dev/null 2>&1
	{
		echo "exit status $rc"
		echo "stderr: $(head -c 300 "$tmp/log/bad-stderr")"
		diff "$tmp/log/bad-before" "$tmp/log/bad-after" && echo "directory unchanged"
		[ ! -e "$dir/new.prom" ] || echo "new.prom was created"
	} >"$tmp/log/bad-result" 2>&1
	if [ "$rc" != 0 ] && [ -s "$tmp/log/bad-stderr" ] &&
	   cmp -s "$tmp/log/bad-before" "$tmp/log/bad-after" &&
	   [ ! -e "$dir/new.prom" ]; then
		result 0 "$text: exit $rc, '$(head -n 1 "$tmp/log/bad-stderr")', nothing written"
	else
		result 1 "$text" "$tmp/log/bad-result"
	fi
}

: >"$tmp/empty.hist"
bad_input "empty input" "$tmp/empty.hist"
printf 'this is not a kvmio_lat snapshot\n{"vms": []}\n' >"$tmp/garbage.hist"
bad_input "malformed input (not a snapshot)" "$tmp/garbage.hist"
# a histogram line cut in the middle, as a copy interrupted
head -c 2500 "$fixtures/disks.hist" >"$tmp/truncated.hist"
bad_input "malformed input (cut in a line: $(tail -n 1 "$tmp/truncated.hist"))" \
	"$tmp/truncated.hist"

# --- 4. node_exporter's textfile collector ------------------------------

ne_url=
if have_pkgs prometheus-node-exporter curl; then
	for try in 1 2 3; do
		port=$(free_port)
		echo "# prometheus-node-exporter --collector.disable-defaults --collector.textfile --collector.textfile.directory=$tmp/textfile --web.listen-address=127.0.0.1:$port"
		daemon node_exporter "$tmp/log/node_exporter.log" prometheus-node-exporter \
			--collector.disable-defaults --collector.textfile \
			--collector.textfile.directory="$tmp/textfile" \
			--web.listen-address="127.0.0.1:$port"
		if wait_for 20 "$daemon_pid" curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; then
			ne_addr=127.0.0.1:$port
			ne_url=http://$ne_addr/metrics
			break
		fi
		stop node_exporter "$daemon_pid"
	done
fi
if [ -n "$ne_url" ]; then
	result 0 "node_exporter serves $ne_url"
else
	result 1 "node_exporter starts" "$tmp/log/node_exporter.log"
fi

promtool_ok=1
for f in "${fixture_list[@]}"; do
	text="node_exporter serves $f.prom (--prometheus): node_textfile_scrape_error 0, every sample, type and HELP as in the OpenMetrics file"
	if [ -z "$ne_url" ] || [ ! -s "$tmp/out/$f.prom" ]; then
		skip "$text" "no node_exporter or no file"
		promtool_ok=
		continue
	fi
	# what node_exporter reads is export -o's own atomic write, in the
	# text format its parser reads (--prometheus); compared with the
	# OpenMetrics file of the same snapshot
	if ! fmt=--prometheus export_to "$f" "$tmp/textfile/kvmio_lat.prom" >"$tmp/log/ne-$f" 2>&1; then
		result 1 "$text" "$tmp/log/ne-$f"
		continue
	fi
	curl -sf "$ne_url" >"$tmp/log/scrape-$f.txt" 2>>"$tmp/log/ne-$f"
	left=$(find "$tmp/textfile" -mindepth 1 ! -name kvmio_lat.prom)
	[ -z "$left" ] || echo "left in the textfile directory: $left" >>"$tmp/log/ne-$f"
	grep -E '^node_textfile_' "$tmp/log/scrape-$f.txt" >>"$tmp/log/ne-$f"
	if [ -z "$left" ] && grep -qx 'node_textfile_scrape_error 0' "$tmp/log/scrape-$f.txt" &&
	   $check scrape "$tmp/out/$f.prom" "$tmp/log/scrape-$f.txt" \
		>"$tmp/log/ne-check-$f" 2>&1; then
		# what changed on the way, once
		if [ "$f" = disks ]; then
			cat "$tmp/log/ne-check-$f"
		else
			grep -v '^# note:' "$tmp/log/ne-check-$f"
		fi
		result 0 "$text"
	else
		result 1 "$text" "$tmp/log/ne-$f" "$tmp/log/ne-check-$f" \
			"$tmp/log/node_exporter.log"
	fi
	if ! promtool check metrics <"$tmp/log/scrape-$f.txt" >"$tmp/log/promtool-$f" 2>&1; then
		promtool_ok=0
		echo "# promtool check metrics, node_exporter serving $f.prom:"
		diag "$tmp/log/promtool-$f"
	fi
done
if [ -z "$promtool_ok" ]; then
	skip "promtool check metrics on the scrapes" "no scrape"
else
	result $((1 - promtool_ok)) "promtool check metrics on the scrapes"
fi
# promtool reads the text format 0.0.4: export --prometheus passes its
# lint as written (the OpenMetrics file's counters do not: their samples'
# _total names have no HELP there)
if [ -s "$tmp/out/disks.prom" ] && have_pkgs prometheus; then
	fmt=--prometheus export_to disks "$tmp/disks-text.prom" >"$tmp/log/promtool-file" 2>&1 &&
		promtool check metrics <"$tmp/disks-text.prom" >>"$tmp/log/promtool-file" 2>&1
	result $? "promtool check metrics on export --prometheus's disks file itself" \
		"$tmp/log/promtool-file"
else
	skip "promtool check metrics on export --prometheus's disks file itself" "no prometheus"
fi

# the service and timer make install puts beside the reader: they
# verify, and the service runs the installed reader with --prometheus
units=$tmp/prefix/lib/systemd/system
if make -s -C "$top" install-reader PREFIX="$tmp/prefix" >"$tmp/log/units" 2>&1 &&
   systemd-analyze verify --man=no "$units/kvmio-lat-export.service" \
	"$units/kvmio-lat-export.timer" >>"$tmp/log/units" 2>&1 &&
   grep -qx "ExecStart=$tmp/prefix/bin/kvmio-lat export --prometheus .*" \
	"$units/kvmio-lat-export.service" 2>>"$tmp/log/units"; then
	result 0 "make install-reader: kvmio-lat-export.service and .timer pass systemd-analyze verify"
else
	result 1 "make install-reader: kvmio-lat-export.service and .timer pass systemd-analyze verify" \
		"$tmp/log/units"
fi

# --- 5. Prometheus ------------------------------------------------------

prom_url=
if [ -n "$ne_url" ] && have_pkgs prometheus; then
	cat >"$tmp/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	  evaluation_interval: 1s
	scrape_configs:
	  - job_name: kvmio_lat_export_test
	    static_configs:
	      - targets: ['$ne_addr']
	EOF
	for try in 1 2 3; do
		port=$(free_port)
		echo "# prometheus --config.file=$tmp/prometheus.yml --storage.tsdb.path=$tmp/prometheus --web.listen-address=127.0.0.1:$port"
		daemon prometheus "$tmp/log/prometheus.log" prometheus \
			--config.file="$tmp/prometheus.yml" \
			--storage.tsdb.path="$tmp/prometheus" \
			--web.listen-address="127.0.0.1:$port"
		if wait_for 30 "$daemon_pid" curl -sf -o /dev/null "http://127.0.0.1:$port/-/ready"; then
			prom_url=http://127.0.0.1:$port
			break
		fi
		stop prometheus "$daemon_pid"
	done
fi
# shellcheck disable=SC2317 # (wait_for's)
target_up() {
	curl -sf "$prom_url/api/v1/targets?state=active" | grep -q '"health":"up"'
}
if [ -z "$prom_url" ]; then
	result 1 "Prometheus starts" "$tmp/log/prometheus.log"
elif wait_for 30 "$daemon_pid" target_up; then
	result 0 "Prometheus at $prom_url scrapes node_exporter every 1 s: target up"
else
	curl -s "$prom_url/api/v1/targets" >"$tmp/log/targets" 2>&1
	result 1 "Prometheus: node_exporter target up" "$tmp/log/targets" \
		"$tmp/log/prometheus.log"
	prom_url=
fi

for f in disks replay_uring; do
	text="Prometheus's histogram_quantile(0.99) of $f's disks within one bucket of show --disk --json p99"
	stats=$fixtures/$f.stats
	[ -f "$stats" ] || stats=
	if [ -z "$prom_url" ] || [ ! -s "$tmp/out/$f.prom" ]; then
		skip "$text" "no Prometheus or no file"
	elif export_to "$f" "$tmp/textfile/kvmio_lat.prom" >"$tmp/log/q-$f" 2>&1 &&
	     $check quantile "$tmp/textfile/kvmio_lat.prom" "$prom_url" "$reader" \
		"$fixtures/$f.hist" ${stats:+"$stats"} >>"$tmp/log/q-$f" 2>&1; then
		grep '^# disk' "$tmp/log/q-$f"
		result 0 "$text"
	else
		result 1 "$text" "$tmp/log/q-$f"
	fi
	# the Grafana dashboard's queries, on the file with stats and exits
	[ "$f" = disks ] || continue
	text="userspace/grafana/kvmio_lat.json: every query valid and answered by Prometheus"
	if [ -z "$prom_url" ]; then
		skip "$text" "no Prometheus"
	elif $check dashboard "$top/userspace/grafana/kvmio_lat.json" "$prom_url" \
		>"$tmp/log/dashboard" 2>&1; then
		result 0 "$text"
	else
		result 1 "$text" "$tmp/log/dashboard"
	fi
done

# --- 6. PCP: pmcd of its own, pmdaopenmetrics -----------------------------

# A private pcp.conf: every directory pmcd, the PMDA's Install and Remove
# and the clients write to is under $pcp; PCP_SYSTEMDUNIT_DIR empty, so
# that Install never asks systemd, PCP_RC_DIR's pmcd refuses to start the
# system's pmcd; Debian's python3 for the python PMDA.
pcp=$tmp/pcp
pcp_env=()
pmcd_ok=
pcp_prefix=openmetrics.kvmio_lat.
if have_pkgs pcp python3-pcp python3-requests; then
	sys_pmdas=$(sed -n 's/^PCP_PMDAS_DIR=//p' /etc/pcp.conf)
	sys_var=$(sed -n 's/^PCP_VAR_DIR=//p' /etc/pcp.conf)
	binadm=$(sed -n 's/^PCP_BINADM_DIR=//p' /etc/pcp.conf)
	mkdir -p "$pcp"/{var/pmns,var/config/pmda,var/pmdas/openmetrics/config.d} \
		"$pcp"/{log/pmcd,run,tmp,rc,systemd}
	sed -e "s|^PCP_VAR_DIR=.*|PCP_VAR_DIR=$pcp/var|" \
	    -e "s|^PCP_PMDAS_DIR=.*|PCP_PMDAS_DIR=$pcp/var/pmdas|" \
	    -e "s|^PCP_LOG_DIR=.*|PCP_LOG_DIR=$pcp/log|" \
	    -e "s|^PCP_RUN_DIR=.*|PCP_RUN_DIR=$pcp/run|" \
	    -e "s|^PCP_TMP_DIR=.*|PCP_TMP_DIR=$pcp/tmp|" \
	    -e "s|^PCP_RC_DIR=.*|PCP_RC_DIR=$pcp/rc|" \
	    -e "s|^PCP_SYSTEMDUNIT_DIR=.*|PCP_SYSTEMDUNIT_DIR=$pcp/systemd|" \
	    -e "s|^PCP_PMCDCONF_PATH=.*|PCP_PMCDCONF_PATH=$pcp/pmcd.conf|" \
	    -e "s|^PCP_PMCDOPTIONS_PATH=.*|PCP_PMCDOPTIONS_PATH=$pcp/pmcd.options|" \
	    -e "s|^PCP_PMCDRCLOCAL_PATH=.*|PCP_PMCDRCLOCAL_PATH=$pcp/rc.local|" \
	    -e "s|^PCP_PYTHON_PROG=.*|PCP_PYTHON_PROG=$py|" \
	    /etc/pcp.conf >"$pcp/pcp.conf"
	printf '#!/bin/sh\necho "export_test.sh: its pmcd is not running" >&2\nexit 1\n' \
		>"$pcp/rc/pmcd"
	chmod +x "$pcp/rc/pmcd"
	# the PMNS: pmcd's own names (Install adds openmetrics)
	"$binadm/pmcpp" "$sys_var/pmns/root_pmcd" >"$pcp/var/pmns/root"
	ln -s "$sys_pmdas/pmcd" "$pcp/var/pmdas/pmcd"
	for f in Install Remove pmdaopenmetrics.python; do
		ln -s "$sys_pmdas/openmetrics/$f" "$pcp/var/pmdas/openmetrics/$f"
	done
	cat >"$pcp/pmcd.conf" <<-EOF
	pmcd	2	dso	pmcd_init	$sys_pmdas/pmcd/pmda_pmcd.so

	[access]
	disallow ".*" : store;
	disallow ":*" : store;
	allow "local:*" : all;
	EOF
	: >"$pcp/pmcd.options"
	cp "$tmp/out/disks.prom" "$pcp/kvmio_lat.prom" 2>/dev/null
	echo "file://$pcp/kvmio_lat.prom" >"$pcp/var/pmdas/openmetrics/config.d/kvmio_lat.url"
	for try in 1 2 3; do
		port=$(free_port)
		pcp_env=(-u PCP_ENV_DONE -u PMNS_DEFAULT -u PMCD_SOCKET PCP_CONF="$pcp/pcp.conf"
			 PMCD_PORT="$port" PATH="/usr/sbin:/usr/bin:/sbin:/bin")
		echo "# PCP_CONF=$pcp/pcp.conf PMCD_PORT=$port $binadm/pmcd -f -A -U root -i 127.0.0.1 -c $pcp/pmcd.conf -s $pcp/run/pmcd.socket -l $pcp/log/pmcd/pmcd.log -x $pcp/log/pmcd/fatal.log (in $pcp/log/pmcd)"
		rm -f "$pcp/log/pmcd/pmcd.log"
		# shellcheck disable=SC2016 # (sh's $1 and $@)
		daemon pmcd "$tmp/log/pmcd.out" sh -c 'cd "$1" && shift && exec "$@"' sh \
			"$pcp/log/pmcd" env "${pcp_env[@]}" "$binadm/pmcd" -f -A -U root \
			-i 127.0.0.1 -c "$pcp/pmcd.conf" -s "$pcp/run/pmcd.socket" \
			-l "$pcp/log/pmcd/pmcd.log" -x "$pcp/log/pmcd/fatal.log"
		pmcd_pid=$daemon_pid
		if wait_for 20 "$pmcd_pid" env "${pcp_env[@]}" pminfo -f pmcd.version; then
			pmcd_ok=1
			break
		fi
		cp "$pcp/log/pmcd/pmcd.log" "$tmp/log/pmcd-try$try.log" 2>/dev/null
		stop pmcd "$pmcd_pid"
	done
fi
if [ -n "$pmcd_ok" ]; then
	result 0 "pmcd $(env "${pcp_env[@]}" pminfo -f pmcd.version | sed -n 's/.*value "\(.*\)"/\1/p') of the test's own on 127.0.0.1:$port"
else
	result 1 "pmcd starts" "$tmp/log/pmcd.out" "$pcp/log/pmcd/pmcd.log"
fi

pcp_cmd() {
	env "${pcp_env[@]}" "$@"
}

if [ -z "$pmcd_ok" ] || [ ! -s "$pcp/kvmio_lat.prom" ]; then
	skip "pmdaopenmetrics ./Install" "no pmcd or no file"
else
	pmda_installed=1	# from here on, cleanup() runs ./Remove
	if (cd "$pcp/var/pmdas/openmetrics" && timeout 120 env "${pcp_env[@]}" ./Install) \
		</dev/null >"$tmp/log/install.log" 2>&1 &&
	   grep -q '^openmetrics' "$pcp/pmcd.conf"; then
		result 0 "pmdaopenmetrics ./Install ($(grep -o 'Check openmetrics.*' "$tmp/log/install.log"))"
	else
		result 1 "pmdaopenmetrics ./Install" "$tmp/log/install.log" \
			"$pcp/log/pmcd/openmetrics.log"
	fi
fi

# pminfo_f: the file's metrics there, each with a value
# shellcheck disable=SC2317 # (wait_for's)
pminfo_f() {
	pcp_cmd pminfo -f "${pcp_prefix%.}" >"$tmp/log/pminfo-f" 2>&1 &&
	[ "$(pcp_cmd pminfo "${pcp_prefix%.}" | sed "s/^$pcp_prefix//" | sort)" = \
	  "$($check names "$pcp/kvmio_lat.prom")" ]
}
if [ -z "$pmda_installed" ]; then
	skip "pminfo -f ${pcp_prefix%.}: the file's samples and values" "no PMDA"
elif wait_for 30 "$pmcd_pid" pminfo_f &&
     $check pcp "$pcp/kvmio_lat.prom" "$tmp/log/pminfo-f" "$pcp_prefix" \
	>"$tmp/log/pcp-check" 2>&1; then
	cat "$tmp/log/pcp-check"
	result 0 "pminfo -f ${pcp_prefix%.}: the file's samples and values"
else
	pcp_cmd pminfo "${pcp_prefix%.}" >"$tmp/log/pminfo" 2>&1
	result 1 "pminfo -f ${pcp_prefix%.}: the file's samples and values" \
		"$tmp/log/pcp-check" "$tmp/log/pminfo" "$tmp/log/pminfo-f" \
		"$pcp/log/pmcd/openmetrics.log" "$pcp/log/pmcd/pmcd.log"
fi

# pmval -r: raw, a counter's value and not its rate
if [ -z "$pmda_installed" ]; then
	skip "pmval -r -s 1 of a counter and a gauge: the file's values" "no PMDA"
else
	pmval_ok=0
	$check pick "$pcp/kvmio_lat.prom" >"$tmp/log/pick" 2>&1
	while read -r name value; do
		pcp_cmd pmval -r -s 1 "$pcp_prefix$name" >"$tmp/log/pmval-$name" 2>&1
		got=$(awk 'NF == 1 && $1 ~ /^[-+0-9.e]+$/ { v = $1 } END { print v }' \
			"$tmp/log/pmval-$name")
		if [ -n "$got" ] && awk -v a="$got" -v b="$value" 'BEGIN { exit !(a == b) }'; then
			echo "# pmval -r -s 1 $pcp_prefix$name: $got, the file $value"
			pmval_ok=$((pmval_ok + 1))
		else
			echo "# pmval -r -s 1 $pcp_prefix$name: '$got', the file $value"
			diag "$tmp/log/pmval-$name"
		fi
	done <"$tmp/log/pick"
	if [ "$pmval_ok" -ge 2 ] && [ "$pmval_ok" = "$(wc -l <"$tmp/log/pick")" ]; then
		result 0 "pmval -r -s 1 of a counter and a gauge: the file's values"
	else
		result 1 "pmval -r -s 1 of a counter and a gauge: the file's values" "$tmp/log/pick"
	fi
fi

if [ -z "$pmda_installed" ]; then
	skip "pmdaopenmetrics ./Remove" "not installed"
else
	if (cd "$pcp/var/pmdas/openmetrics" && timeout 60 env "${pcp_env[@]}" ./Remove) \
		</dev/null >"$tmp/log/remove.log" 2>&1 &&
	   ! grep -q '^openmetrics' "$pcp/pmcd.conf" &&
	   ! pcp_cmd pminfo openmetrics >>"$tmp/log/remove.log" 2>&1; then
		pmda_installed=
		result 0 "pmdaopenmetrics ./Remove: out of pmcd.conf and the PMNS"
	else
		result 1 "pmdaopenmetrics ./Remove" "$tmp/log/remove.log"
	fi
fi

if [ "$n" != "$PLAN" ]; then
	echo "# planned $PLAN tests, ran $n"
	fail=1
fi
echo "# $((SECONDS - start)) s"
exit $fail
