package config

// keaUnsupported lists keys that Kea 2.x/3.x accepts somewhere in Dhcp4 but
// xdhcp does not implement. Leftover keys in this set are reported as "not
// supported by xdhcp, ignored"; any other leftover key as "unknown key"
// (usually a typo). Read-only.
var keaUnsupported = map[string]struct{}{
	// DDNS (kea-dhcp-ddns is not part of xdhcp).
	"ddns-send-updates": {}, "ddns-override-no-update": {}, "ddns-override-client-update": {},
	"ddns-replace-client-name": {}, "ddns-generated-prefix": {}, "ddns-qualifying-suffix": {},
	"ddns-update-on-renew": {}, "ddns-use-conflict-resolution": {}, "ddns-conflict-resolution-mode": {},
	"ddns-ttl-percent": {}, "ddns-ttl": {}, "ddns-ttl-min": {}, "ddns-ttl-max": {},
	"hostname-char-set": {}, "hostname-char-replacement": {},
	// DHCPv4-over-DHCPv6.
	"dhcp4o6-port": {}, "4o6-interface": {}, "4o6-interface-id": {}, "4o6-subnet": {},
	// Configuration backends, queueing and allocation strategies.
	"config-control": {}, "dhcp-queue-control": {}, "allocator": {}, "pd-allocator": {},
	"offer-lifetime": {}, "stash-agent-options": {}, "compatibility": {},
	"adaptive-lease-time-threshold": {}, "template-test": {}, "http-headers": {},
	// interfaces-config knobs that only matter to Kea's socket layer.
	"outbound-interface": {}, "service-sockets-require-all": {},
	"service-sockets-max-retries": {}, "service-sockets-retry-wait-time": {},
	// Database connection parameters (memfile has none of them).
	"readonly": {}, "retry-on-startup": {}, "max-reconnect-tries": {}, "reconnect-wait-time": {},
	"connect-timeout": {}, "read-timeout": {}, "write-timeout": {}, "tcp-user-timeout": {},
	"host": {}, "port": {}, "user": {}, "password": {}, "trust-anchor": {}, "cert-file": {},
	"key-file": {}, "cipher-list": {}, "ssl-mode": {},
	// Reservation identifiers and fields that only apply to DHCPv6 or hooks.
	"duid": {}, "flex-id": {}, "prefixes": {}, "ip-addresses": {}, "excluded-prefixes": {},
}
