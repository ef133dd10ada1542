package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSSSample is a server's resident set size at T seconds into a run.
type RSSSample struct {
	T   float64 `json:"t"`
	MiB float64 `json:"mib"`
}

// SampleRSS samples the server's RSS every interval until the returned
// function is called; that function returns the samples. A failed read
// (the process gone) ends the sampling early.
func (s *Server) SampleRSS(every time.Duration) (stop func() []RSSSample) {
	var (
		mu  sync.Mutex
		out []RSSSample
	)
	done := make(chan struct{})
	finished := make(chan struct{})
	t0 := time.Now()
	go func() {
		defer close(finished)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			kib, err := s.RSSKiB()
			if err != nil {
				return
			}
			mu.Lock()
			out = append(out, RSSSample{T: time.Since(t0).Seconds(), MiB: float64(kib) / 1024})
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
	return func() []RSSSample {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return out
	}
}

// rssBounded says whether a run's RSS levelled off: the peak of its last
// third is within 10% (and 8 MiB) of the peak of its middle third. A
// server whose memory grows with the offered overload fails this; one
// that sheds load holds steady.
func rssBounded(ss []RSSSample) (bool, string) {
	if len(ss) < 6 {
		return false, fmt.Sprintf("only %d RSS samples", len(ss))
	}
	n := len(ss)
	peak := func(a []RSSSample) float64 {
		m := 0.0
		for _, s := range a {
			m = max(m, s.MiB)
		}
		return m
	}
	mid, last := peak(ss[n/3:2*n/3]), peak(ss[2*n/3:])
	ok := last <= mid*1.10 || last-mid <= 8
	return ok, fmt.Sprintf("peak %.0f MiB in the middle third, %.0f MiB in the last", mid, last)
}

// Metrics reads xdhcpd's Prometheus /metrics (on its control listener)
// and returns the samples summed by metric name, labels dropped. It is an
// error for Kea, which has no such endpoint.
func (s *Server) Metrics(ctx context.Context) (map[string]float64, error) {
	if s.http == nil {
		return nil, fmt.Errorf("%s has no /metrics", s.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:8000/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s metrics: %w", s.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s metrics: HTTP %s", s.Name, resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, 64<<20))
}

// parseMetrics sums Prometheus text-format samples by metric name.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return out, nil
}
