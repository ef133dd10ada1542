// Package packaging holds the Debian package's files (the systemd unit,
// maintainer scripts, the shipped configuration, build-deb.sh) and its
// test: the package built from the current binaries installs on a Debian
// 12 root, runs xdhcpd the way its unit does, and purges cleanly.
package packaging
