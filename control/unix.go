package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// unixListener is a Kea 2.x control-socket: one JSON command per connection,
// answered with one bare map, then the connection is closed.
type unixListener struct {
	s     *Server
	path  string
	ino   uint64 // of the socket file this listener created
	ln    *net.UnixListener
	limit *limitListener
	once  sync.Once

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
	if err := socketDir(filepath.Dir(p.addr)); err != nil {
		return nil, err
	}
	if err := removeStale(p.addr); err != nil {
		return nil, err
	}
	ln, ino, err := bindPrivate(p.addr, nil)
	if err != nil {
		return nil, err
	}
	l := &unixListener{s: s, path: p.addr, ino: ino, ln: ln, reading: make(map[net.Conn]struct{})}
	l.limit = newLimitListener(ln, s.MaxConns, 0)
	s.bg.Add(1)
	go l.accept()
	return l, nil
}

// socketDir makes sure the socket's directory exists, is a real directory
// (not a symbolic link) owned by this process's user, and is writable by
// nobody else: otherwise another user could replace the socket between
// two starts. A missing directory is created with mode 0700.
func socketDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("socket directory %s is not a directory (a symbolic link is refused)", dir)
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("socket directory %s is not owned by this process's user (uid %d)", dir, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("socket directory %s has mode %#o: group or others may write to it (want 0700 or 0750)", dir, fi.Mode().Perm())
	}
	return nil
}

// bindPrivate creates the socket file with mode 0600 from the start: the
// mode is set on the socket before bind, which creates the file with it,
// so there is no moment when another user may connect. It returns the
// listener and the file's inode (stop removes the file only if it is
// still this one). bound, when not nil, runs as soon as bind has created
// the file, before anything else touches it: tests look at the file there.
func bindPrivate(path string, bound func()) (*net.UnixListener, uint64, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() // FileListener holds its own descriptor
	if err := syscall.Fchmod(fd, 0o600); err != nil {
		return nil, 0, fmt.Errorf("set socket mode: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		return nil, 0, fmt.Errorf("listen: bind %s: %w", path, err)
	}
	if bound != nil {
		bound()
	}
	fi, err := os.Lstat(path)
	var st *syscall.Stat_t
	if err == nil {
		st, _ = fi.Sys().(*syscall.Stat_t)
	}
	if err != nil || st == nil || fi.Mode().Perm() != 0o600 {
		_ = os.Remove(path)
		return nil, 0, fmt.Errorf("socket %s was not created with mode 0600 (%v): refusing to serve it", path, err)
	}
	if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
		_ = os.Remove(path)
		return nil, 0, fmt.Errorf("listen: %w", err)
	}
	ln, err := net.FileListener(f)
	if err != nil {
		_ = os.Remove(path)
		return nil, 0, fmt.Errorf("listen: %w", err)
	}
	return ln.(*net.UnixListener), st.Ino, nil
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
		l.unlink()
	})
}

// unlink removes the socket file if it is still the one this listener
// created (a newer daemon may have bound the path since).
func (l *unixListener) unlink() {
	fi, err := os.Lstat(l.path)
	if err != nil {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Ino == l.ino && fi.Mode()&fs.ModeSocket != 0 {
		_ = os.Remove(l.path)
	}
}

func (l *unixListener) accept() {
	defer l.s.bg.Done()
	delay := 5 * time.Millisecond
	for {
		c, err := l.limit.Accept()
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
