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

// options are the command-line flags.
type options struct {
	url, socket                  string
	user, password, passwordFile string
	ca, cert, key                string
	service                      string
	timeout                      time.Duration
}

const usageText = `usage: xdhcpctl [flags] COMMAND [ARGS]

ARGS is one JSON object ('{"ip-address":"10.0.0.5"}') or key=value pairs
(ip-address=10.0.0.5 subnet-id=1); a value that is valid JSON other than null
(number, boolean, object, list, quoted string) is sent as such, anything else
as a string.

Exit status: 0 on result 0 or 3, 1 on another result or a transport error,
2 on a usage error.

flags:
`

// run parses args, sends the command and prints the answer to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("xdhcpctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8000/", "HTTP(S) control URL")
	fs.StringVar(&o.socket, "socket", "", "UNIX control socket path (instead of -url)")
	fs.StringVar(&o.user, "user", "", "basic-auth user")
	fs.StringVar(&o.password, "password", "", "basic-auth password (visible in ps: prefer -password-file)")
	fs.StringVar(&o.passwordFile, "password-file", "", "file holding the password, or user:password without -user")
	fs.StringVar(&o.ca, "ca", "", "CA file to verify the server certificate (default: system roots)")
	fs.StringVar(&o.cert, "cert", "", "client certificate file (mutual TLS)")
	fs.StringVar(&o.key, "key", "", "client key file (mutual TLS)")
	fs.StringVar(&o.service, "service", "dhcp4", `"service" of the command; empty to omit`)
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit for the whole exchange")
	if help, err := cli.Parse(fs, args, stdout, stderr); help || err != nil {
		if err != nil {
			return &usageError{msg: err.Error()}
		}
		return nil
	}
	urlSet := false
	fs.Visit(func(f *flag.Flag) { urlSet = urlSet || f.Name == "url" })
	if err := o.check(urlSet); err != nil {
		return err
	}
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
	if err != nil {
		return err
	}
	return printAnswer(stdout, fs.Arg(0), raw)
}

// check rejects contradictory flags.
func (o *options) check(urlSet bool) error {
	if o.timeout <= 0 {
		return usagef("-timeout must be positive")
	}
	if o.socket != "" {
		if urlSet {
			return usagef("-socket and -url are mutually exclusive")
		}
		if o.user != "" || o.password != "" || o.passwordFile != "" || o.ca != "" || o.cert != "" || o.key != "" {
			return usagef("-socket takes no authentication or TLS flags (the socket is protected by file permissions)")
		}
	}
	if o.password != "" && o.passwordFile != "" {
		return usagef("-password and -password-file are mutually exclusive")
	}
	if o.password != "" && o.user == "" {
		return usagef("-password needs -user")
	}
	if o.user != "" && o.password == "" && o.passwordFile == "" {
		return usagef("-user needs -password or -password-file")
	}
	if (o.cert == "") != (o.key == "") {
		return usagef("-cert and -key go together")
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

// printAnswer prints the answer indented and turns a failing result into
// an error. A list (HTTP) holding one answer is printed as that answer.
func printAnswer(w io.Writer, command string, raw []byte) error {
	var answers []json.RawMessage
	switch jsonKind(raw) {
	case '[':
		if err := json.Unmarshal(raw, &answers); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		if len(answers) == 0 {
			return errors.New("decode answer: empty list")
		}
	case '{':
		answers = []json.RawMessage{raw}
	default:
		return fmt.Errorf("decode answer: not a JSON map or list: %.200s", raw)
	}
	out := raw
	if len(answers) == 1 {
		out = answers[0]
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(out), "", "  "); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write answer: %w", err)
	}
	for _, a := range answers {
		var ans struct {
			Result *int   `json:"result"`
			Text   string `json:"text"`
		}
		if err := json.Unmarshal(a, &ans); err != nil || ans.Result == nil {
			return fmt.Errorf("decode answer: no integer result in %.200s", a)
		}
		if r := *ans.Result; r != 0 && r != 3 {
			if ans.Text == "" {
				return fmt.Errorf("%s: result %d", command, r)
			}
			return fmt.Errorf("%s: result %d: %s", command, r, ans.Text)
		}
	}
	return nil
}
