// Package client sends Kea control commands and reads their answers: over
// HTTP(S) (Kea's Control Agent, an HA peer, xdhcpd's control listener),
// with optional basic authentication and TLS client certificates, or over
// a UNIX control socket (kea-dhcp4's and xdhcpd's). It also holds the
// command protocol's result codes, which the server side shares.
//
// The package is a leaf: it imports nothing of the project, so the daemon,
// HA, the command-line tool, the test harness and the benchmarks can all
// use it.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Kea result codes.
const (
	ResultSuccess     = 0 // command succeeded
	ResultError       = 1 // command failed
	ResultUnsupported = 2 // command not supported
	ResultEmpty       = 3 // success, but nothing found (no leases, no such lease)
	// ResultConflict exists from Kea 2.3.1 on; a Kea 2.2 partner treats it
	// as a plain error.
	ResultConflict = 4
)

// ServiceDHCP4 is the "service" value naming the DHCPv4 server.
const ServiceDHCP4 = "dhcp4"

// ServiceDHCP6 is the "service" value naming the DHCPv6 server.
const ServiceDHCP6 = "dhcp6"

// DefaultMaxAnswerSize bounds an answer read from a server: lease4-get-all
// on a large pool, or a lease4-get-page of 10000 leases, is a few MB.
const DefaultMaxAnswerSize = 256 << 20

// DefaultDialTimeout bounds connecting when Options.Timeout is not set.
const DefaultDialTimeout = 10 * time.Second

// Answer is one answer map as received.
type Answer struct {
	Result    int             `json:"result"`
	Text      string          `json:"text,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// OK reports Kea's success codes: 0, and 3 (success, nothing found).
func (a Answer) OK() bool { return a.Result == ResultSuccess || a.Result == ResultEmpty }

// command is a request body. The fields are in the order Kea prints keys
// (sorted), so our bodies read the same as a Kea capture.
type command struct {
	Arguments any      `json:"arguments,omitempty"`
	Command   string   `json:"command"`
	Service   []string `json:"service,omitempty"`
}

// Options say where and how a Client connects.
type Options struct {
	// URL is the HTTP(S) URL commands are posted to. Exactly one of URL
	// and Socket is set.
	URL string
	// Socket is the path of a UNIX control socket.
	Socket string
	// User and Password are sent as HTTP basic authentication when User
	// is set.
	User, Password string
	// TLS configures HTTPS (trust anchor, client certificate); nil uses
	// the system roots.
	TLS *tls.Config
	// Dial makes connections (e.g. from inside a network namespace); nil
	// dials directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxConns > 0 keeps up to that many HTTP connections open for reuse,
	// so concurrent commands are pipelined; 0 opens one connection per
	// command and closes it after (nothing stale is left behind when the
	// server restarts).
	MaxConns int
	// Timeout bounds each exchange, connecting included; 0 leaves it to
	// the caller's context.
	Timeout time.Duration
	// Service is sent as "service": [Service] by Do; "" omits it.
	Service string
	// MaxAnswerSize bounds an answer; 0 means DefaultMaxAnswerSize.
	MaxAnswerSize int64
}

// Client sends commands to one server. It is safe for concurrent use.
type Client struct {
	o  Options
	hc *http.Client // nil for a UNIX socket
	tr *http.Transport
}

// New returns a client for o.
func New(o Options) (*Client, error) {
	if (o.URL == "") == (o.Socket == "") {
		return nil, errors.New("control client: exactly one of URL and Socket must be set")
	}
	if o.MaxAnswerSize <= 0 {
		o.MaxAnswerSize = DefaultMaxAnswerSize
	}
	c := &Client{o: o}
	if o.Socket != "" {
		return c, nil
	}
	dial := o.Dial
	if dial == nil {
		dialTimeout := o.Timeout
		if dialTimeout <= 0 {
			dialTimeout = DefaultDialTimeout
		}
		dial = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	c.tr = &http.Transport{
		// The control channel is local or a known peer: never send
		// credentials through a proxy.
		Proxy:       nil,
		DialContext: dial,
		// Kea speaks HTTP/1.1 only; an empty TLSNextProto map keeps Go
		// from negotiating HTTP/2 over TLS.
		TLSNextProto:       map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSClientConfig:    o.TLS,
		DisableCompression: true,
	}
	if o.MaxConns > 0 {
		c.tr.MaxIdleConns = o.MaxConns
		c.tr.MaxIdleConnsPerHost = o.MaxConns
		c.tr.MaxConnsPerHost = o.MaxConns
		// Under the 30 s idle timeout of Kea's HTTP listeners (and ours):
		// a POST on a connection the server closed as we reused it fails
		// without retry.
		c.tr.IdleConnTimeout = 25 * time.Second
	} else {
		c.tr.DisableKeepAlives = true
	}
	c.hc = &http.Client{Transport: c.tr}
	return c, nil
}

// Close drops idle connections.
func (c *Client) Close() {
	if c.tr != nil {
		c.tr.CloseIdleConnections()
	}
}

// Encode renders a command as Kea's clients send it: keys sorted, HTML
// characters unescaped, "service" omitted when empty.
func Encode(name string, args any, service ...string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(command{Arguments: args, Command: name, Service: service}); err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Response is one raw exchange.
type Response struct {
	// Status is the HTTP status code; 0 over a UNIX socket.
	Status int
	// Body is the answer as received.
	Body []byte
}

// Do sends one command and returns the server's answer. Over HTTP the
// answer must be a list (its first element is the answer, as Kea's HA
// client reads it); a bare map, which Kea sends for transport errors
// such as 401 or 403, is an error keeping its text, and so is a status
// other than 200. err is set for transport failures, timeouts and
// unparsable answers; a parsed answer with a failure result comes back
// with a nil err.
func (c *Client) Do(ctx context.Context, name string, args any) (Answer, error) {
	var svc []string
	if c.o.Service != "" {
		svc = []string{c.o.Service}
	}
	body, err := Encode(name, args, svc...)
	if err != nil {
		return Answer{}, err
	}
	resp, err := c.Send(ctx, body)
	if err != nil {
		return Answer{}, err
	}
	if resp.Status == 0 {
		answers, _, err := DecodeAnswers(resp.Body)
		if err != nil {
			return Answer{}, err
		}
		return answers[0], nil
	}
	a, err := DecodeList(resp.Body)
	if err != nil {
		return Answer{}, fmt.Errorf("HTTP %d: %w", resp.Status, err)
	}
	if resp.Status != http.StatusOK {
		return Answer{}, fmt.Errorf("HTTP %d", resp.Status)
	}
	return a, nil
}

// DecodeList reads an HTTP answer body the way Kea's HA client does: a
// list whose first element is the answer. A bare map (a Control Agent
// error such as 401 or 403) is an error whose text is kept.
func DecodeList(body []byte) (Answer, error) {
	answers, list, err := DecodeAnswers(body)
	if err != nil {
		return Answer{}, err
	}
	if !list {
		a := answers[0]
		if a.Result == ResultSuccess {
			a.Result = ResultError
		}
		return Answer{}, fmt.Errorf("answer is not a list: result %d: %s", a.Result, a.Text)
	}
	return answers[0], nil
}

// DecodeAnswers parses an answer body: a list of answer maps (HTTP) or one
// bare map (a UNIX socket, or an HTTP transport error). list tells which.
// Every map must have an integer "result"; "text" is read when it is a
// string.
func DecodeAnswers(body []byte) (answers []Answer, list bool, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, false, errors.New("empty response body")
	}
	var raws []json.RawMessage
	switch body[0] {
	case '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, true, fmt.Errorf("malformed answer: %w", err)
		}
		if len(raws) == 0 {
			return nil, true, errors.New("empty answer list")
		}
		list = true
	case '{':
		raws = []json.RawMessage{body}
	default:
		return nil, false, errors.New("answer is neither a list nor a map")
	}
	answers = make([]Answer, len(raws))
	for i, raw := range raws {
		if err := decodeAnswer(raw, &answers[i]); err != nil {
			return nil, list, err
		}
	}
	return answers, list, nil
}

// decodeAnswer reads one answer map.
func decodeAnswer(raw json.RawMessage, a *Answer) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("malformed answer: %w", err)
	}
	r, ok := m["result"]
	if !ok {
		return errors.New("answer without result")
	}
	if err := json.Unmarshal(r, &a.Result); err != nil {
		return fmt.Errorf("answer result is not an integer: %w", err)
	}
	if t, ok := m["text"]; ok {
		_ = json.Unmarshal(t, &a.Text)
	}
	a.Arguments = m["arguments"]
	return nil
}

// Send posts an encoded command (or writes it to the UNIX socket) and
// returns the answer body undecoded. An HTTP error status is not an error
// here: Kea answers those with a JSON body of their own.
func (c *Client) Send(ctx context.Context, body []byte) (Response, error) {
	if c.o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
	}
	if c.hc == nil {
		return c.sendUnix(ctx, body)
	}
	return c.sendHTTP(ctx, http.MethodPost, "", body)
}

// Get fetches another path of the HTTP server (such as "metrics"),
// relative to the URL, with the same authentication.
func (c *Client) Get(ctx context.Context, path string) (Response, error) {
	if c.hc == nil {
		return Response{}, errors.New("GET over a UNIX control socket")
	}
	if c.o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
	}
	return c.sendHTTP(ctx, http.MethodGet, path, nil)
}

func (c *Client) sendHTTP(ctx context.Context, method, path string, body []byte) (Response, error) {
	var rd io.Reader
	if body != nil {
		// bytes.Reader gives a Content-Length: Kea cannot read chunked
		// bodies.
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.o.URL+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.o.User != "" {
		req.SetBasicAuth(c.o.User, c.o.Password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxAnswerSize))
	if err != nil {
		return Response{}, fmt.Errorf("read answer: %w", err)
	}
	return Response{Status: resp.StatusCode, Body: data}, nil
}

// sendUnix writes the command to a UNIX control socket and reads the one
// JSON answer.
func (c *Client) sendUnix(ctx context.Context, body []byte) (Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.o.Socket)
	if err != nil {
		return Response{}, fmt.Errorf("connect to %s: %w", c.o.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Unblock the read if ctx is cancelled before its deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write(body); err != nil {
		return Response{}, fmt.Errorf("send command to %s: %w", c.o.Socket, err)
	}
	var raw json.RawMessage
	if err := json.NewDecoder(io.LimitReader(conn, c.o.MaxAnswerSize)).Decode(&raw); err != nil {
		return Response{}, fmt.Errorf("read answer from %s: %w", c.o.Socket, err)
	}
	return Response{Body: raw}, nil
}
