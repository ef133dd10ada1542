package ha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"xdhcp/lease"
)

// TestReplicateParallelAndParked checks that lease updates to the partner
// run in parallel beyond http-client-threads (the partner's group commit
// can share one sync among them), and that replies beyond
// parked-packet-limit are dropped at once without an update while deletes
// still go out.
func TestReplicateParallelAndParked(t *testing.T) {
	const limit = 6
	var (
		mu      sync.Mutex
		remotes = map[string]bool{}
		arrived = make(chan string, 64)
		gate    = make(chan struct{})
	)
	tap := func(cmd string, r *http.Request) {
		if cmd != cmdLeaseUpdate && cmd != cmdLeaseDel {
			return
		}
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		arrived <- cmd
		<-gate
	}
	ln1, ln2 := listen(t), listen(t)
	a1, a2 := ln1.Addr().String(), ln2.Addr().String()
	mt := `, "multi-threading": {"enable-multi-threading": true, "http-dedicated-listener": true,
  "http-listener-threads": 2, "http-client-threads": 2}`
	n1 := newNode(t, "server1", ln1, haParams("server1", "hot-standby", a1, a2, mt), nil)
	n2 := newNode(t, "server2", ln2, haParams("server2", "hot-standby", a1, a2, mt), nil, tap)
	waitState(t, n1, StateHotStandby, 5*time.Second)
	waitState(t, n2, StateHotStandby, 5*time.Second)
	n1.svc.parkLimit = limit
	opened := false
	defer func() {
		if !opened {
			close(gate)
		}
	}()

	now := time.Now().Unix()
	errs := make(chan error, limit+1)
	for i := range limit {
		go func() {
			errs <- n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: testLease(200+i, now)}})
		}()
	}
	for i := range limit {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d updates reached the partner at once (http-client-threads 2)", i, limit)
		}
	}
	mu.Lock()
	conns := len(remotes)
	mu.Unlock()
	if conns != limit {
		t.Errorf("%d updates in flight used %d connections, want one each", limit, conns)
	}

	// The parking lot is full: a put is dropped without a request.
	err := n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpPut, Lease: testLease(300, now)}})
	if !errors.Is(err, ErrParkingLotFull) || !errors.Is(err, ErrUpdateFailed) {
		t.Fatalf("Replicate with a full parking lot: %v, want ErrParkingLotFull", err)
	}
	if d := n1.svc.ParkingLotDrops(); d != 1 {
		t.Errorf("ParkingLotDrops %d, want 1", d)
	}
	// A delete-only update (a release: no reply waits) still goes out.
	go func() {
		errs <- n1.svc.Replicate(context.Background(), []lease.Op{{Kind: lease.OpDelete, Lease: testLease(200, now)}})
	}()
	select {
	case cmd := <-arrived:
		if cmd != cmdLeaseDel {
			t.Errorf("partner got %s, want %s", cmd, cmdLeaseDel)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a delete was held back by the full parking lot")
	}
	select {
	case cmd := <-arrived:
		t.Fatalf("the dropped reply's update reached the partner: %s", cmd)
	default:
	}

	opened = true
	close(gate)
	for range limit + 1 {
		if err := <-errs; err != nil {
			t.Errorf("awaited update: %v", err)
		}
	}
	if got := n1.svc.parked.Load(); got != 0 {
		t.Errorf("%d replies still counted as parked", got)
	}
	if ps := n1.rel().PartnerState(); ps == StateUnavailable {
		t.Errorf("partner state %s after a parking-lot drop", ps)
	}
}

// TestCloseEndsBackupUpdates checks that the updates to a backup nobody
// awaits belong to the service: Replicate does not wait for them, Close
// cancels one the backup holds and waits for it, and none starts after.
func TestCloseEndsBackupUpdates(t *testing.T) {
	arrived := make(chan struct{}, 4)
	gone := make(chan struct{}, 4)
	backup := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // the server notices a closed connection once the body is read
		arrived <- struct{}{}
		<-r.Context().Done() // the backup never answers
		gone <- struct{}{}
	})}
	ln := listen(t)
	go backup.Serve(ln)
	t.Cleanup(func() { backup.Close() })
	params := fmt.Sprintf(`{"high-availability": [{"this-server-name": "server1", "mode": "hot-standby",
  "peers": [{"name": "server1", "url": "http://127.0.0.1:1/", "role": "primary"},
            {"name": "server2", "url": "http://127.0.0.1:2/", "role": "standby"},
            {"name": "backup1", "url": "http://%s/", "role": "backup"}]}]}`, ln.Addr())
	svc, _, _ := testRel(t, params, time.Now)
	ops := []lease.Op{{Kind: lease.OpPut, Lease: testLease(1, time.Now().Unix())}}
	if err := svc.Replicate(context.Background(), ops); err != nil {
		t.Fatalf("Replicate: %v", err)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the update never reached the backup")
	}
	start := time.Now()
	svc.Close()
	if d := time.Since(start); d > RequestTimeout/2 {
		t.Errorf("Close took %v: it waited out the backup's request timeout", d)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the backup's request was not cancelled by Close")
	}
	if err := svc.Replicate(context.Background(), ops); err != nil {
		t.Fatalf("Replicate after Close: %v", err)
	}
	select {
	case <-arrived:
		t.Error("an update to the backup started after Close")
	case <-time.After(200 * time.Millisecond):
	}
}
