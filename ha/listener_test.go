package ha

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"xdhcp/control"
	"xdhcp/internal/testpki"
	"xdhcp/lease"
)

// TestDedicatedListenerMutualTLS runs the HA+MT dedicated listener over
// https with client certificates required, and a heartbeat through it.
//
// Each peer has its own TLS files: server1's (ours) serve the listener,
// server2's are what the test's client, standing in for the partner,
// presents. The certificates name 127.0.0.1 and the peers are at
// 127.0.0.2: like Kea, neither side checks names.
func TestDedicatedListenerMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	port := freePort(t)
	params := fmt.Sprintf(`{"high-availability": [{"this-server-name": "server1", "mode": "hot-standby",
  "restrict-commands": true,
  "multi-threading": {"enable-multi-threading": true, "http-dedicated-listener": true},
  "peers": [{"name": "server1", "url": "https://127.0.0.2:%d/", "role": "primary",
             "trust-anchor": %q, "cert-file": %q, "key-file": %q},
            {"name": "server2", "url": "https://127.0.0.2:%d/", "role": "standby",
             "trust-anchor": %q, "cert-file": %q, "key-file": %q}]}]}`,
		port, pki.CAFile, pki.ServerCert, pki.ServerKey, port, pki.CAFile, pki.ClientCert, pki.ClientKey)
	svc, _, _ := testRel(t, params, time.Now)
	ctl := control.NewServer(nil)
	svc.RegisterCommands(ctl)
	ctl.Handle("config-get", func(context.Context, *control.Request) control.Answer { return control.Answer{} })
	svc.rels[0].start()
	l, err := svc.Listen(ctl, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// Our own client (as the partner would use it) gets a heartbeat.
	cl, err := newClient(svc.rels[0].partner.cfg, 2, FamilyV4)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	a, err := cl.do(context.Background(), cmdHeartbeat, nil, time.Second)
	if err != nil || a.Result != 0 {
		t.Fatalf("heartbeat over mutual TLS: %v %+v", err, a)
	}
	if hb, err := parseHeartbeat(a.Arguments); err != nil || hb.state != StateWaiting {
		t.Errorf("heartbeat %+v %v", hb, err)
	}
	// restrict-commands: anything off Kea's list is 403, as a bare map.
	if _, err := cl.do(context.Background(), "config-get", nil, time.Second); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("restricted command: %v", err)
	}
	// Without a client certificate the handshake fails.
	noCert, err := clientTLS(svc.rels[0].partner.cfg)
	if err != nil {
		t.Fatal(err)
	}
	noCert.Certificates = nil
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: noCert}}
	resp, err := plain.Post(fmt.Sprintf("https://127.0.0.2:%d/", port), "application/json", strings.NewReader(`{"command":"ha-heartbeat"}`))
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("served without a client certificate: %s", b)
	}
}

// TestHandlerTransport checks the HTTP framing Kea needs: list answers
// with Content-Length, 400 for non-JSON.
func TestHandlerTransport(t *testing.T) {
	ctl := control.NewServer(nil)
	h := Handler(ctl, Access{})
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodPost, "/", strings.NewReader(`{"command": "ha-heartbeat"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	if rec.code != 200 || rec.header.Get("Content-Length") == "" || !bytes.HasPrefix(rec.body.Bytes(), []byte(`[{"result":2`)) {
		t.Errorf("answer %d %v %s", rec.code, rec.header, rec.body.Bytes())
	}
	rec = &recorder{header: http.Header{}}
	req, _ = http.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "text/plain")
	h.ServeHTTP(rec, req)
	if rec.code != 400 || strings.TrimSpace(rec.body.String()) != `{"result":400,"text":"Bad Request"}` {
		t.Errorf("text/plain: %d %s", rec.code, rec.body.Bytes())
	}
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(c int)           { r.code = c }

// TestPassiveBackupWaitsForBackup: in passive-backup with wait-backup-ack
// a failing backup withholds the reply; without it the update is not
// awaited.
func TestPassiveBackupWaitsForBackup(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nobody listens: the backup is down
	for _, wait := range []bool{true, false} {
		params := fmt.Sprintf(`{"high-availability": [{"this-server-name": "server1", "mode": "passive-backup",
  "wait-backup-ack": %v,
  "peers": [{"name": "server1", "url": "http://127.0.0.1:1/", "role": "primary"},
            {"name": "backup1", "url": "http://%s/", "role": "backup"}]}]}`, wait, addr)
		s, r, net := testRel(t, params, time.Now)
		s.Start(context.Background())
		deadline := time.Now().Add(2 * time.Second)
		for r.State() != StatePassiveBackup && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if r.State() != StatePassiveBackup || !net.Enabled() {
			t.Fatalf("state %s enabled %v", r.State(), net.Enabled())
		}
		err := s.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: testLease(20, time.Now().Unix())}})
		if (err != nil) != wait {
			t.Errorf("wait-backup-ack %v: err %v", wait, err)
		}
		_ = s.Close()
	}
}
