// Package frame parses and builds the Ethernet/VLAN/IPv4/UDP frames that
// carry DHCPv4 and the Ethernet/VLAN/IPv6/UDP frames that carry DHCPv6, in
// place and without allocation. Both transports use it: the AF_XDP fast
// path and the AF_PACKET socket mode.
package frame
