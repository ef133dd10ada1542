// Package control is the Kea-compatible command channel: it parses Kea
// control commands ({"command", "arguments", "service"}), runs registered
// handlers and answers {result, text, arguments}, over HTTP(S) (answers
// wrapped in a list, as Kea's Control Agent and HA dedicated listener do)
// and over a UNIX socket (one bare answer map per connection, as kea-dhcp4's
// control-socket does). It also serves extra HTTP routes such as /metrics.
// The client side, with the result codes both sides use, is the leaf
// package control/client.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"

	"xdhcp/config"
	"xdhcp/control/client"
)

// Kea result codes, shared with the command client.
const (
	ResultSuccess     = client.ResultSuccess
	ResultError       = client.ResultError
	ResultUnsupported = client.ResultUnsupported
	ResultEmpty       = client.ResultEmpty
	ResultConflict    = client.ResultConflict
)

// ServiceName is the service a server answers for unless SetServices
// names others (and the one HA partners address). Kea's Control Agent
// forwards on "service"; a request naming a service the server does not
// run gets the answer a CA without that forwarding socket gives.
const ServiceName = client.ServiceDHCP4

// SetServices sets the services ("dhcp4", "dhcp6") this server answers
// for: those of the families the daemon serves. No names leaves the
// default, ServiceName alone.
func (s *Server) SetServices(names ...string) {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	if len(set) == 0 {
		set[ServiceName] = true
	}
	s.mu.Lock()
	s.services = set
	s.mu.Unlock()
}

// Answer is a Kea command answer.
type Answer struct {
	Result    int    `json:"result"`
	Text      string `json:"text,omitempty"`
	Arguments any    `json:"arguments,omitempty"`
}

// Request is one parsed command.
type Request struct {
	Command string
	// Arguments is the "arguments" value: a JSON object, or nil when absent
	// (or null).
	Arguments json.RawMessage
	Service   []string
	// Remote is the peer address ("192.0.2.1:40000", or the socket path for
	// the UNIX socket).
	Remote string
	// User is the basic-auth user that authenticated the request, or "".
	User string
}

// DecodeArguments unmarshals the arguments into v. Missing arguments are an
// error naming the command, in Kea's words.
func (r *Request) DecodeArguments(v any) error {
	if len(r.Arguments) == 0 {
		return fmt.Errorf("invalid command '%s': no arguments specified", r.Command)
	}
	if err := json.Unmarshal(r.Arguments, v); err != nil {
		return fmt.Errorf("invalid command '%s': arguments: %w", r.Command, err)
	}
	return nil
}

// HandlerFunc runs one command. ctx is cancelled when the client goes away
// or the server closes.
type HandlerFunc func(ctx context.Context, req *Request) Answer

// Errorf builds a result-1 answer.
func Errorf(format string, args ...any) Answer {
	return Answer{Result: ResultError, Text: fmt.Sprintf(format, args...)}
}

// allowedKey reports whether k is one of the only top-level keys Kea 2.2
// accepts in a command; any other key makes it reject the command, and so
// do we.
func allowedKey(k string) bool {
	switch k {
	case "command", "arguments", "service", "remote-address":
		return true
	}
	return false
}

// jsonType names the JSON type of a raw value the way Kea's messages do
// ("map" and "list" for object and array).
func jsonType(raw json.RawMessage) string {
	switch k := config.JSONKind(raw); k {
	case "object":
		return "map"
	case "array":
		return "list"
	default:
		return k
	}
}

// parseRequest decodes body into a Request, or returns the error answer.
func parseRequest(body []byte) (*Request, *Answer) {
	fail := func(format string, args ...any) (*Request, *Answer) {
		a := Errorf(format, args...)
		return nil, &a
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fail("invalid command: no command specified")
	}
	if !json.Valid(trimmed) {
		// Unmarshal again only to get a message with an offset.
		var v any
		err := json.Unmarshal(trimmed, &v)
		if err == nil {
			err = fmt.Errorf("invalid JSON")
		}
		return fail("invalid command: malformed JSON: %v", err)
	}
	if t := jsonType(trimmed); t != "map" {
		return fail("invalid command: expected toplevel entry to be a map, got %s instead", t)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return fail("invalid command: %v", err)
	}
	// Report unsupported keys in a stable order.
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !allowedKey(k) {
			return fail("invalid command: unsupported parameter '%s'", k)
		}
	}
	rawCmd, ok := top["command"]
	if !ok {
		return fail("invalid command: does not contain mandatory 'command'")
	}
	req := &Request{}
	if err := json.Unmarshal(rawCmd, &req.Command); err != nil || jsonType(rawCmd) != "string" {
		return fail("invalid command: expected 'command' to be a string, got %s instead", jsonType(rawCmd))
	}
	if rawSvc, ok := top["service"]; ok && jsonType(rawSvc) != "null" {
		if err := json.Unmarshal(rawSvc, &req.Service); err != nil || jsonType(rawSvc) != "list" {
			return fail("invalid command '%s': expected 'service' to be a list of strings", req.Command)
		}
	}
	if rawArgs, ok := top["arguments"]; ok {
		switch t := jsonType(rawArgs); t {
		case "null":
		case "map":
			req.Arguments = json.RawMessage(bytes.TrimSpace(rawArgs))
		default:
			return fail("invalid command '%s': expected 'arguments' to be a map, got %s instead", req.Command, t)
		}
	}
	return req, nil
}

// Dispatch parses body as a Kea command and runs its handler. Malformed
// input, a missing or non-string "command", non-map "arguments" and
// unsupported top-level keys give result 1; an unknown command gives
// result 2. A panicking handler gives result 1 and is logged, so bad input
// never takes the daemon down.
func (s *Server) Dispatch(ctx context.Context, body []byte, remote, user string) Answer {
	req, bad := parseRequest(body)
	if bad != nil {
		return *bad
	}
	req.Remote, req.User = remote, user
	s.mu.RLock()
	for _, svc := range req.Service {
		if !s.services[svc] {
			s.mu.RUnlock()
			return Errorf("forwarding socket is not configured for the server type %s", svc)
		}
	}
	h, ok := s.handlers[req.Command]
	s.mu.RUnlock()
	if !ok {
		return Answer{Result: ResultUnsupported, Text: fmt.Sprintf("'%s' command not supported.", req.Command)}
	}
	return s.run(ctx, h, req)
}

// run calls h, turning a panic into a result-1 answer.
func (s *Server) run(ctx context.Context, h HandlerFunc, req *Request) (a Answer) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("command handler panicked", "command", req.Command, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			a = Errorf("internal error while processing command '%s'", req.Command)
		}
	}()
	a = h(ctx, req)
	if a.Result != ResultSuccess && a.Text == "" {
		// Kea never sends a failure without text.
		a.Text = fmt.Sprintf("command '%s' failed", req.Command)
	}
	return a
}

// listCommands is the built-in list-commands handler.
func (s *Server) listCommands(context.Context, *Request) Answer {
	s.mu.RLock()
	names := make([]string, 0, len(s.handlers))
	for n := range s.handlers {
		names = append(names, n)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return Answer{Result: ResultSuccess, Arguments: names}
}

// encodeAnswer marshals an answer, optionally wrapped in a one-element list.
// An answer whose arguments cannot be marshalled becomes a result-1 answer
// rather than a broken response.
func encodeAnswer(a Answer, list bool) []byte {
	var v any = a
	if list {
		v = []Answer{a}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fallback := Errorf("internal error: cannot encode answer: %s", strings.ReplaceAll(err.Error(), `"`, `'`))
		buf.Reset()
		if list {
			_ = enc.Encode([]Answer{fallback})
		} else {
			_ = enc.Encode(fallback)
		}
	}
	return buf.Bytes()
}
