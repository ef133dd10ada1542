package classify

// stdOptionCode maps Kea's standard DHCPv4 option names (the "name" column
// of the ARM's option table, std_option_defs.h) to their codes, for
// option[name]. Names of option-defs from the configuration are resolved
// through CompileWithNames instead.
func stdOptionCode(name string) (uint8, bool) {
	switch name {
	case "subnet-mask":
		return 1, true
	case "time-offset":
		return 2, true
	case "routers":
		return 3, true
	case "time-servers":
		return 4, true
	case "name-servers":
		return 5, true
	case "domain-name-servers":
		return 6, true
	case "log-servers":
		return 7, true
	case "cookie-servers":
		return 8, true
	case "lpr-servers":
		return 9, true
	case "impress-servers":
		return 10, true
	case "resource-location-servers":
		return 11, true
	case "host-name":
		return 12, true
	case "boot-size":
		return 13, true
	case "merit-dump":
		return 14, true
	case "domain-name":
		return 15, true
	case "swap-server":
		return 16, true
	case "root-path":
		return 17, true
	case "extensions-path":
		return 18, true
	case "ip-forwarding":
		return 19, true
	case "non-local-source-routing":
		return 20, true
	case "policy-filter":
		return 21, true
	case "max-dgram-reassembly":
		return 22, true
	case "default-ip-ttl":
		return 23, true
	case "path-mtu-aging-timeout":
		return 24, true
	case "path-mtu-plateau-table":
		return 25, true
	case "interface-mtu":
		return 26, true
	case "all-subnets-local":
		return 27, true
	case "broadcast-address":
		return 28, true
	case "perform-mask-discovery":
		return 29, true
	case "mask-supplier":
		return 30, true
	case "router-discovery":
		return 31, true
	case "router-solicitation-address":
		return 32, true
	case "static-routes":
		return 33, true
	case "trailer-encapsulation":
		return 34, true
	case "arp-cache-timeout":
		return 35, true
	case "ieee802-3-encapsulation":
		return 36, true
	case "default-tcp-ttl":
		return 37, true
	case "tcp-keepalive-interval":
		return 38, true
	case "tcp-keepalive-garbage":
		return 39, true
	case "nis-domain":
		return 40, true
	case "nis-servers":
		return 41, true
	case "ntp-servers":
		return 42, true
	case "vendor-encapsulated-options":
		return 43, true
	case "netbios-name-servers":
		return 44, true
	case "netbios-dd-server":
		return 45, true
	case "netbios-node-type":
		return 46, true
	case "netbios-scope":
		return 47, true
	case "font-servers":
		return 48, true
	case "x-display-manager":
		return 49, true
	case "dhcp-requested-address":
		return 50, true
	case "dhcp-lease-time":
		return 51, true
	case "dhcp-option-overload":
		return 52, true
	case "dhcp-message-type":
		return 53, true
	case "dhcp-server-identifier":
		return 54, true
	case "dhcp-parameter-request-list":
		return 55, true
	case "dhcp-message":
		return 56, true
	case "dhcp-max-message-size":
		return 57, true
	case "dhcp-renewal-time":
		return 58, true
	case "dhcp-rebinding-time":
		return 59, true
	case "vendor-class-identifier":
		return 60, true
	case "dhcp-client-identifier":
		return 61, true
	case "nwip-domain-name":
		return 62, true
	case "nwip-suboptions":
		return 63, true
	case "nisplus-domain-name":
		return 64, true
	case "nisplus-servers":
		return 65, true
	case "tftp-server-name":
		return 66, true
	case "boot-file-name":
		return 67, true
	case "mobile-ip-home-agent":
		return 68, true
	case "smtp-server":
		return 69, true
	case "pop-server":
		return 70, true
	case "nntp-server":
		return 71, true
	case "www-server":
		return 72, true
	case "finger-server":
		return 73, true
	case "irc-server":
		return 74, true
	case "streettalk-server":
		return 75, true
	case "streettalk-directory-assistance-server":
		return 76, true
	case "user-class":
		return 77, true
	case "slp-directory-agent":
		return 78, true
	case "slp-service-scope":
		return 79, true
	case "fqdn":
		return 81, true
	case "dhcp-agent-options":
		return 82, true
	case "nds-servers":
		return 85, true
	case "nds-tree-name":
		return 86, true
	case "nds-context":
		return 87, true
	case "bcms-controller-names":
		return 88, true
	case "bcms-controller-address":
		return 89, true
	case "client-last-transaction-time":
		return 91, true
	case "associated-ip":
		return 92, true
	case "client-system":
		return 93, true
	case "client-ndi":
		return 94, true
	case "uuid-guid":
		return 97, true
	case "uap-servers":
		return 98, true
	case "geoconf-civic":
		return 99, true
	case "pcode":
		return 100, true
	case "tcode":
		return 101, true
	case "netinfo-server-address":
		return 112, true
	case "netinfo-server-tag":
		return 113, true
	case "v4-captive-portal":
		return 114, true
	case "auto-config":
		return 116, true
	case "name-service-search":
		return 117, true
	case "subnet-selection":
		return 118, true
	case "domain-search":
		return 119, true
	case "vivco-suboptions":
		return 124, true
	case "vivso-suboptions":
		return 125, true
	case "pana-agent":
		return 136, true
	case "v4-lost":
		return 137, true
	case "capwap-ac-v4":
		return 138, true
	case "sip-ua-cs-domains":
		return 141, true
	case "rdnss-selection":
		return 146, true
	case "v4-portparams":
		return 159, true
	case "option-6rd":
		return 212, true
	case "v4-access-domain":
		return 213, true
	}
	return 0, false
}
