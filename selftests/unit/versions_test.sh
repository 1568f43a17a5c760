#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# versions_test.sh - what is said in several places says the same:
#   - the version: kvmio-lat --version (KVL_VERSION, userspace/source.h),
#     dkms.conf's PACKAGE_VERSION, the module's MODULE_VERSION
#     (module/main.c) and the man page's .TH line;
#   - the long options: each one --help lists has an entry (a .TP tag) in
#     the man page, each one the man page mentions is in --help, and each
#     one the reader parses (kvl_options[] of userspace/cli.c) is in --help.
# A version bumped in one place only, or an option added to the code and
# not to its documentation, fails here rather than in a user's hands.
#
#   selftests/unit/versions_test.sh build/kvmio-lat     (make unit runs it)
set -eu

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: $0 PATH-TO-kvmio-lat" >&2
	exit 2
fi
reader=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
man=$top/userspace/kvmio-lat.8

n=0
fail=0

# result STATUS TEXT [DIAGNOSTIC...]: a TAP line, diagnostics as comments
result() {
	local status=$1 text=$2

	shift 2
	n=$((n + 1))
	if [ "$status" = 0 ]; then
		echo "ok $n - $text"
	else
		echo "not ok $n - $text"
		for d in "$@"; do
			echo "# $d"
		done
		fail=1
	fi
}

# A pattern that stops matching must fail, not compare two empty strings.
version_of() {
	local what=$1 v=$2

	if [ -z "$v" ] || [ "$(printf '%s\n' "$v" | wc -l)" -ne 1 ]; then
		echo "no single version found in $what: '$v'"
		return 1
	fi
	echo "$v"
}

# The long options (--xxx) of stdin, one per line, sorted; "\-" is groff's.
long_options() {
	sed 's/\\-/-/g' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u || true
}

# The lines of $1 on one line.
joined() {
	printf '%s\n' "$1" | paste -s -d ' '
}

# Lines of $1 missing from $2, on one line.
missing() {
	joined "$(comm -23 <(printf '%s\n' "$1") <(printf '%s\n' "$2"))"
}

echo "TAP version 13"
echo "1..7"

# --- versions ---------------------------------------------------------

want=$("$reader" --version | sed -n 's/^kvmio-lat \([^ ]*\) (hist format [0-9]*)$/\1/p')
if want=$(version_of "kvmio-lat --version" "$want"); then
	result 0 "kvmio-lat --version: $want"
else
	result 1 "kvmio-lat --version" "$want"
	want="(none)"
fi

check_version() {
	local what=$1 v=$2

	if ! v=$(version_of "$what" "$v"); then
		result 1 "$what is kvmio-lat's $want" "$v"
	elif [ "$v" != "$want" ]; then
		result 1 "$what is kvmio-lat's $want" "$what says $v"
	else
		result 0 "$what is kvmio-lat's $want"
	fi
}

check_version "dkms.conf PACKAGE_VERSION" \
	"$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}[[:space:]]*$/\1/p' "$top/dkms.conf")"
check_version "module/main.c MODULE_VERSION" \
	"$(sed -n 's/^MODULE_VERSION("\([^"]*\)");.*/\1/p' "$top/module/main.c")"
check_version "kvmio-lat.8 .TH" \
	"$(sed -n 's/^\.TH .* "kvmio-lat \([^"]*\)".*/\1/p' "$man")"

# --- long options -----------------------------------------------------

help=$("$reader" --help | long_options)
manopts=$(long_options < "$man")
# the tag lines of the man page's entries: the line after each .TP
mantags=$(awk 'prev == ".TP" { print } { prev = $0 }' "$man" | long_options)
# kvl_options[]: { "name", has_arg, NULL, OPT_... } (not --version, which
# kvl_top_option() takes in place of a command)
parsed=$(sed -n '/^static const struct option kvl_options\[\]/,/^};/ s/^[[:space:]]*{ "\([a-z][a-z0-9-]*\)", .*/--\1/p' \
	"$top/userspace/cli.c" | sort -u)

if [ -z "$help" ] || [ -z "$manopts" ] || [ -z "$mantags" ] ||
   [ -z "$parsed" ]; then
	result 1 "long options found" "--help: $(joined "$help")" \
		"kvmio-lat.8: $(joined "$manopts")" \
		"kvmio-lat.8 entries: $(joined "$mantags")" \
		"cli.c: $(joined "$parsed")"
	result 1 "long options found"
	result 1 "long options found"
else
	m=$(missing "$help" "$mantags")
	result "$([ -z "$m" ] && echo 0 || echo 1)" \
		"every long option of --help has an entry in kvmio-lat.8" \
		"no entry in kvmio-lat.8: $m"
	m=$(missing "$manopts" "$help")
	result "$([ -z "$m" ] && echo 0 || echo 1)" \
		"every long option kvmio-lat.8 mentions is in --help" \
		"not in --help: $m"
	m=$(missing "$parsed" "$help")
	result "$([ -z "$m" ] && echo 0 || echo 1)" \
		"every long option of cli.c's kvl_options[] is in --help" \
		"not in --help: $m"
fi

exit $fail
