package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// defaultSocket is the control socket of xdhcpd's embedded default
// configuration: the target when nothing names another.
const defaultSocket = "/run/xdhcp/xdhcp4-ctrl-socket"

// systemConfig is the configuration file read when the user has none.
const systemConfig = "/etc/xdhcp/xdhcpctl.conf"

// environment is what xdhcpctl reads besides its arguments; tests give
// their own.
type environment struct {
	getenv func(string) string
	// userConfigDir is os.UserConfigDir ($XDG_CONFIG_HOME or ~/.config).
	userConfigDir func() (string, error)
	systemConfig  string
	// terminal reports whether w is a terminal (tables by default).
	terminal func(w io.Writer) bool
}

func processEnvironment() environment {
	return environment{getenv: os.Getenv, userConfigDir: os.UserConfigDir, systemConfig: systemConfig, terminal: isTerminal}
}

// settingKeys are the keys of the configuration file; each is also a flag
// of the same name. envNames maps the ones the environment may set.
var settingKeys = []string{"url", "socket", "user", "password", "password-file", "ca", "cert", "key", "service", "timeout", "output"}

var envNames = map[string]string{
	"url": "XDHCPCTL_URL", "socket": "XDHCPCTL_SOCKET", "user": "XDHCPCTL_USER",
	"password-file": "XDHCPCTL_PASSWORD_FILE", "ca": "XDHCPCTL_CA", "cert": "XDHCPCTL_CERT",
	"key": "XDHCPCTL_KEY", "service": "XDHCPCTL_SERVICE", "timeout": "XDHCPCTL_TIMEOUT",
	"output": "XDHCPCTL_OUTPUT",
}

// layer is the settings one source gives: the flags, the environment or
// the configuration file.
type layer struct {
	// from names the source in messages: "flag", "environment", a file.
	from string
	vals map[string]string
}

func (l layer) has(keys ...string) bool {
	for _, k := range keys {
		if _, ok := l.vals[k]; ok {
			return true
		}
	}
	return false
}

// groups are settings taken whole from the first layer that sets any of
// them, so a user is never paired with another place's password, nor a
// certificate with another place's key: the target (url or socket), the
// credentials, and the client certificate.
var groups = [][]string{{"url", "socket"}, {"user", "password", "password-file"}, {"cert", "key"}}

// resolved is the outcome of merging layers: the value of each key and
// the layer it came from.
type resolved struct {
	vals map[string]string
	from map[string]string
}

func (r resolved) get(key string) (string, bool) {
	v, ok := r.vals[key]
	return v, ok
}

// merge applies the layers, first (highest precedence) first: a key or
// group comes from the first layer that sets it.
func merge(layers ...layer) resolved {
	r := resolved{vals: map[string]string{}, from: map[string]string{}}
	grouped := map[string][]string{}
	for _, g := range groups {
		for _, k := range g {
			grouped[k] = g
		}
	}
	for _, k := range settingKeys {
		keys := grouped[k]
		if keys == nil {
			keys = []string{k}
		}
		for _, l := range layers {
			if !l.has(keys...) {
				continue
			}
			if v, ok := l.vals[k]; ok {
				r.vals[k], r.from[k] = v, l.from
			}
			break
		}
	}
	return r
}

// envLayer reads the XDHCPCTL_* variables that are set and not empty.
func envLayer(env environment) layer {
	l := layer{from: "environment", vals: map[string]string{}}
	for _, k := range settingKeys {
		if name, ok := envNames[k]; ok {
			if v := env.getenv(name); v != "" {
				l.vals[k] = v
			}
		}
	}
	return l
}

// configPath picks the configuration file: -config, XDHCPCTL_CONFIG, the
// user's file, the system one. explicit says the user named it (a missing
// file is then an error); "" means none.
func configPath(flagValue string, flagSet bool, env environment) (path string, explicit bool) {
	if flagSet {
		return flagValue, true
	}
	if p := env.getenv("XDHCPCTL_CONFIG"); p != "" {
		return p, true
	}
	if dir, err := env.userConfigDir(); err == nil {
		p := filepath.Join(dir, "xdhcpctl", "config")
		if _, err := os.Stat(p); err == nil {
			return p, false
		}
	}
	if env.systemConfig != "" {
		if _, err := os.Stat(env.systemConfig); err == nil {
			return env.systemConfig, false
		}
	}
	return "", false
}

// loadConfig reads a configuration file: "key = value" lines, '#'
// comments, the keys of settingKeys. It refuses a file other users may
// change (it says where commands and credentials go) and a file holding a
// password that others may read.
func loadConfig(path string, explicit bool) (layer, error) {
	l := layer{from: path, vals: map[string]string{}}
	if path == "" {
		return l, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return l, fmt.Errorf("config file: %w", err)
	}
	if err := checkOwner(path, fi); err != nil {
		return l, err
	}
	known := map[string]bool{}
	for _, k := range settingKeys {
		known[k] = true
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case !ok:
			return l, fmt.Errorf("%s:%d: want key = value", path, n)
		case !known[k]:
			return l, fmt.Errorf("%s:%d: unknown key %q (known: %s)", path, n, k, strings.Join(settingKeys, ", "))
		case l.has(k):
			return l, fmt.Errorf("%s:%d: %s given twice", path, n, k)
		}
		l.vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("read %s: %w", path, err)
	}
	if l.has("password") && fi.Mode().Perm()&0o007 != 0 {
		return l, fmt.Errorf("%s holds a password and others may read it (mode %#o): chmod o-rwx %s, or use password-file",
			path, fi.Mode().Perm(), path)
	}
	return l, nil
}

// checkOwner refuses a file owned by another user (root excepted) or
// writable by group or others: whoever can change it can send this
// user's credentials to a server of their choosing.
func checkOwner(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s may be changed by group or others (mode %#o): refusing it", path, fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not by root or this user: refusing it", path, st.Uid)
	}
	return nil
}
