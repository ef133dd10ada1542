package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"time"
)

// unixListener is a Kea 2.x control-socket: one JSON command per connection,
// answered with one bare map, then the connection is closed.
type unixListener struct {
	s    *Server
	path string
	ln   *net.UnixListener
	once sync.Once

	mu      sync.Mutex
	stopped bool
	reading map[net.Conn]struct{} // connections still waiting for their command
}

// removeStale deletes a socket file left behind by a previous run. It
// refuses to touch anything that is not a socket, or a socket that some
// process still accepts on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		_ = c.Close()
		return fmt.Errorf("%s is in use by another process", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// startUnix binds the socket with mode 0600 and serves it.
func (s *Server) startUnix(p *prepared) (listener, error) {
	if err := removeStale(p.addr); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p.addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	// Only root (the daemon's user) may send commands: the socket has no
	// other authentication.
	if err := os.Chmod(p.addr, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	l := &unixListener{s: s, path: p.addr, ln: ln, reading: make(map[net.Conn]struct{})}
	s.bg.Add(1)
	go l.accept()
	return l, nil
}

func (l *unixListener) update(*prepared) {}

// stop closes (and unlinks) the socket and aborts connections that have not
// sent their command yet; commands already running finish and are answered.
func (l *unixListener) stop() {
	l.once.Do(func() {
		l.mu.Lock()
		l.stopped = true
		for c := range l.reading {
			_ = c.SetReadDeadline(time.Now())
		}
		l.mu.Unlock()
		_ = l.ln.Close()
	})
}

func (l *unixListener) accept() {
	defer l.s.bg.Done()
	delay := 5 * time.Millisecond
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off instead of spinning.
			l.s.log.Warn("control socket accept failed", "socket", l.path, "err", err)
			time.Sleep(delay)
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		l.mu.Lock()
		if l.stopped {
			l.mu.Unlock()
			_ = c.Close()
			return
		}
		l.reading[c] = struct{}{}
		l.s.bg.Add(1)
		l.mu.Unlock()
		go l.serve(c)
	}
}

// serve reads one command, runs it and writes the bare answer map.
func (l *unixListener) serve(c net.Conn) {
	defer l.s.bg.Done()
	defer c.Close()
	raw, err := l.readCommand(c)
	l.mu.Lock()
	delete(l.reading, c)
	l.mu.Unlock()
	var a Answer
	switch {
	case err == nil:
		a = l.s.Dispatch(l.s.ctx, raw, "unix:"+l.path, "")
	case errors.Is(err, io.EOF):
		return // connected and closed without a command
	case isTimeout(err):
		a = Errorf("connection over control channel timed out")
	default:
		a = Errorf("invalid command: malformed JSON: %v", err)
	}
	_ = c.SetWriteDeadline(time.Now().Add(l.s.WriteTimeout))
	_, _ = c.Write(encodeAnswer(a, false))
}

// readCommand reads exactly one JSON value; clients such as socat keep the
// connection open after sending, so EOF cannot mark the end.
func (l *unixListener) readCommand(c net.Conn) (json.RawMessage, error) {
	_ = c.SetReadDeadline(time.Now().Add(l.s.ReadTimeout))
	l.mu.Lock()
	stopped := l.stopped
	l.mu.Unlock()
	if stopped {
		return nil, io.EOF
	}
	dec := json.NewDecoder(io.LimitReader(c, l.s.MaxBodySize))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("incomplete command: %w", err)
		}
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	return raw, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var _ listener = (*unixListener)(nil)
