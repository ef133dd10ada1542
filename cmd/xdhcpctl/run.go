package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"xdhcp/control/client"
	"xdhcp/internal/buildinfo"
	"xdhcp/internal/cli"
)

// usageError is a command-line mistake (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// options are the settings a run uses, merged from flags, environment
// and configuration file.
type options struct {
	url, socket                  string
	user, password, passwordFile string
	ca, cert, key                string
	service                      string
	timeout                      time.Duration
	table                        bool
	// defaultTarget says nothing named the target: the socket is the
	// daemon's default one.
	defaultTarget bool
	// warn receives warnings (a password file others may read).
	warn io.Writer
}

const usageText = `usage: xdhcpctl [flags] COMMAND [ARGS]
       xdhcpctl completion bash|zsh
       xdhcpctl db-init|db-version pgsql|mysql -name DB -user U ... (see xdhcpctl db-init -h)
       xdhcpctl -V

Sends one Kea control command to xdhcpd (or Kea) and prints the answer.
ARGS is one JSON object ('{"ip-address":"10.0.0.5"}') or key=value pairs
(ip-address=10.0.0.5 subnet-id=1); a value that is valid JSON other than null
(number, boolean, object, list, quoted string) is sent as such, anything else
as a string.

Target: the UNIX socket ` + defaultSocket + ` (the daemon's
default control socket) unless -url or -socket (or XDHCPCTL_URL/_SOCKET, or
url/socket in the config file) names another. Over a UNIX socket the file's
permissions are the authentication; over HTTP(S) give -user and
-password-file (never a password on the command line: ps shows it).

Output (-o): table or json. The default is a table when stdout is a
terminal and the command has one (lease4-get*, statistic-get(-all),
status-get, ha-heartbeat), else JSON, so scripts and pipes get JSON;
-o json (or -j) forces JSON, -o table a table. Other commands print JSON.

Settings come from, first match wins: flags, then the environment, then
the config file. The target (url or socket), the credentials (user with
password or password-file) and the client certificate (cert with key) are
each taken whole from one place, never mixed.
  environment: XDHCPCTL_URL, XDHCPCTL_SOCKET, XDHCPCTL_USER,
    XDHCPCTL_PASSWORD_FILE, XDHCPCTL_CA, XDHCPCTL_CERT, XDHCPCTL_KEY,
    XDHCPCTL_SERVICE, XDHCPCTL_TIMEOUT, XDHCPCTL_OUTPUT, and
    XDHCPCTL_CONFIG (the config file to read)
  config file: -config FILE, else $XDHCPCTL_CONFIG, else
    ~/.config/xdhcpctl/config ($XDG_CONFIG_HOME), else ` + systemConfig + `;
    "key = value" lines with the flag names as keys, # comments:
      url = https://dhcp1:8000/
      user = ops
      password-file = /etc/xdhcp/ops.pw
      ca = /etc/xdhcp/ca.pem
    A config file others may write to is refused; one holding a password
    must not be readable by others either. A password file others may
    read is used with a warning.

Shell completion: source <(xdhcpctl completion bash)

Exit status: 0 on result 0 or 3, 1 on another result or a transport error,
2 on a usage error.

Examples:
  xdhcpctl lease4-get-all
  xdhcpctl statistic-get name=pkt4-ack-sent
  xdhcpctl -o json lease4-get ip-address=10.77.0.10 | jq .arguments
  XDHCPCTL_URL=https://dhcp1:8000/ XDHCPCTL_USER=ops XDHCPCTL_PASSWORD_FILE=~/.ops.pw \
    xdhcpctl -ca ca.pem status-get

flags:
`

// flagKeys maps flags to the setting keys they set (same name unless
// listed).
var flagKeys = map[string]string{"o": "output"}

// run parses args, sends the command and prints the answer to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runIn(ctx, processEnvironment(), args, stdout, stderr)
}

// runIn is run with the environment given.
func runIn(ctx context.Context, env environment, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("xdhcpctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.String("url", "", "HTTP(S) control URL, e.g. https://dhcp1:8000/")
	fs.String("socket", "", "UNIX control socket path (default "+defaultSocket+" when no URL is set)")
	fs.String("user", "", "basic-auth user")
	fs.String("password", "", "basic-auth password (visible in ps: use -password-file)")
	fs.String("password-file", "", "file holding the password, or user:password without -user")
	fs.String("ca", "", "CA file to verify the server certificate (default: system roots)")
	fs.String("cert", "", "client certificate file (mutual TLS)")
	fs.String("key", "", "client key file (mutual TLS)")
	fs.String("service", "dhcp4", `"service" of the command; empty to omit`)
	fs.String("timeout", "10s", "time limit for the whole exchange")
	fs.String("o", "", "output: table or json (default: table on a terminal, else json)")
	asJSON := fs.Bool("j", false, "JSON output (same as -o json)")
	configFlag := fs.String("config", "", "config file (default ~/.config/xdhcpctl/config, else "+systemConfig+")")
	version := fs.Bool("V", false, "print version and commit, and exit")
	if help, err := cli.Parse(fs, args, stdout, stderr); help || err != nil {
		if err != nil {
			return &usageError{msg: err.Error()}
		}
		return nil
	}
	if *version {
		_, err := fmt.Fprintln(stdout, "xdhcpctl:", buildinfo.Read())
		return err
	}
	if fs.Arg(0) == "completion" {
		return printCompletion(stdout, fs.Args()[1:])
	}
	if dbCommand(fs.Arg(0)) {
		return runDB(ctx, env, fs.Args(), stdout, stderr)
	}
	flags := layer{from: "flag", vals: map[string]string{}}
	configSet := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "config":
			configSet = true
		case "j", "V":
		default:
			k := f.Name
			if fk, ok := flagKeys[k]; ok {
				k = fk
			}
			flags.vals[k] = f.Value.String()
		}
	})
	if *asJSON {
		if o, ok := flags.vals["output"]; ok && o != "json" {
			return usagef("-j and -o %s contradict each other", o)
		}
		flags.vals["output"] = "json"
	}
	path, explicit := configPath(*configFlag, configSet, env)
	file, err := loadConfig(path, explicit)
	if err != nil {
		return err
	}
	o, err := newOptions(merge(flags, envLayer(env), file), env.terminal(stdout))
	if err != nil {
		return err
	}
	o.warn = stderr
	if fs.NArg() == 0 {
		fs.Usage()
		return usagef("no command given")
	}
	body, err := buildCommand(fs.Arg(0), fs.Args()[1:], o.service)
	if err != nil {
		return err
	}

	c, err := o.client()
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := send(ctx, c, body)
	if err != nil && o.defaultTarget {
		return fmt.Errorf("%w (the default control socket: is xdhcpd running on this host? -url or -socket names another)", err)
	}
	if err != nil {
		return err
	}
	return printAnswer(stdout, fs.Arg(0), raw, o.table, time.Local)
}

// name is how a setting is named in a message: the flag, or the source.
func (r resolved) name(key string) string {
	switch from := r.from[key]; from {
	case "flag":
		if key == "output" {
			return "-o"
		}
		return "-" + key
	case "environment":
		return envNames[key]
	default:
		return key + " in " + from
	}
}

// newOptions checks the merged settings and turns them into options;
// terminal says whether stdout is one.
func newOptions(r resolved, terminal bool) (*options, error) {
	o := &options{service: "dhcp4", timeout: 10 * time.Second}
	o.url, _ = r.get("url")
	o.socket, _ = r.get("socket")
	if s, ok := r.get("service"); ok {
		o.service = s
	}
	if s, ok := r.get("timeout"); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, usagef("%s: %q is not a positive duration (such as 10s)", r.name("timeout"), s)
		}
		o.timeout = d
	}
	switch out, _ := r.get("output"); out {
	case "", "auto":
		o.table = terminal
	case "table":
		o.table = true
	case "json":
	default:
		return nil, usagef("%s: %q: want table or json", r.name("output"), out)
	}
	_, urlSet := r.get("url")
	_, socketSet := r.get("socket")
	if urlSet && socketSet {
		return nil, usagef("%s and %s are mutually exclusive", r.name("url"), r.name("socket"))
	}
	o.user, _ = r.get("user")
	o.password, _ = r.get("password")
	o.passwordFile, _ = r.get("password-file")
	o.ca, _ = r.get("ca")
	o.cert, _ = r.get("cert")
	o.key, _ = r.get("key")
	if !urlSet {
		// A UNIX socket: its file mode is the authentication. Credentials
		// or TLS named on the command line are a mistake; ones from the
		// environment or the config file belong to a URL set there, which
		// the socket overrides.
		for _, k := range []string{"user", "password", "password-file", "ca", "cert", "key"} {
			if _, ok := r.get(k); !ok || r.from[k] != "flag" {
				continue
			}
			if !socketSet {
				return nil, usagef("-%s needs -url: without one the target is the UNIX socket %s", k, defaultSocket)
			}
			return nil, usagef("%s takes no authentication or TLS flags (the socket is protected by file permissions)", r.name("socket"))
		}
		o.user, o.password, o.passwordFile, o.ca, o.cert, o.key = "", "", "", "", "", ""
		if !socketSet {
			o.socket, o.defaultTarget = defaultSocket, true
		}
		return o, nil
	}
	if err := o.check(r); err != nil {
		return nil, err
	}
	return o, nil
}

// check rejects contradictory credentials, naming where each came from.
func (o *options) check(r resolved) error {
	if o.password != "" && o.passwordFile != "" {
		return usagef("%s and %s are mutually exclusive", r.name("password"), r.name("password-file"))
	}
	if o.password != "" && o.user == "" {
		return usagef("%s needs a user", r.name("password"))
	}
	if o.user != "" && o.password == "" && o.passwordFile == "" {
		return usagef("%s needs a password-file (or password)", r.name("user"))
	}
	if (o.cert == "") != (o.key == "") {
		return usagef("cert and key go together")
	}
	return nil
}

// jsonKind returns the JSON type of a valid JSON text by its first byte.
func jsonKind(b []byte) byte {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// buildCommand encodes {"command", "service", "arguments"}. Arguments come
// from one JSON object or from key=value pairs, in the order given.
func buildCommand(name string, args []string, service string) ([]byte, error) {
	if name == "" || strings.HasPrefix(name, "{") {
		return nil, usagef("invalid command name %q", name)
	}
	cmd := struct {
		Command   string          `json:"command"`
		Service   []string        `json:"service,omitempty"`
		Arguments json.RawMessage `json:"arguments,omitempty"`
	}{Command: name}
	if service != "" {
		cmd.Service = []string{service}
	}
	if len(args) > 0 {
		a, err := buildArguments(args)
		if err != nil {
			return nil, err
		}
		cmd.Arguments = a
	}
	return json.Marshal(cmd)
}

func buildArguments(args []string) (json.RawMessage, error) {
	if first := strings.TrimSpace(args[0]); strings.HasPrefix(first, "{") {
		if len(args) > 1 {
			return nil, usagef("a JSON object argument must be the only argument")
		}
		if !json.Valid([]byte(first)) {
			var v any
			err := json.Unmarshal([]byte(first), &v)
			return nil, usagef("arguments are not valid JSON: %v", err)
		}
		return json.RawMessage(first), nil
	}
	var b bytes.Buffer
	b.WriteByte('{')
	seen := make(map[string]bool, len(args))
	for i, kv := range args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("argument %q: want key=value or one JSON object", kv)
		}
		if seen[k] {
			return nil, usagef("argument %q given twice", k)
		}
		seen[k] = true
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(argValue(v))
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes()), nil
}

// argValue sends valid JSON (except null) as is and anything else as a
// string, so subnet-id=1 is a number and hostname=foo a string.
func argValue(v string) []byte {
	t := strings.TrimSpace(v)
	if t != "" && t != "null" && json.Valid([]byte(t)) {
		return []byte(t)
	}
	s, _ := json.Marshal(v)
	return s
}

// client builds the command client the flags describe.
func (o *options) client() (*client.Client, error) {
	co := client.Options{Socket: o.socket, Timeout: o.timeout}
	if o.socket != "" {
		return client.New(co)
	}
	if _, err := url.Parse(o.url); err != nil {
		return nil, usagef("-url %q: %v", o.url, err)
	}
	co.URL = o.url
	if o.ca != "" || o.cert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.ca != "" {
			pool, err := client.LoadTrustAnchor(o.ca)
			if err != nil {
				return nil, fmt.Errorf("-ca: %w", err)
			}
			cfg.RootCAs = pool
		}
		if o.cert != "" {
			c, err := tls.LoadX509KeyPair(o.cert, o.key)
			if err != nil {
				return nil, fmt.Errorf("load -cert/-key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		co.TLS = cfg
	}
	user, pass, ok, err := o.credentials()
	if err != nil {
		return nil, err
	}
	if ok {
		co.User, co.Password = user, pass
	}
	return client.New(co)
}

// send sends the command and returns the answer body. Kea-style error
// answers (401, 400, ...) come back as bodies, not errors.
func send(ctx context.Context, c *client.Client, body []byte) ([]byte, error) {
	resp, err := c.Send(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("send command: %w", err)
	}
	if resp.Status != 0 && resp.Status != http.StatusOK && !json.Valid(resp.Body) {
		return nil, fmt.Errorf("server answered HTTP %d %s: %s", resp.Status, http.StatusText(resp.Status), bytes.TrimSpace(resp.Body))
	}
	return resp.Body, nil
}

// credentials returns the basic-auth user and password, if any.
func (o *options) credentials() (user, pass string, ok bool, err error) {
	switch {
	case o.password != "":
		return o.user, o.password, true, nil
	case o.passwordFile != "":
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return "", "", false, fmt.Errorf("read -password-file: %w", err)
		}
		if fi, err := os.Stat(o.passwordFile); err == nil && fi.Mode().Perm()&0o004 != 0 && o.warn != nil {
			fmt.Fprintf(o.warn, "xdhcpctl: warning: password file %s is readable by every user (chmod o-r it)\n", o.passwordFile)
		}
		p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if o.user != "" {
			return o.user, p, true, nil
		}
		u, p, found := strings.Cut(p, ":")
		if !found {
			return "", "", false, fmt.Errorf("-password-file %s: without -user it must hold user:password", o.passwordFile)
		}
		return u, p, true, nil
	}
	return "", "", false, nil
}

// answer is one decoded answer map.
type answer struct {
	Result    *int            `json:"result"`
	Text      string          `json:"text"`
	Arguments json.RawMessage `json:"arguments"`
}

// printAnswer prints the answer, as a table when table is set and the
// command has a table view, else as indented JSON, and turns a failing
// result into an error. A list (HTTP) holding one answer is printed as
// that answer. In a table a failing answer prints nothing: its text is the
// error.
func printAnswer(w io.Writer, command string, raw []byte, table bool, loc *time.Location) error {
	var list []json.RawMessage
	switch jsonKind(raw) {
	case '[':
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		if len(list) == 0 {
			return errors.New("decode answer: empty list")
		}
	case '{':
		list = []json.RawMessage{raw}
	default:
		return fmt.Errorf("decode answer: not a JSON map or list: %.200s", raw)
	}
	view := tableViews[command]
	if !table || view == nil {
		out := raw
		if len(list) == 1 {
			out = list[0]
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(out), "", "  "); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		buf.WriteByte('\n')
		if _, err := w.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write answer: %w", err)
		}
	}
	var failed error
	for i, a := range list {
		var ans answer
		if err := json.Unmarshal(a, &ans); err != nil || ans.Result == nil {
			return fmt.Errorf("decode answer: no integer result in %.200s", a)
		}
		r := *ans.Result
		if r != 0 && r != 3 {
			if failed == nil {
				failed = fmt.Errorf("%s: result %d", command, r)
				if ans.Text != "" {
					failed = fmt.Errorf("%s: result %d: %s", command, r, ans.Text)
				}
			}
			continue
		}
		if !table || view == nil {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		if r == 3 || len(ans.Arguments) == 0 || string(ans.Arguments) == "null" {
			fmt.Fprintln(w, ans.Text)
			continue
		}
		if err := view(w, ans.Arguments, loc); err != nil {
			return fmt.Errorf("%s: %w", command, err)
		}
	}
	return failed
}
