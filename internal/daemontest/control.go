package daemontest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"xdhcp/control/client"
	"xdhcp/internal/lab"
)

// Answer is one element of a Kea control answer.
type Answer = client.Answer

// Commander is a server that answers Kea control commands: xdhcpd or Kea,
// over whatever transport. Try returns the transport's error, not a
// non-zero result.
type Commander interface {
	Try(command string, args any) (Answer, error)
}

// Control is a client of a Kea-style control channel: HTTP reached from
// inside a lab namespace, or a UNIX socket. It is safe for concurrent use.
type Control struct {
	c    *client.Client
	err  error // from building c: every command fails with it
	unix bool  // answers are one bare map, not a list
}

// NewControl returns a client of the control channel at url (such as
// "http://127.0.0.1:8000/") whose connections are made from inside ns, so
// that 127.0.0.1 is ns's loopback. Each request is bounded by timeout. No
// connection is kept for reuse: a restarted daemon would leave dead pooled
// ones behind.
func NewControl(ns *lab.NS, url string, timeout time.Duration) *Control {
	c, err := client.New(client.Options{
		URL:     url,
		Timeout: timeout,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := ns.Do(func() error {
				var err error
				var dl net.Dialer
				c, err = dl.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	})
	return &Control{c: c, err: err}
}

// NewUnixControl returns a client of the UNIX control socket at path (as
// kea-dhcp4 and xdhcpd serve it: one bare answer map per connection). Each
// command is bounded by timeout.
func NewUnixControl(path string, timeout time.Duration) *Control {
	c, err := client.New(client.Options{Socket: path, Timeout: timeout})
	return &Control{c: c, err: err, unix: true}
}

// Try sends one command and returns its answer, which must be a list of
// exactly one element over HTTP (as Kea's control agent and xdhcpd answer)
// and one map over a UNIX socket.
func (c *Control) Try(command string, args any) (Answer, error) {
	if c.err != nil {
		return Answer{}, c.err
	}
	body, err := client.Encode(command, args)
	if err != nil {
		return Answer{}, err
	}
	resp, err := c.c.Send(context.Background(), body)
	if err != nil {
		return Answer{}, fmt.Errorf("%s: %w", command, err)
	}
	list, isList, err := client.DecodeAnswers(resp.Body)
	if c.unix && (err != nil || isList) {
		return Answer{}, fmt.Errorf("%s: answer is not one map (%v): %s", command, err, resp.Body)
	}
	if !c.unix && (err != nil || !isList || len(list) != 1) {
		return Answer{}, fmt.Errorf("%s: answer is not a one-element list (%v): %s", command, err, resp.Body)
	}
	return list[0], nil
}

// Metrics returns the Prometheus text of GET <url>metrics.
func (c *Control) Metrics() (string, error) {
	if c.err != nil {
		return "", c.err
	}
	resp, err := c.c.Get(context.Background(), "metrics")
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %d", resp.Status)
	}
	return string(resp.Body), nil
}

// Command sends a command and fails t on a transport error; the result is
// the caller's to judge.
func Command(t testing.TB, c Commander, command string, args any) Answer {
	t.Helper()
	a, err := c.Try(command, args)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// OK sends a command that must succeed (result 0) and decodes its
// arguments into out when out is not nil.
func OK(t testing.TB, c Commander, command string, args any, out any) Answer {
	t.Helper()
	a := Command(t, c, command, args)
	if a.Result != 0 {
		t.Fatalf("%s %v: result %d %q", command, args, a.Result, a.Text)
	}
	if out != nil {
		if err := json.Unmarshal(a.Arguments, out); err != nil {
			t.Fatalf("%s: decode arguments %s: %v", command, a.Arguments, err)
		}
	}
	return a
}

// DecodeStats returns the newest sample of every statistic in the
// arguments of a statistic-get-all answer; a statistic without a numeric
// sample is left out.
func DecodeStats(a Answer) (map[string]int64, error) {
	var raw map[string][][]any
	if err := json.Unmarshal(a.Arguments, &raw); err != nil {
		return nil, fmt.Errorf("statistic-get-all: %w", err)
	}
	out := make(map[string]int64, len(raw))
	for name, samples := range raw {
		if len(samples) == 0 || len(samples[0]) == 0 {
			continue
		}
		if v, ok := samples[0][0].(float64); ok {
			out[name] = int64(v)
		}
	}
	return out, nil
}

// Stats is statistic-get-all, which must succeed, decoded by DecodeStats.
func Stats(t testing.TB, c Commander) map[string]int64 {
	t.Helper()
	st, err := DecodeStats(OK(t, c, "statistic-get-all", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
