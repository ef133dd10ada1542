package config

import (
	"strings"
	"testing"
)

// TestControlSocketHAPeerURL: an unauthenticated http control socket is
// refused everywhere, on this server's own HA peer URL too (it would take
// every command from anyone; xdhcpd serves that URL itself, for the
// partners only, when no control socket covers it).
func TestControlSocketHAPeerURL(t *testing.T) {
	doc := func(port, mt string) []byte {
		return dhcp4(`
		"control-sockets": [{"socket-type": "http", "socket-address": "192.0.2.1", "socket-port": ` + port + `}],
		"subnet4": [{"id": 1, "subnet": "10.0.0.0/24"}],
		"hooks-libraries": [{"library": "/usr/lib/kea/hooks/libdhcp_ha.so", "parameters": {"high-availability": [{
			"this-server-name": "me", "mode": "hot-standby",` + mt + ` "peers": [
			{"name": "me", "url": "http://192.0.2.1:8000/", "role": "primary"},
			{"name": "p", "url": "http://192.0.2.2:8000/", "role": "standby"}]}]}}]`)
	}
	if _, err := Parse(doc("8000", "")); err == nil || !strings.Contains(err.Error(), "on this server's HA peer URL without authentication") {
		t.Errorf("peer URL socket: err %v", err)
	}
	for name, data := range map[string][]byte{
		"other port":         doc("8001", ""),
		"dedicated listener": doc("8000", `"multi-threading": {"enable-multi-threading": true, "http-dedicated-listener": true},`),
	} {
		_, err := Parse(data)
		if err == nil || !strings.Contains(err.Error(), "http control socket on 192.0.2.1 without authentication") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// TestHookLibraryPaths: the hooks xdhcp acts on are held to the places
// Kea 2.6.3 loads hook libraries from.
func TestHookLibraryPaths(t *testing.T) {
	doc := func(lib string) []byte {
		return dhcp4(`"hooks-libraries": [{"library": "` + lib + `"}]`)
	}
	for _, lib := range []string{"libdhcp_lease_cmds.so", "/usr/lib/kea/hooks/libdhcp_lease_cmds.so",
		"/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so", "/usr/local/lib/kea/hooks/libdhcp_lease_cmds.so"} {
		mustParse(t, doc(lib))
	}
	for _, lib := range []string{"/tmp/libdhcp_lease_cmds.so", "/usr/lib/kea/hooks/../../../tmp/libdhcp_lease_cmds.so",
		"hooks/libdhcp_lease_cmds.so", "/home/x/kea/hooks/sub/libdhcp_lease_cmds.so"} {
		_, err := Parse(doc(lib))
		if err == nil || !strings.Contains(err.Error(), "hooks-libraries[0].library") {
			t.Errorf("%s: %v", lib, err)
		}
	}
	t.Setenv("KEA_HOOKS_PATH", "/opt/hooks")
	mustParse(t, doc("/opt/hooks/libdhcp_lease_cmds.so"))
}
