#!/bin/sh
# Refresh the vendored libbpf headers from an installed libbpf-dev (or a libbpf
# checkout given as $1/src). They are vendored so that the compiled dhcp_bpfel.o
# depends only on the pinned clang and these files, not on the builder's libbpf.
# Licence of these files: LGPL-2.1 OR BSD-2-Clause (libbpf).
set -eu
src=${1:-/usr/include/bpf}
[ -d "$src/src" ] && src="$src/src"
dir=$(dirname "$0")/bpf
for f in bpf_helpers.h bpf_helper_defs.h bpf_endian.h; do
	cp "$src/$f" "$dir/$f"
done
# Record where the headers came from.
if [ "$src" = /usr/include/bpf ] && command -v dpkg-query >/dev/null; then
	echo "libbpf-dev $(dpkg-query -W -f '${Version}' libbpf-dev)" >"$dir/VERSION"
else
	echo "libbpf from $src" >"$dir/VERSION"
fi
