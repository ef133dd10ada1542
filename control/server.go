package control

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"xdhcp/config"
)

// Sentinel errors.
var (
	// ErrClosed is returned by Listen after Close.
	ErrClosed = errors.New("control server closed")
)

// Defaults for the Server's tunables.
const (
	// DefaultMaxBodySize bounds a command body; lease4-add/config-set bodies
	// are far smaller, and anything larger is an attack or a mistake.
	DefaultMaxBodySize = 16 << 20
	// DefaultReadTimeout matches kea-dhcp4's fixed 10 s receive timeout.
	DefaultReadTimeout = 10 * time.Second
	// DefaultWriteTimeout covers running the handler and writing the
	// answer; Kea's CA waits 60 s for a forwarded command.
	DefaultWriteTimeout = 65 * time.Second
	// DefaultIdleTimeout matches the Control Agent's 30 s idle timeout for
	// persistent connections (HA partners keep one open).
	DefaultIdleTimeout = 30 * time.Second
	// DefaultMaxConns bounds the connections one control listener holds
	// open at once; more are closed as soon as they are accepted, so
	// idle connections cannot exhaust the daemon's file descriptors.
	DefaultMaxConns = 256
	// DefaultMaxConnsPerSource bounds the connections of one source
	// address on an HTTP(S) listener, so that one client cannot take every
	// place. An HA partner opens one per HTTP client thread of Kea's
	// multi-threaded HA, a handful on common hardware.
	DefaultMaxConnsPerSource = 32
	// drainTimeout bounds how long a stopped HTTP listener waits for
	// in-flight requests before their connections are cut.
	drainTimeout = 5 * time.Second
)

// Server runs commands and serves the listeners configured by Listen. It is
// safe for concurrent use. Handlers may call Listen (config-reload does);
// they must not call Close.
type Server struct {
	log     *slog.Logger
	authLog *slog.Logger

	// MaxBodySize, ReadTimeout, WriteTimeout, IdleTimeout, MaxConns and
	// MaxConnsPerSource may be changed before the first Listen; they
	// default to the Default* constants.
	MaxBodySize       int64
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxConns          int
	MaxConnsPerSource int

	// ctx is the parent of every handler's context; cancel runs in Close.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.RWMutex // guards handlers, routes and services
	handlers map[string]HandlerFunc
	services map[string]bool             // the "service" values answered for
	routes   map[string]map[string]route // path → method ("" = any) → handler

	lmu       sync.Mutex // serializes Listen and Close; guards listeners, closed
	listeners map[string]listener
	closed    bool
	bg        sync.WaitGroup // accept loops and draining listeners
}

// listener is one running control socket.
type listener interface {
	// stop closes the listening socket before returning, so its address
	// can be bound again at once, and drains connections in the background
	// (tracked by Server.bg).
	stop()
	// update swaps in new credentials and TLS settings without dropping
	// the socket.
	update(p *prepared)
}

// NewServer returns a server with only list-commands registered.
func NewServer(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		log:               log,
		authLog:           log.With("component", "auth"),
		MaxBodySize:       DefaultMaxBodySize,
		ReadTimeout:       DefaultReadTimeout,
		WriteTimeout:      DefaultWriteTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		MaxConns:          DefaultMaxConns,
		MaxConnsPerSource: DefaultMaxConnsPerSource,
		ctx:               ctx,
		cancel:            cancel,
		handlers:          make(map[string]HandlerFunc),
		services:          map[string]bool{ServiceName: true},
		routes:            make(map[string]map[string]route),
		listeners:         make(map[string]listener),
	}
	s.handlers["list-commands"] = s.listCommands
	return s
}

// Handle registers h for the command name, replacing any earlier handler
// (including the built-in list-commands). A nil h unregisters the command.
func (s *Server) Handle(name string, h HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.handlers, name)
		return
	}
	s.handlers[name] = h
}

// route is an extra HTTP route; private ones are served only by
// listeners on a loopback address that authenticate their clients.
type route struct {
	h       http.Handler
	private bool
}

// HandleHTTP adds an HTTP route to every HTTP(S) listener, e.g.
// HandleHTTP("GET /metrics", h). pattern is "[METHOD ]/path"; the path is
// matched exactly. "/" is reserved for commands. Routes are behind the same
// basic authentication as commands. A later registration of the same
// method and path replaces the earlier one.
func (s *Server) HandleHTTP(pattern string, h http.Handler) error {
	return s.handleHTTP(pattern, h, false)
}

// HandlePrivateHTTP is HandleHTTP for a route that reveals the process's
// insides (the runtime profiles): it is served only by listeners bound to
// a loopback address that authenticate their clients (basic
// authentication or required client certificates); elsewhere it is 404.
func (s *Server) HandlePrivateHTTP(pattern string, h http.Handler) error {
	return s.handleHTTP(pattern, h, true)
}

func (s *Server) handleHTTP(pattern string, h http.Handler, private bool) error {
	if h == nil {
		return fmt.Errorf("http route %q: nil handler", pattern)
	}
	method, path, found := strings.Cut(strings.TrimSpace(pattern), " ")
	if !found {
		method, path = "", method
	}
	path = strings.TrimSpace(path)
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t") {
		return fmt.Errorf("http route %q: path must start with /", pattern)
	}
	if path == "/" {
		return fmt.Errorf("http route %q: / is reserved for commands", pattern)
	}
	if method != "" && strings.ToUpper(method) != method {
		return fmt.Errorf("http route %q: method must be upper case", pattern)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.routes[path] == nil {
		s.routes[path] = make(map[string]route)
	}
	s.routes[path][method] = route{h: h, private: private}
	return nil
}

// prepared is a validated socket with its credentials and TLS settings
// loaded.
type prepared struct {
	sock config.ControlSocket
	key  string
	addr string // host:port or socket path
	auth *authState
	tls  *tlsState
}

// describeSocket names a socket in errors and logs.
func describeSocket(sock config.ControlSocket) string {
	switch sock.Type {
	case "unix":
		return "unix " + sock.SocketName
	default:
		addr, port := sock.Address, sock.Port
		if addr == "" {
			addr = "127.0.0.1"
		}
		if port == 0 {
			port = 8000
		}
		return sock.Type + " " + net.JoinHostPort(addr, strconv.Itoa(port))
	}
}

// prepare validates one socket and loads its files.
func prepare(sock config.ControlSocket) (*prepared, error) {
	p := &prepared{sock: sock}
	switch sock.Type {
	case "unix":
		if sock.SocketName == "" {
			return nil, errors.New("socket-name is empty")
		}
		p.addr = filepath.Clean(sock.SocketName)
		p.key = "unix:" + p.addr
		if sock.Auth != nil || sock.CertFile != "" || sock.KeyFile != "" || sock.TrustAnchor != "" {
			return nil, errors.New("authentication and TLS are not supported on unix sockets (use file permissions)")
		}
		return p, nil
	case "http", "https":
	default:
		return nil, fmt.Errorf("socket-type %q not supported (want unix, http or https)", sock.Type)
	}
	addr, port := sock.Address, sock.Port
	if addr == "" {
		addr = "127.0.0.1"
	}
	if port == 0 {
		port = 8000
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("port %d out of range", port)
	}
	p.addr = net.JoinHostPort(addr, strconv.Itoa(port))
	p.key = sock.Type + "://" + p.addr
	if sock.Type == "http" && (sock.CertFile != "" || sock.KeyFile != "" || sock.TrustAnchor != "") {
		// Serving plain text while the operator configured certificates
		// would silently drop the protection they asked for.
		return nil, errors.New("TLS files configured on an http socket (use socket-type https)")
	}
	if sock.Type == "https" {
		t, err := loadTLS(sock)
		if err != nil {
			return nil, err
		}
		p.tls = t
	}
	if sock.Auth != nil {
		a, err := loadAuth(sock.Auth)
		if err != nil {
			return nil, err
		}
		p.auth = a
	}
	if !p.authenticates() && !sock.AllowUnauthenticated {
		// Whoever can connect could reconfigure or stop the server.
		return nil, errors.New("no authentication and no required client certificate: refused " +
			"(configuration validation allows it only on loopback with xdhcp.insecure-unauthenticated-loopback-control)")
	}
	return p, nil
}

// authenticates reports whether the socket identifies its clients: basic
// authentication, or a client certificate the TLS handshake requires.
func (p *prepared) authenticates() bool {
	return p.auth != nil || (p.tls != nil && p.tls.cfg.ClientAuth == tls.RequireAndVerifyClientCert)
}

// Listen makes the running listeners match sockets: it starts new ones,
// stops removed ones, and keeps unchanged ones (same type and address)
// running, with credentials and certificates reloaded. A socket that fails
// to load or bind is reported in the returned error, which names it; if it
// was already running, it keeps its previous settings. The other sockets
// are still configured.
func (s *Server) Listen(sockets []config.ControlSocket) error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var errs []error
	// desired maps key → prepared; a nil value keeps a running listener
	// whose new settings failed to load.
	desired := make(map[string]*prepared, len(sockets))
	for _, sock := range sockets {
		name := describeSocket(sock)
		p, err := prepare(sock)
		if err != nil {
			errs = append(errs, fmt.Errorf("control socket %s: %w", name, err))
			if k := keyOf(sock); k != "" && s.listeners[k] != nil {
				desired[k] = nil
			}
			continue
		}
		if _, dup := desired[p.key]; dup {
			errs = append(errs, fmt.Errorf("control socket %s: configured twice", name))
			continue
		}
		desired[p.key] = p
	}
	for key, l := range s.listeners {
		if _, ok := desired[key]; !ok {
			l.stop()
			delete(s.listeners, key)
			s.log.Info("control socket stopped", "socket", key)
		}
	}
	for key, p := range desired {
		if p == nil {
			continue
		}
		if l, ok := s.listeners[key]; ok {
			l.update(p)
			continue
		}
		var (
			l   listener
			err error
		)
		if p.sock.Type == "unix" {
			l, err = s.startUnix(p)
		} else {
			l, err = s.startHTTP(p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("control socket %s: %w", describeSocket(p.sock), err))
			continue
		}
		s.listeners[key] = l
		s.log.Info("control socket listening", "socket", key, "auth", p.auth != nil)
	}
	return errors.Join(errs...)
}

// keyOf is the listener key of a socket, or "" if its type is unknown; it
// lets Listen keep a running listener whose new settings failed to load.
func keyOf(sock config.ControlSocket) string {
	switch sock.Type {
	case "unix":
		if sock.SocketName == "" {
			return ""
		}
		return "unix:" + filepath.Clean(sock.SocketName)
	case "http", "https":
		d := describeSocket(sock)
		return sock.Type + "://" + strings.TrimPrefix(d, sock.Type+" ")
	}
	return ""
}

// Close stops every listener, cancels running handlers' contexts, and waits
// for connections to finish (at most a few seconds).
func (s *Server) Close() error {
	s.lmu.Lock()
	if s.closed {
		s.lmu.Unlock()
		return nil
	}
	s.closed = true
	for key, l := range s.listeners {
		l.stop()
		delete(s.listeners, key)
	}
	s.lmu.Unlock()
	s.cancel()
	s.bg.Wait()
	return nil
}
