package config

import (
	"errors"
	"strings"
	"testing"
)

// Each case is one validation rule; want is the exact "path: message" of
// the error (or its start when the message ends in detail from elsewhere).
func TestValidationErrors(t *testing.T) {
	sub := func(extra string) string {
		return `"subnet4": [{"id": 1, "subnet": "10.0.0.0/24"` + extra + `}]`
	}
	tests := []struct {
		name string
		body string
		want string
	}{
		{"pool first after last", sub(`, "pools": [{"pool": "10.0.0.50-10.0.0.10"}]`),
			`Dhcp4.subnet4[0].pools[0].pool: "10.0.0.50-10.0.0.10": first address after last`},
		{"pool not an address", sub(`, "pools": [{"pool": "10.0.0.5 - banana"}]`),
			`Dhcp4.subnet4[0].pools[0].pool: "10.0.0.5 - banana": last address: not an IPv4 address`},
		{"pool outside subnet", sub(`, "pools": [{"pool": "10.0.0.10 - 10.0.1.10"}]`),
			`Dhcp4.subnet4[0].pools[0].pool: "10.0.0.10 - 10.0.1.10" is not inside subnet 10.0.0.0/24`},
		{"cidr pool outside subnet", sub(`, "pools": [{"pool": "10.0.0.0/23"}]`),
			`Dhcp4.subnet4[0].pools[0].pool: "10.0.0.0/23" is not inside subnet 10.0.0.0/24`},
		{"pools overlap", sub(`, "pools": [{"pool": "10.0.0.10-10.0.0.20"}, {"pool": "10.0.0.100-10.0.0.200"}, {"pool": "10.0.0.16/28"}]`),
			`Dhcp4.subnet4[0].pools[2].pool: 10.0.0.16-10.0.0.31 overlaps Dhcp4.subnet4[0].pools[0]`},
		{"pool without range", sub(`, "pools": [{"client-class": "x"}]`),
			`Dhcp4.subnet4[0].pools[0].pool: missing`},
		{"duplicate subnet id", `"subnet4": [{"id": 7, "subnet": "10.0.0.0/24"}, {"id": 7, "subnet": "10.0.1.0/24"}]`,
			`Dhcp4.subnet4[1].id: 7 is already the id of Dhcp4.subnet4[0]`},
		{"duplicate id across shared network", `"shared-networks": [{"name": "a", "subnet4": [{"id": 3, "subnet": "10.0.0.0/24"}]}], "subnet4": [{"id": 3, "subnet": "10.0.1.0/24"}]`,
			`Dhcp4.subnet4[0].id: 3 is already the id of Dhcp4.shared-networks[0].subnet4[0]`},
		{"subnet id too big", `"subnet4": [{"id": 4294967295, "subnet": "10.0.0.0/24"}]`,
			`Dhcp4.subnet4[0].id: 4294967295 is out of range [0, 4294967294]`},
		{"renew after rebind", `"renew-timer": 200, "subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "rebind-timer": 100}]`,
			`Dhcp4.subnet4[0]: renew-timer 200 is greater than rebind-timer 100`},
		{"subnet id not a number", `"subnet4": [{"id": "1", "subnet": "10.0.0.0/24"}]`,
			`Dhcp4.subnet4[0].id: expected an integer, got string`},
		{"bad prefix", `"subnet4": [{"id": 1, "subnet": "10.0.0.0/33"}]`,
			`Dhcp4.subnet4[0].subnet: "10.0.0.0/33" is not an IPv4 prefix`},
		{"ipv6 prefix", `"subnet4": [{"id": 1, "subnet": "2001:db8::/64"}]`,
			`Dhcp4.subnet4[0].subnet: "2001:db8::/64" is not an IPv4 prefix`},
		{"missing prefix", `"subnet4": [{"id": 1}]`,
			`Dhcp4.subnet4[0].subnet: missing`},
		{"duplicate prefix", `"subnet4": [{"id": 1, "subnet": "10.0.0.0/24"}, {"id": 2, "subnet": "10.0.0.0/24"}]`,
			`Dhcp4.subnet4[1].subnet: 10.0.0.0/24 is already the prefix of Dhcp4.subnet4[0]`},
		{"duplicate shared network name", `"shared-networks": [{"name": "a"}, {"name": "a"}]`,
			`Dhcp4.shared-networks[1].name: "a" is already the name of Dhcp4.shared-networks[0]`},
		{"reservation without identifier", sub(`, "reservations": [{"ip-address": "10.0.0.5"}]`),
			`Dhcp4.subnet4[0].reservations[0]: exactly one of hw-address, client-id, circuit-id, duid, flex-id is required, got 0`},
		{"reservation with two identifiers", sub(`, "reservations": [{"hw-address": "01:02:03:04:05:06", "client-id": "01:02"}]`),
			`Dhcp4.subnet4[0].reservations[0]: exactly one of hw-address, client-id, circuit-id, duid, flex-id is required, got 2 (hw-address, client-id)`},
		{"reservation bad hex", sub(`, "reservations": [{"hw-address": "zz:02"}]`),
			`Dhcp4.subnet4[0].reservations[0].hw-address: "zz:02": expected hex`},
		{"hw-address too long", sub(`, "reservations": [{"hw-address": "0x000102030405060708090a0b0c0d0e0f1011121314"}]`),
			`Dhcp4.subnet4[0].reservations[0].hw-address: "0x000102030405060708090a0b0c0d0e0f1011121314": identifier must be 1 to 20 bytes, got 21`},
		{"reservation outside subnet", sub(`, "reservations": [{"hw-address": "01:02:03:04:05:06", "ip-address": "10.0.9.5"}]`),
			`Dhcp4.subnet4[0].reservations[0].ip-address: 10.0.9.5 is not inside subnet 10.0.0.0/24`},
		{"reservation bad address", sub(`, "reservations": [{"hw-address": "01:02:03:04:05:06", "ip-address": "10.0.0"}]`),
			`Dhcp4.subnet4[0].reservations[0].ip-address: "10.0.0": not an IPv4 address`},
		{"duplicate identifier", sub(`, "reservations": [{"hw-address": "01:02:03:04:05:06"}, {"hw-address": "0x010203040506"}]`),
			`Dhcp4.subnet4[0].reservations[1].hw-address: 01:02:03:04:05:06 is also reserved at Dhcp4.subnet4[0].reservations[0]`},
		{"duplicate reserved ip", sub(`, "reservations": [{"hw-address": "01:02:03:04:05:06", "ip-address": "10.0.0.5"}, {"client-id": "'abc'", "ip-address": "10.0.0.5"}]`),
			`Dhcp4.subnet4[0].reservations[1].ip-address: 10.0.0.5 is also reserved at Dhcp4.subnet4[0].reservations[0]`},
		{"duplicate global reservation", `"reservations": [{"circuit-id": "'port1'"}, {"circuit-id": "70:6f:72:74:31"}]`,
			`Dhcp4.reservations[1].circuit-id: 70:6f:72:74:31 is also reserved at Dhcp4.reservations[0]`},
		{"class without name", `"client-classes": [{"test": "member('ALL')"}]`,
			`Dhcp4.client-classes[0].name: client class needs a non-empty name`},
		{"duplicate class", `"client-classes": [{"name": "a"}, {"name": "a"}]`,
			`Dhcp4.client-classes[1].name: class "a" is already defined at Dhcp4.client-classes[0]`},
		{"builtin class", `"client-classes": [{"name": "KNOWN"}]`,
			`Dhcp4.client-classes[0].name: "KNOWN" is a built-in class and cannot be defined`},
		{"member before definition", `"client-classes": [{"name": "a", "test": "member('b')"}, {"name": "b", "test": "member('ALL')"}]`,
			`Dhcp4.client-classes[0].test: member('b') refers to a class not defined before this one`},
		{"member of itself", `"client-classes": [{"name": "a", "test": "member('a')"}]`,
			`Dhcp4.client-classes[0].test: member('a') refers to a class not defined before this one`},
		{"test does not compile", `"client-classes": [{"name": "a", "test": "option[60].text =="}]`,
			`Dhcp4.client-classes[0].test: "option[60].text ==": `},
		{"class lifetime bounds", `"client-classes": [{"name": "a", "min-valid-lifetime": 500, "valid-lifetime": 100}]`,
			`Dhcp4.client-classes[0].min-valid-lifetime: 500 is greater than valid-lifetime 100`},
		{"valid outside bounds", `"valid-lifetime": 50, "min-valid-lifetime": 100, "max-valid-lifetime": 200`,
			`Dhcp4.valid-lifetime: 50 is not between min-valid-lifetime 100 and max-valid-lifetime 200`},
		{"max below valid", `"valid-lifetime": 500, "max-valid-lifetime": 200`,
			`Dhcp4.max-valid-lifetime: 200 is less than valid-lifetime 500`},
		// Globally, valid-lifetime has Kea's default before the bounds are checked.
		{"min and max without valid", `"min-valid-lifetime": 10, "max-valid-lifetime": 20`,
			`Dhcp4.valid-lifetime: 7200 is not between min-valid-lifetime 10 and max-valid-lifetime 20`},
		{"subnet min and max without valid", `"valid-lifetime": 15, "subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "min-valid-lifetime": 10, "max-valid-lifetime": 20, "valid-lifetime": 30}]`,
			`Dhcp4.subnet4[0].valid-lifetime: 30 is not between min-valid-lifetime 10 and max-valid-lifetime 20`},
		{"subnet valid outside global bounds", `"min-valid-lifetime": 100, "max-valid-lifetime": 9000, "subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "valid-lifetime": 50}]`,
			`Dhcp4.subnet4[0].valid-lifetime: 50 is not between min-valid-lifetime 100 and max-valid-lifetime 9000`},
		{"min above max", `"valid-lifetime": 15, "min-valid-lifetime": 30, "max-valid-lifetime": 20`,
			`Dhcp4.min-valid-lifetime: 30 is greater than max-valid-lifetime 20`},
		{"negative lifetime", `"valid-lifetime": -1`,
			`Dhcp4.valid-lifetime: -1 is out of range [0, 4294967295]`},
		{"lifetime as string", `"valid-lifetime": "3600"`,
			`Dhcp4.valid-lifetime: expected an integer, got string`},
		{"database without a name", `"lease-database": {"type": "mysql", "user": "kea", "password": "x"}`,
			`Dhcp4.lease-database.name: a mysql lease database needs the database name`},
		{"lease database of another type", `"lease-database": {"type": "cql", "name": "kea"}`,
			`Dhcp4.lease-database.type: "cql" is not one of memfile, mysql, postgresql`},
		{"hosts-databases entry of another type", `"hosts-databases": [{"type": "cql"}]`,
			`Dhcp4.hosts-databases[0].type: "cql" is not one of memfile, mysql, postgresql`},
		{"misspelt key", `"valid-lifetme": 10`,
			`Dhcp4.valid-lifetme: unknown key: Kea 2.2 does not accept "valid-lifetme" here either`},
		{"misspelt key in a pool", sub(`, "pools": [{"pool": "10.0.0.5-10.0.0.9", "client-clas": "a"}]`),
			`Dhcp4.subnet4[0].pools[0].client-clas: unknown key`},
		{"Kea key in the wrong map", sub(`, "decline-probation-period": 10`),
			`Dhcp4.subnet4[0].decline-probation-period: unknown key`},
		{"integer for a float", `"t1-percent": 1`,
			`Dhcp4.t1-percent: expected a floating point number (such as 1.0), got the integer 1`},
		{"float for an integer", `"valid-lifetime": 10.0`,
			`Dhcp4.valid-lifetime: 10.0 is not an integer`},
		{"not implemented key of the wrong type", `"ddns-send-updates": "yes"`,
			`Dhcp4.ddns-send-updates: expected true or false, got string`},
		{"not implemented enum", `"ddns-replace-client-name": "sometimes"`,
			`Dhcp4.ddns-replace-client-name: "sometimes" is not one of when-present, never, always, when-not-present`},
		{"inside a map not implemented", `"config-control": {"config-databases": [{"type": "mysql", "nmae": "kea"}]}`,
			`Dhcp4.config-control.config-databases[0].nmae: unknown key`},
		{"enum in any case", `"dhcp-ddns": {"enable-updates": false, "ncr-protocol": "TCP"}`,
			`Dhcp4.dhcp-ddns.ncr-protocol: "TCP" is not one of udp`},
		{"required in a map not implemented", `"dhcp-queue-control": {"capacity": 5}`,
			`Dhcp4.dhcp-queue-control.enable-queue: missing: Kea 2.2 requires it here`},
		{"empty map Kea refuses", `"interfaces-config": {}`,
			`Dhcp4.interfaces-config: empty map: Kea 2.2 refuses it`},
		{"user-context not a map", `"user-context": "x"`,
			`Dhcp4.user-context: expected a JSON object, got string`},
		{"comment where Kea takes none", `"expired-leases-processing": {"comment": "x"}`,
			`Dhcp4.expired-leases-processing.comment: unknown key`},
		{"top-level section", `"valid-lifetime": 10}, "Logging": {"loggers": []`,
			`Logging: unknown top-level section`},
		{"cache-threshold too big", `"cache-threshold": 1.5`,
			`Dhcp4.cache-threshold: 1.5 must be greater than 0 and less than 1`},
		{"cache-threshold zero in subnet", sub(`, "cache-threshold": 0.0`),
			`Dhcp4.subnet4[0].cache-threshold: 0 must be greater than 0 and less than 1`},
		{"t1-percent", `"t1-percent": 1.2`,
			`Dhcp4.t1-percent: 1.2 must be greater than 0 and less than 1`},
		{"t1 not below t2", `"calculate-tee-times": true, "t1-percent": 0.9, "t2-percent": 0.8, ` + sub(""),
			`Dhcp4.subnet4[0]: t1-percent 0.9 must be less than t2-percent 0.8`},
		{"reservation-mode with flags", `"reservation-mode": "all", "reservations-global": true`,
			`Dhcp4.reservation-mode: cannot be combined with reservations-global`},
		{"reservation-mode bogus", `"reservation-mode": "some"`,
			`Dhcp4.reservation-mode: "some" is not one of disabled, off, global, out-of-pool, all`},
		{"next-server not ipv4", `"next-server": "::1"`,
			`Dhcp4.next-server: "::1": not an IPv4 address`},
		{"server-hostname too long", `"server-hostname": "` + strings.Repeat("h", 64) + `"`,
			`Dhcp4.server-hostname: "` + strings.Repeat("h", 64) + `" is longer than 63 bytes`},
		{"relay not ipv4", sub(`, "relay": {"ip-addresses": ["10.1.1.1", "fe80::1"]}`),
			`Dhcp4.subnet4[0].relay.ip-addresses[1]: "fe80::1": not an IPv4 address`},
		{"interface address", `"interfaces-config": {"interfaces": ["eth0/10.0.0.300"]}`,
			`Dhcp4.interfaces-config.interfaces[0]: "eth0/10.0.0.300": not an IPv4 address after '/'`},
		{"socket type", `"interfaces-config": {"dhcp-socket-type": "tcp"}`,
			`Dhcp4.interfaces-config.dhcp-socket-type: "tcp" is not one of raw, udp`},
		{"unknown option name", `"option-data": [{"name": "routerz", "data": "10.0.0.1"}]`,
			`Dhcp4.option-data[0].name: "routerz" is not a known option of space dhcp4 (define it with option-def)`},
		{"option data not ipv4", `"option-data": [{"name": "routers", "data": "10.0.0.1, 10.0.0"}]`,
			`Dhcp4.option-data[0].data: "10.0.0.1, 10.0.0": "10.0.0": not an IPv4 address`},
		{"option uint8 overflow", `"option-data": [{"name": "default-ip-ttl", "data": "256"}]`,
			`Dhcp4.option-data[0].data: "256": "256" is not an integer in [0, 255]`},
		{"option bad hex", `"option-data": [{"code": 224, "csv-format": false, "data": "0xzz"}]`,
			`Dhcp4.option-data[0].data: "0xzz": `},
		{"option name and code disagree", `"option-data": [{"name": "routers", "code": 6, "data": "10.0.0.1"}]`,
			`Dhcp4.option-data[0].code: 6 does not match option "routers" (code 3)`},
		{"option code pad", `"option-data": [{"code": 0, "csv-format": false, "data": "01"}]`,
			`Dhcp4.option-data[0].code: 0 is reserved (pad/end) and cannot be configured`},
		{"undefined option with csv", `"option-data": [{"code": 224, "csv-format": true, "data": "abc"}]`,
			`Dhcp4.option-data[0]: option 224 of space dhcp4 has no definition: define it with option-def or give its data in hex with csv-format false`},
		{"option without data", `"option-data": [{"name": "subnet-mask"}]`,
			`Dhcp4.option-data[0].data: "": no option value specified`},
		{"vendor option too long", `"option-data": [{"name": "tftp-servers", "space": "vendor-4491", "data": "` +
			strings.Repeat("10.0.0.1,", 64) + `"}]`,
			`Dhcp4.option-data[0].data: encodes to 256 bytes, more than the 255 a vendor option can hold`},
		{"bad boolean option", `"option-data": [{"name": "ip-forwarding", "data": "yes"}]`,
			`Dhcp4.option-data[0].data: "yes": "yes" is not a boolean (true, false, 1, 0)`},
		{"bad fqdn", `"option-data": [{"name": "domain-search", "data": "example.com, a..b"}]`,
			`Dhcp4.option-data[0].data: "example.com, a..b": "a..b": labels must be 1 to 63 characters`},
		{"option 121 unknown to Kea 2.2", `"option-data": [{"name": "classless-static-route", "data": "10.0.0.0/8 - 10.0.0.1"}]`,
			`Dhcp4.option-data[0].name: "classless-static-route" is not a known option of space dhcp4`},
		{"option-def redefines standard", `"option-def": [{"name": "my-routers", "code": 3, "type": "ipv4-address"}]`,
			`Dhcp4.option-def[0].code: 3: cannot redefine standard option "routers" of space dhcp4`},
		{"class option-def not 43", `"client-classes": [{"name": "a", "option-def": [{"name": "x", "code": 200, "type": "string"}]}]`,
			`Dhcp4.client-classes[0].option-def[0].code: 200: a client class may only define option 43`},
		{"https without certificates", `"control-sockets": [{"socket-type": "https", "socket-port": 8443}]`,
			`Dhcp4.control-sockets[0]: socket-type https needs cert-file and key-file`},
		{"http with tls files", `"control-sockets": [{"socket-type": "http", "cert-file": "/c.pem"}]`,
			`Dhcp4.control-sockets[0]: TLS files are set but socket-type is http; use https`},
		{"http control without auth", `"control-sockets": [{"socket-type": "http"}]`,
			`Dhcp4.control-sockets[0]: http control socket without authentication: any local user could run every command`},
		{"https control without auth or client certificates", `"control-sockets": [{"socket-type": "https", "cert-file": "/c", "key-file": "/k", "cert-required": false}]`,
			`Dhcp4.control-sockets[0]: https control socket without authentication`},
		{"insecure key is for loopback only", `"control-sockets": [{"socket-type": "http", "socket-address": "0.0.0.0"}], "xdhcp": {"insecure-unauthenticated-loopback-control": true}`,
			`Dhcp4.control-sockets[0]: http control socket on 0.0.0.0 without authentication: anyone who reaches it could run every command`},
		{"control port range", `"control-sockets": [{"socket-type": "http", "socket-port": 70000}]`,
			`Dhcp4.control-sockets[0].socket-port: 70000 is out of range [1, 65535]`},
		{"control-socket http is Kea 3 only", `"control-socket": {"socket-type": "http"}`,
			`Dhcp4.control-socket.socket-type: "http" is not one of unix`},
		{"unix socket without name", `"control-sockets": [{"socket-type": "unix"}]`,
			`Dhcp4.control-sockets[0].socket-name: a unix control socket needs a socket-name`},
		{"auth type", `"control-sockets": [{"socket-type": "http", "authentication": {"type": "digest", "clients": [{"user": "a", "password": "b"}]}}]`,
			`Dhcp4.control-sockets[0].authentication.type: "digest" is not one of basic`},
		{"auth client without user", `"control-sockets": [{"socket-type": "http", "authentication": {"type": "basic", "clients": [{"password": "b"}]}}]`,
			`Dhcp4.control-sockets[0].authentication.clients[0]: a client needs user or user-file`},
		{"hook without library", `"hooks-libraries": [{"parameters": {}}]`,
			`Dhcp4.hooks-libraries[0].library: missing hook library path`},
		{"bad host identifier", `"host-reservation-identifiers": ["mac"]`,
			`Dhcp4.host-reservation-identifiers[0]: "mac" is not a host reservation identifier`},
		{"xdp mode", `"xdhcp": {"xdp": {"mode": "fast"}}`,
			`Dhcp4.xdhcp.xdp.mode: "fast" is not one of native, generic, auto, off`},
		{"overload order", `"xdhcp": {"overload-high": 0.3, "overload-low": 0.5}`,
			`Dhcp4.xdhcp.overload-low: 0.5 must be below overload-high 0.3`},
		{"durability", `"xdhcp": {"durability": "maybe"}`,
			`Dhcp4.xdhcp.durability: "maybe" is not one of fsync, none`},
		{"telemetry without port", `"xdhcp": {"telemetry": {"address": "127.0.0.1"}}`,
			`Dhcp4.xdhcp.telemetry: port is required`},
		{"telemetry address", `"xdhcp": {"telemetry": {"address": "localhost", "port": 9547}}`,
			`Dhcp4.xdhcp.telemetry.address: "localhost" is not an IP address`},
		{"subnet4 not a list", `"subnet4": {"id": 1}`,
			`Dhcp4.subnet4: expected a JSON array, got object`},
		{"logger severity", `"loggers": [{"name": "kea-dhcp4", "severity": "LOUD"}]`,
			`Dhcp4.loggers[0].severity: "LOUD" is not one of FATAL, ERROR, WARN, INFO, DEBUG, NONE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(dhcp4(tt.body))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("error:\n%v\nwant a line starting with:\n%s", err, tt.want)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, err := Parse(dhcp4(`"valid-lifetime": "x", "subnet4": [
		{"id": 1, "subnet": "10.0.0.0/24", "pools": [{"pool": "10.0.0.9-10.0.0.1"}]},
		{"id": 1, "subnet": "10.0.1.0/24", "reservations": [{"ip-address": "10.0.1.1"}]}],
		"lease-database": {"type": "postgresql"}`))
	if err == nil {
		t.Fatal("no error")
	}
	var fes []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) {
			fes = append(fes, fe.Path)
		}
	}
	want := []string{"Dhcp4.lease-database.name", "Dhcp4.valid-lifetime", "Dhcp4.subnet4[0].pools[0].pool", "Dhcp4.subnet4[1].reservations[0]", "Dhcp4.subnet4[1].id"}
	if strings.Join(fes, " ") != strings.Join(want, " ") {
		t.Errorf("paths %q, want %q", fes, want)
	}
}

func TestDocumentErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"missing Dhcp4", `{"Dhcp6": {}}`, "Dhcp4: missing"},
		{"Dhcp4 not an object", `{"Dhcp4": []}`, "Dhcp4: expected a JSON object, got array"},
		{"top level not an object", `[1]`, "line 1 col 1: syntax error, unexpected [, expecting {"},
		{"syntax error line", "{\n  \"Dhcp4\": {\n    \"valid-lifetime\": 10 \"x\",\n  }\n}", `Dhcp4: line 3 col 26: syntax error, unexpected constant string, expecting "," or }`},
		{"unterminated block comment", "{\"Dhcp4\": {}} /* open", "line 1 col 15: Comment not closed. (/* in line 1)"},
		{"include without file system", "{\"Dhcp4\": <?include \"d.json\"?>}", `line 1 col 11: <?include "d.json"?> is only supported when loading from a file`},
		{"empty", ``, "line 1 col 1: syntax error, unexpected end of file, expecting {"},
		{"both xdhcp sections", `{"Dhcp4": {"xdhcp": {}}, "xdhcp": {}}`, "xdhcp: set both here and in Dhcp4.xdhcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// Kea takes id 0 for "assign one"; so does xdhcp, after the highest id.
func TestSubnetIDZeroIsAssigned(t *testing.T) {
	c := mustParse(t, dhcp4(`"subnet4": [{"id": 0, "subnet": "10.0.0.0/24"}, {"id": 5, "subnet": "10.0.1.0/24"}]`))
	if c.Subnets[0].ID != 6 || c.Subnets[1].ID != 5 {
		t.Errorf("ids %d %d", c.Subnets[0].ID, c.Subnets[1].ID)
	}
}

// kea-dhcp4 -t refuses interfaces the machine lacks; CheckInterfaces
// names each with its JSON path.
func TestCheckInterfaces(t *testing.T) {
	c := mustParse(t, dhcp4(`"interfaces-config": {"interfaces": ["eth0", "*", "eth9/10.0.0.1"]},
		"shared-networks": [{"name": "n", "interface": "eth8", "subnet4": [{"id": 1, "subnet": "10.0.0.0/24", "interface": "eth7"}]}]`))
	err := c.CheckInterfaces(func(name string) bool { return name == "eth0" })
	want := `Dhcp4.interfaces-config.interfaces[2]: interface "eth9" does not exist on this system
Dhcp4.shared-networks[0].interface: interface "eth8" does not exist on this system
Dhcp4.shared-networks[0].subnet4[0].interface: interface "eth7" does not exist on this system`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if err := c.CheckInterfaces(func(string) bool { return true }); err != nil {
		t.Error(err)
	}
}

// Kea takes an empty lease file name for its default file.
func TestEmptyLeaseFileNameIsDefault(t *testing.T) {
	c := mustParse(t, dhcp4(`"lease-database": {"type": "memfile", "name": ""}`))
	if c.LeaseDatabase.Name != defaultLeaseFile {
		t.Errorf("lease file %q", c.LeaseDatabase.Name)
	}
}
