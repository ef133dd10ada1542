package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"xdhcp/config"
	"xdhcp/internal/testpki"
)

// envOf is an environment with the given variables, config directory
// and system config file, and stdout a terminal when terminal is set.
func envOf(vars map[string]string, userDir, system string, terminal bool) environment {
	env := noEnvironment()
	env.getenv = func(k string) string { return vars[k] }
	if userDir != "" {
		env.userConfigDir = func() (string, error) { return userDir, nil }
	}
	env.systemConfig = system
	env.terminal = func(io.Writer) bool { return terminal }
	return env
}

// TestPrecedence: flags beat the environment, which beats the config
// file; the target, the credentials and the client certificate are each
// taken whole from one place; nothing set means the daemon's default
// socket.
func TestPrecedence(t *testing.T) {
	file := layer{from: "/etc/xdhcp/xdhcpctl.conf", vals: map[string]string{
		"url": "https://file:8000/", "user": "fileuser", "password-file": "/file.pw",
		"ca": "/file-ca.pem", "timeout": "30s", "output": "json",
	}}
	env := envLayer(envOf(map[string]string{
		"XDHCPCTL_URL": "https://env:8000/", "XDHCPCTL_TIMEOUT": "20s", "XDHCPCTL_CONFIG": "/ignored",
	}, "", "", false))
	flags := func(kv ...string) layer {
		l := layer{from: "flag", vals: map[string]string{}}
		for i := 0; i < len(kv); i += 2 {
			l.vals[kv[i]] = kv[i+1]
		}
		return l
	}
	for _, c := range []struct {
		name     string
		layers   []layer
		terminal bool
		want     options // url, socket, user, passwordFile, ca, timeout, table
		err      string
	}{
		{name: "file alone", layers: []layer{file},
			want: options{url: "https://file:8000/", user: "fileuser", passwordFile: "/file.pw", ca: "/file-ca.pem", timeout: 30e9}},
		{name: "environment over file", layers: []layer{env, file},
			want: options{url: "https://env:8000/", user: "fileuser", passwordFile: "/file.pw", ca: "/file-ca.pem", timeout: 20e9}},
		{name: "flags over both", layers: []layer{flags("url", "https://flag:8000/", "timeout", "5s", "output", "table"), env, file},
			want: options{url: "https://flag:8000/", user: "fileuser", passwordFile: "/file.pw", ca: "/file-ca.pem", timeout: 5e9, table: true}},
		{name: "credentials whole from the flags", layers: []layer{flags("user", "ops"), env, file},
			err: "-user needs a password-file"},
		{name: "user alone in the environment", layers: []layer{envLayer(envOf(map[string]string{
			"XDHCPCTL_URL": "http://x/", "XDHCPCTL_USER": "ops"}, "", "", false)), file},
			err: "XDHCPCTL_USER needs a password-file"},
		{name: "credentials from the flags", layers: []layer{flags("user", "ops", "password-file", "/ops.pw"), env, file},
			want: options{url: "https://env:8000/", user: "ops", passwordFile: "/ops.pw", ca: "/file-ca.pem", timeout: 20e9}},
		{name: "a socket flag drops the URL's credentials", layers: []layer{flags("socket", "/run/a.sock"), env, file},
			want: options{socket: "/run/a.sock", timeout: 20e9}},
		{name: "socket and credentials flags", layers: []layer{flags("socket", "/run/a.sock", "user", "u", "password-file", "/p")},
			err: "-socket takes no authentication"},
		{name: "nothing set: the default socket", layers: nil, terminal: true,
			want: options{socket: defaultSocket, timeout: 10e9, table: true, defaultTarget: true}},
		{name: "credentials without a URL", layers: []layer{flags("user", "u", "password-file", "/p")},
			err: "-user needs -url: without one the target is the UNIX socket " + defaultSocket},
		{name: "url and socket in one place", layers: []layer{envLayer(envOf(map[string]string{
			"XDHCPCTL_URL": "http://x/", "XDHCPCTL_SOCKET": "/s"}, "", "", false))},
			err: "XDHCPCTL_URL and XDHCPCTL_SOCKET are mutually exclusive"},
		{name: "bad timeout names its source", layers: []layer{envLayer(envOf(map[string]string{"XDHCPCTL_TIMEOUT": "soon"}, "", "", false))},
			err: `XDHCPCTL_TIMEOUT: "soon" is not a positive duration`},
		{name: "bad output names its source", layers: []layer{{from: "/c", vals: map[string]string{"output": "yaml"}}},
			err: `output in /c: "yaml": want table or json`},
		{name: "piped output is JSON", layers: []layer{file}, terminal: false,
			want: options{url: "https://file:8000/", user: "fileuser", passwordFile: "/file.pw", ca: "/file-ca.pem", timeout: 30e9}},
	} {
		o, err := newOptions(merge(c.layers...), c.terminal)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || exitCode(err) != 2 {
				t.Errorf("%s: err = %v, want a usage error with %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := options{url: o.url, socket: o.socket, user: o.user, passwordFile: o.passwordFile, ca: o.ca,
			timeout: o.timeout, table: o.table, defaultTarget: o.defaultTarget}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// TestConfigFile: which file is read, its syntax, and the files refused
// because other users could read the password in them or change them.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	userDir := filepath.Join(dir, "home", ".config")
	system := writeFile(t, filepath.Join(dir, "etc", "xdhcpctl.conf"), "socket = /system.sock\n", 0o644)
	user := filepath.Join(userDir, "xdhcpctl", "config")
	named := writeFile(t, filepath.Join(dir, "named.conf"), "# mine\n\n  socket   =   /named.sock  \n", 0o600)

	pick := func(env environment, flagValue string, flagSet bool) string {
		p, explicit := configPath(flagValue, flagSet, env)
		l, err := loadConfig(p, explicit)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return l.vals["socket"]
	}
	noUser := envOf(nil, userDir, system, false)
	if got := pick(noUser, "", false); got != "/system.sock" {
		t.Errorf("without a user file: socket %q, want the system file's", got)
	}
	writeFile(t, user, "socket = /user.sock\n", 0o600)
	if got := pick(noUser, "", false); got != "/user.sock" {
		t.Errorf("with a user file: socket %q, want the user file's", got)
	}
	if got := pick(envOf(map[string]string{"XDHCPCTL_CONFIG": named}, userDir, system, false), "", false); got != "/named.sock" {
		t.Errorf("XDHCPCTL_CONFIG: socket %q", got)
	}
	if got := pick(envOf(map[string]string{"XDHCPCTL_CONFIG": named}, userDir, system, false), "", true); got != "" {
		t.Errorf(`-config "": socket %q, want no file read`, got)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing"), true); err == nil {
		t.Error("a missing -config file is not an error")
	}
	if l, err := loadConfig(filepath.Join(dir, "missing"), false); err != nil || len(l.vals) != 0 {
		t.Errorf("a missing default file: %v %v", l.vals, err)
	}

	for _, c := range []struct {
		name, text string
		mode       os.FileMode
		err        string
	}{
		{"unknown key", "url = http://x/\npasword = x\n", 0o600, ":2: unknown key \"pasword\""},
		{"no =", "url http://x/\n", 0o600, ":1: want key = value"},
		{"twice", "url = a\nurl = b\n", 0o600, ":2: url given twice"},
		{"password readable by others", "url = http://x/\nuser = u\npassword = s3cret\n", 0o644, "holds a password and others may read it"},
		{"writable by group", "url = http://x/\n", 0o664, "may be changed by group or others"},
		{"password private", "url = http://x/\nuser = u\npassword = s3cret\n", 0o640, ""},
		{"no password, readable", "url = http://x/\nuser = u\npassword-file = /p\n", 0o644, ""},
	} {
		p := writeFile(t, filepath.Join(dir, "c", strings.ReplaceAll(c.name, " ", "-")), c.text, c.mode)
		_, err := loadConfig(p, true)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: err = %v, want %q", c.name, err, c.err)
		}
	}
}

// TestSettingsReachTheServer: a URL, CA, client certificate and
// credentials from the config file and environment are what xdhcpctl
// really uses; a flag overrides them; a password file everybody may read
// gets a warning; a config file with a readable password is refused
// before anything is sent.
func TestSettingsReachTheServer(t *testing.T) {
	pki := testpki.New(t)
	port := freePort(t)
	startServer(t, config.ControlSocket{Type: "https", Address: "127.0.0.1", Port: port,
		TrustAnchor: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CertRequired: true,
		Auth: &config.Authentication{Type: "basic", Clients: []config.AuthClient{{User: "ops", Password: "s3cret"}}}})
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	startServer(t, config.ControlSocket{Type: "unix", SocketName: sock})
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "ops.pw"), "s3cret\n", 0o600)
	conf := writeFile(t, filepath.Join(dir, "xdhcpctl.conf"), strings.Join([]string{
		"# the control agent of dhcp1",
		"url = https://127.0.0.1:" + strconv.Itoa(port) + "/",
		"ca = " + pki.CAFile, "cert = " + pki.ClientCert, "key = " + pki.ClientKey,
		"user = ops", "password-file = " + pw, ""}, "\n"), 0o600)
	env := envOf(map[string]string{"XDHCPCTL_CONFIG": conf}, "", "", false)

	out, stderr, err := ctlIn(t, env, "echo")
	if err != nil {
		t.Fatalf("settings from the config file: %v", err)
	}
	if user := answerOf(t, out)["arguments"].(map[string]any)["user"]; user != "ops" || stderr != "" {
		t.Errorf("user = %v, stderr %q", user, stderr)
	}
	// The environment's socket beats the file's URL (and its credentials
	// are not offered to the socket).
	env.getenv = func(k string) string {
		return map[string]string{"XDHCPCTL_CONFIG": conf, "XDHCPCTL_SOCKET": sock}[k]
	}
	out, _, err = ctlIn(t, env, "echo")
	if err != nil {
		t.Fatalf("socket from the environment: %v", err)
	}
	if user := answerOf(t, out)["arguments"].(map[string]any)["user"]; user != "" {
		t.Errorf("user over the socket = %v", user)
	}
	// A flag beats both.
	if _, _, err := ctlIn(t, env, "-socket", filepath.Join(dir, "missing.sock"), "echo"); err == nil || exitCode(err) != 1 {
		t.Errorf("-socket flag to a missing socket: %v", err)
	}
	// A password file everybody may read works, with a warning.
	env.getenv = func(k string) string { return map[string]string{"XDHCPCTL_CONFIG": conf}[k] }
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := ctlIn(t, env, "echo"); err != nil || !strings.Contains(stderr, "readable by every user") {
		t.Errorf("world-readable password file: err %v, stderr %q", err, stderr)
	}
	// A config file holding a password others may read is refused.
	leaky := writeFile(t, filepath.Join(dir, "leaky.conf"), "url = https://127.0.0.1:"+strconv.Itoa(port)+"/\nuser = ops\npassword = s3cret\n", 0o644)
	if _, _, err := ctlIn(t, env, "-config", leaky, "echo"); err == nil || !strings.Contains(err.Error(), "others may read it") {
		t.Errorf("world-readable config with a password: %v", err)
	}
}

// TestHelpAndVersion: --help is a success on stdout that documents the
// output, environment and config file; -V prints the build.
func TestHelpAndVersion(t *testing.T) {
	for _, h := range []string{"-h", "--help", "-help"} {
		out, stderr, err := ctl(t, h)
		if err != nil || stderr != "" {
			t.Errorf("%s: err %v, stderr %q", h, err, stderr)
		}
		for _, want := range []string{"-o json", "XDHCPCTL_URL", "XDHCPCTL_PASSWORD_FILE", "~/.config/xdhcpctl/config",
			systemConfig, defaultSocket, "completion bash", "flags > ", "-password-file"} {
			if want == "flags > " {
				want = "flags, then the environment, then"
			}
			if !strings.Contains(out, want) {
				t.Errorf("%s: help lacks %q", h, want)
			}
		}
	}
	out, _, err := ctl(t, "-V")
	if err != nil || !strings.HasPrefix(out, "xdhcpctl: xdhcp ") || !strings.Contains(out, "commit ") {
		t.Errorf("-V: %q %v", out, err)
	}
	// -V ignores a broken config file (it sends nothing).
	env := envOf(map[string]string{"XDHCPCTL_CONFIG": "/nonexistent"}, "", "", false)
	if _, _, err := ctlIn(t, env, "-V"); err != nil {
		t.Errorf("-V with a missing config file: %v", err)
	}
	if _, _, err := ctlIn(t, env, "version-get"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing XDHCPCTL_CONFIG file: %v", err)
	}
}
