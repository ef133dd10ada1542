#!/bin/sh
# build-deb.sh BIN OUTDIR: a Debian package of the binaries in BIN, the
# hardened unit, the sysusers/tmpfiles entries, the shipped configuration,
# the monitoring files and --help-derived man pages. dpkg-deb only: no
# build dependencies beyond dpkg.
set -eu
bin=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
version=$("$bin/xdhcpd" -v)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$bin/xdhcpd" "$stage/usr/sbin/xdhcpd"
install -D -m 0755 "$bin/xdhcpctl" "$stage/usr/bin/xdhcpctl"
install -D -m 0755 "$bin/xdhcp-bench" "$stage/usr/bin/xdhcp-bench"
# Debian ships binaries without symbols (debug information belongs in a
# -dbgsym package).
strip=$(command -v strip || command -v llvm-strip-14 || true)
if [ -z "$strip" ]; then
	echo "build-deb.sh: neither strip nor llvm-strip-14 found" >&2
	exit 1
fi
"$strip" --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$stage/usr/sbin/xdhcpd" "$stage/usr/bin/xdhcpctl" "$stage/usr/bin/xdhcp-bench"
install -d "$stage/lib/systemd/system"
sed 's#/usr/local/bin/xdhcpd#/usr/sbin/xdhcpd#' "$here/xdhcpd.service" >"$stage/lib/systemd/system/xdhcpd.service"
chmod 0644 "$stage/lib/systemd/system/xdhcpd.service"
install -D -m 0644 "$here/xdhcpd.tmpfiles" "$stage/usr/lib/tmpfiles.d/xdhcpd.conf"
install -D -m 0644 "$here/kea-dhcp4.conf" "$stage/etc/xdhcp/kea-dhcp4.conf"
install -d "$stage/usr/share/bash-completion/completions"
"$stage/usr/bin/xdhcpctl" completion bash >"$stage/usr/share/bash-completion/completions/xdhcpctl"
chmod 0644 "$stage/usr/share/bash-completion/completions/xdhcpctl"
for f in xdhcp-alerts.yml xdhcp-alerts_test.yml grafana-dashboard.json; do
	install -D -m 0644 "$top/monitoring/$f" "$stage/usr/share/xdhcp/monitoring/$f"
done

doc="$stage/usr/share/doc/xdhcp"
install -D -m 0644 "$here/debian/copyright" "$doc/copyright"
gzip -9n -c "$top/README.md" >"$doc/README.md.gz"
date=$(git -C "$top" log -1 --format=%aD 2>/dev/null || date -R)
printf 'xdhcp (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- xdhcp maintainers <maintainers@xdhcp.invalid>  %s\n' \
	"$version" "$version" "$date" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/README.md.gz" "$doc/changelog.gz"
# Go links statically by design (no libc dependency to track); lintian
# only recognises that from a source package's golang build dependency.
ov="$stage/usr/share/lintian/overrides/xdhcp"
install -d "$(dirname "$ov")"
printf 'xdhcp: statically-linked-binary [usr/sbin/xdhcpd]\nxdhcp: statically-linked-binary [usr/bin/xdhcpctl]\nxdhcp: statically-linked-binary [usr/bin/xdhcp-bench]\n' >"$ov"
chmod 0644 "$ov"

# Man pages from each binary's --help: one source of truth for the flags.
man() { # name section summary
	dir="$stage/usr/share/man/man$2"
	install -d "$dir"
	{
		printf '.TH %s %s "" "xdhcp %s" "xdhcp"\n' "$(echo "$1" | tr a-z A-Z)" "$2" "$version"
		printf '.SH NAME\n%s \\- %s\n.SH DESCRIPTION\n.nf\n' "$1" "$3"
		"$stage/usr/$4/$1" --help 2>&1 | sed 's/\\/\\\\/g; s/^\./\\\&./'
		printf '.fi\n.SH SEE ALSO\n/usr/share/doc/xdhcp/README.md.gz\n'
	} | gzip -9n >"$dir/$1.$2.gz"
	chmod 0644 "$dir/$1.$2.gz"
}
man xdhcpd 8 "Kea-compatible DHCPv4 server with an XDP fast path" sbin
man xdhcpctl 1 "command-line client of the xdhcpd and Kea control channel" bin
man xdhcp-bench 1 "DHCPv4 load generator and benchmark suite" bin

install -d "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/debian/control.in" >"$stage/DEBIAN/control"
install -m 0644 "$here/debian/conffiles" "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "$here/debian/$s" "$stage/DEBIAN/$s"
done
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/xdhcp_${version}_${arch}.deb" >/dev/null
echo "$out/xdhcp_${version}_${arch}.deb"
