package main

// HA with a real Kea 2.2 partner laid out as Kea's HA quickstart lays it
// out: kea-dhcp4 behind kea-ctrl-agent, which serves the peer URL on port
// 8000; no HA multi-threading. xdhcpd, its own control agent, serves its
// peer URL itself. The same HA block on both sides, in both roles; then
// the same with basic authentication and with mutual TLS configured the
// way Kea's documentation configures them, and probes of what xdhcpd's
// peer listener refuses.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xdhcp/internal/lab"
	"xdhcp/internal/testpki"
)

// keaPeering is how the two servers of an interop pair reach each other.
type keaPeering struct {
	// mt: HA+MT dedicated listeners on port 8001. Otherwise the peer URLs
	// are on port 8000, served by kea-ctrl-agent on Kea's side and by
	// xdhcpd itself.
	mt bool
	// asWritten: the quickstart's HA block exactly, with Kea's default
	// timers (no failover phase then: it takes minutes).
	asWritten bool
	// auth: each peers entry carries the basic credentials its server's
	// control agent asks for (Kea's documented layout), and each
	// kea-ctrl-agent (and xdhcpd's Control-agent section) authorizes them.
	auth bool
	// tls: https peer URLs; each server has its own certificate, given in
	// the HA block and in its control agent with cert-required.
	tls map[string]peerTLS
	// mode is the HA mode (hot-standby when empty); server1 is the
	// primary, server2 the standby, secondary or backup.
	mode string
	// keaEnv is more environment for the Kea processes (kea-dhcp4 and
	// kea-ctrl-agent), e.g. a preloaded library.
	keaEnv []string
}

// haMode is the relationship's mode.
func (pr keaPeering) haMode() string {
	if pr.mode == "" {
		return "hot-standby"
	}
	return pr.mode
}

// subnet is the subnet both servers serve: in load-balancing, one pool per
// server's scope.
func (pr keaPeering) subnet() map[string]any {
	if pr.mode == "load-balancing" {
		return haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250|HA_server1", "10.99.2.1 - 10.99.2.250|HA_server2"}, nil)
	}
	return haSubnet(1, "10.99.0.0/16", []string{"10.99.1.1 - 10.99.1.250"}, nil)
}

// peerTLS is one server's TLS files.
type peerTLS struct{ ca, cert, key string }

// credsOf are the credentials server name's control agent asks for.
func credsOf(name string) (user, password string) { return "foo", "bar-" + name }

func (pr keaPeering) port() int {
	if pr.mt {
		return keaHAPort
	}
	return 8000
}

// rel is the HA block of server this; primary and standby are the
// servers' addresses.
func (pr keaPeering) rel(this, primary, standby string) map[string]any {
	scheme := "http"
	if pr.tls != nil {
		scheme = "https"
	}
	peer := func(name, ip, role string) map[string]any {
		p := map[string]any{"name": name, "url": fmt.Sprintf("%s://%s:%d/", scheme, ip, pr.port()), "role": role}
		if pr.auth {
			p["basic-auth-user"], p["basic-auth-password"] = credsOf(name)
		}
		return p
	}
	role2 := map[string]string{"hot-standby": "standby", "load-balancing": "secondary", "passive-backup": "backup"}[pr.haMode()]
	rel := map[string]any{"this-server-name": this, "mode": pr.haMode(),
		"peers": []any{peer("server1", primary, "primary"), peer("server2", standby, role2)}}
	if !pr.asWritten && pr.mode != "passive-backup" {
		for k, v := range map[string]any{"heartbeat-delay": 1000, "max-response-delay": 3000, "max-ack-delay": 1000, "max-unacked-clients": 0} {
			rel[k] = v
		}
	}
	if pr.mt {
		rel["multi-threading"] = map[string]any{"enable-multi-threading": true, "http-dedicated-listener": true,
			"http-listener-threads": 2, "http-client-threads": 2}
	}
	if f, ok := pr.tls[this]; ok {
		rel["trust-anchor"], rel["cert-file"], rel["key-file"] = f.ca, f.cert, f.key
	}
	return rel
}

// agent is the Control-agent section of server name at ip, forwarding
// to kea-dhcp4's UNIX socket sock (xdhcpd ignores it: it is the server).
func (pr keaPeering) agent(ip, sock, name string) map[string]any {
	a := map[string]any{"http-host": ip, "http-port": 8000,
		"control-sockets": map[string]any{"dhcp4": map[string]any{"socket-type": "unix", "socket-name": sock}}}
	if pr.auth {
		u, p := credsOf(name)
		a["authentication"] = map[string]any{"type": "basic", "realm": "kea-control-agent",
			"clients": []any{map[string]any{"user": u, "password": p}}}
	}
	if f, ok := pr.tls[name]; ok {
		a["trust-anchor"], a["cert-file"], a["key-file"], a["cert-required"] = f.ca, f.cert, f.key, true
	}
	return a
}

// shortSocket is a UNIX socket path short enough for sun_path (test
// temporary directories are not), removed at the end of the test.
func shortSocket(t *testing.T, name string) string {
	dir, err := os.MkdirTemp("", "xq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, name)
}

// TestE2EHAKeaQuickstart: the HA quickstart's configuration as written
// pairs xdhcpd with Kea 2.2 (kea-dhcp4 + kea-ctrl-agent), in both roles.
func TestE2EHAKeaQuickstart(t *testing.T) {
	t.Parallel()
	keaPairBothRoles(t, keaPeering{asWritten: true})
}

// needKeaAgent skips the test without kea-dhcp4, kea-ctrl-agent and Kea's
// hook libraries, and returns kea-dhcp4's path.
func needKeaAgent(t *testing.T) string {
	bin := needBinary(t, "kea-dhcp4")
	needBinary(t, "kea-ctrl-agent")
	needKeaHooks(t)
	return bin
}

// keaPairBothRoles runs testKeaPair with Kea as the primary, then as the
// standby.
func keaPairBothRoles(t *testing.T, pr keaPeering) {
	bin := needKeaAgent(t)
	t.Run("kea-primary", func(t *testing.T) { testKeaPair(t, bin, true, pr) })
	t.Run("kea-standby", func(t *testing.T) { testKeaPair(t, bin, false, pr) })
}

// TestE2EHAKeaBasicAuth: the pair over kea-ctrl-agent with basic
// authentication, failover and resync included, in both roles; xdhcpd's
// peer URL answers 401 without the credentials and 403 to a command a
// partner does not send.
func TestE2EHAKeaBasicAuth(t *testing.T) {
	t.Parallel()
	keaPairBothRoles(t, keaPeering{auth: true})
}

// TestE2EHAKeaMutualTLS: the pair over https with client certificates
// (kea-ctrl-agent with cert-required), failover and resync included, in
// both roles; xdhcpd's peer URL refuses a client without a certificate.
func TestE2EHAKeaMutualTLS(t *testing.T) {
	t.Parallel()
	pki := testpki.New(t)
	pr := keaPeering{tls: map[string]peerTLS{}}
	for name, ip := range map[string]string{"server1": "10.99.0.1", "server2": "10.99.0.2"} {
		cert, key := pki.Peer(t, name, net.ParseIP(ip))
		pr.tls[name] = peerTLS{pki.CAFile, cert, key}
	}
	keaPairBothRoles(t, pr)
}

// probePeerURL checks what xdhcpd's peer URL (at usIP, in usNode's
// namespace) refuses, from the Kea node's namespace (the partner's
// address) and from a non-partner address on the clients' segment.
func probePeerURL(t *testing.T, pr keaPeering, seg *haSeg, keaNode *haNode, keaName, usName, usIP string) {
	url := fmt.Sprintf("http://%s:%d/", usIP, pr.port())
	var partnerTLS *tls.Config
	if f, ok := pr.tls[keaName]; ok {
		url = strings.Replace(url, "http:", "https:", 1)
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			t.Fatal(err)
		}
		partnerTLS = &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}}
	}
	user, pass := "", ""
	if pr.auth {
		user, pass = credsOf(usName)
	}
	type probe struct {
		what       string
		ns         *lab.NS
		src        string
		tls        *tls.Config
		user, pass string
		cmd        string
		want       string
	}
	probes := []probe{
		{"partner, partner command", keaNode.ns, "", partnerTLS, user, pass, "ha-heartbeat", "200"},
		{"partner, config-get", keaNode.ns, "", partnerTLS, user, pass, "config-get", "403"},
		{"partner, config-write", keaNode.ns, "", partnerTLS, user, pass, "config-write", "403"},
	}
	if pr.auth {
		probes = append(probes,
			probe{"no credentials", keaNode.ns, "", partnerTLS, "", "", "ha-heartbeat", "401"},
			probe{"wrong password", keaNode.ns, "", partnerTLS, user, pass + "x", "ha-heartbeat", "401"})
	}
	if pr.tls != nil {
		probes = append(probes, probe{"no client certificate", keaNode.ns, "", &tls.Config{InsecureSkipVerify: true},
			user, pass, "ha-heartbeat", "refused"})
	}
	if !pr.auth && pr.tls == nil {
		stranger := "10.99.200.9"
		seg.env.addClientAddr(netip.MustParsePrefix(stranger + "/16"))
		probes = append(probes, probe{"non-partner address", seg.cli, stranger, nil, "", "", "config-get", "refused"})
	}
	for _, p := range probes {
		got := peerPost(p.ns, p.src, url, p.tls, p.user, p.pass, p.cmd)
		t.Logf("PROBE %s → %s (want %s)", p.what, got, p.want)
		if got != p.want {
			t.Errorf("probe %s: %s, want %s", p.what, got, p.want)
		}
	}
}

// peerPost posts command to url from inside ns (from source address src
// when set) and returns the HTTP status, or "refused" when the connection
// or the TLS handshake was refused or cut.
func peerPost(ns *lab.NS, src, url string, tc *tls.Config, user, pass, command string) string {
	d := &net.Dialer{Timeout: 3 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   tc,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := ns.Do(func() error {
				var err error
				conn, err = d.DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(`{"command": %q, "service": ["dhcp4"]}`, command)))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "refused"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return fmt.Sprint(resp.StatusCode)
}

// TestControlAgentFile: xdhcpd -a FILE reads a kea-ctrl-agent
// configuration as kea-ctrl-agent -c does; -t checks it with the rest.
func TestControlAgentFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("kea-dhcp4.conf", `{"Dhcp4": {"subnet4": [{"id": 1, "subnet": "10.0.0.0/24"}]}}`)
	good := write("good.conf", `{"Control-agent": {"http-host": "10.0.0.1", "http-port": 8000,
	  "authentication": {"type": "basic", "clients": [{"user": "foo", "password": "bar"}]}}}`)
	bad := write("bad.conf", `{"Control-agent": {"http-host": "ha1.example.net"}}`)
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"-t", cfg, "-a", good}, &out, &errOut); err != nil {
		t.Errorf("-a with kea-ctrl-agent's configuration: %v %s", err, errOut.String())
	}
	if err := run(context.Background(), []string{"-t", cfg, "-a", bad}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "http-host") {
		t.Errorf("-a with a host name: %v, want an error naming http-host", err)
	}
}
