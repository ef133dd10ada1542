// Package dbtest runs real database servers for tests and the bench:
// PostgreSQL 15 and MariaDB 10.11 from Debian, each in a fresh temporary
// directory, as an unprivileged user, on a unix socket in that directory
// and on a free loopback port. Nothing of the system's own database
// services is touched. Databases carry Kea's schema as kea-admin db-init
// creates it.
//
// One server per test binary, shared between tests, keeps time down:
// declare a Lazy in the test package, call Get in each test (it starts
// the server on first use) and Close from TestMain.
package dbtest

import (
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Kind names a database server product.
type Kind string

// The servers this package runs.
const (
	Postgres Kind = "postgresql"
	MySQL    Kind = "mysql"
)

// Admin is the superuser account every server is created with; the
// password is used on TCP connections.
const (
	AdminUser     = "xdhcpadmin"
	AdminPassword = "xdhcpadmin-pw"
)

// Options tune a server. The zero value suits unit tests.
type Options struct {
	// Durable keeps the server's flush on commit (fsync, InnoDB log flush
	// at each commit) as a production server has it; benchmarks want it.
	// Unit tests leave it off: correctness does not depend on it and it
	// costs seconds on a loaded machine.
	Durable bool
	// ExtraArgs are appended to the server's command line.
	ExtraArgs []string
	// TLS makes the server offer TLS (see NewTLSDB and CAFile).
	TLS bool
}

// Server is one running database server.
type Server struct {
	Kind   Kind
	Dir    string // temporary directory holding data, socket, logs
	Socket string // unix socket path (PostgreSQL: the socket's directory)
	Port   int    // loopback TCP port
	Host   string // "127.0.0.1"
	// With Options.TLS: the CA that signed the server's certificate,
	// and a CA that did not.
	CAFile, OtherCAFile string
	certFile, keyFile   string

	opts     Options
	args     []string // server command line, for Restart
	uid      uint32
	gid      uint32
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	counter  int
	tmplOK   bool   // the template database holds Kea's schema
	cache    string // the prepared data directory's copy
	prepared bool   // the data directory is a prepared copy
	tmplDump string // MySQL: the template database's dump
}

// Start starts a server of kind in a fresh temporary directory.
func Start(kind Kind, opts Options) (*Server, error) {
	switch kind {
	case Postgres:
		return startPostgres(opts)
	case MySQL:
		return startMySQL(opts)
	}
	return nil, fmt.Errorf("dbtest: unknown database kind %q", kind)
}

// Lazy is a server started on first Get and stopped by Close.
type Lazy struct {
	kind Kind
	opts Options
	once sync.Once
	srv  *Server
	err  error
}

// NewLazy returns a Lazy server of kind.
func NewLazy(kind Kind, opts Options) *Lazy { return &Lazy{kind: kind, opts: opts} }

// Get returns the running server, starting it on the first call. A test
// is skipped when the server's binaries are not installed and fails on
// any other error.
func (l *Lazy) Get(t testing.TB) *Server {
	t.Helper()
	l.once.Do(func() { l.srv, l.err = Start(l.kind, l.opts) })
	if l.err != nil {
		if errors.Is(l.err, errNotInstalled) {
			t.Skipf("dbtest: %v", l.err)
		}
		t.Fatalf("dbtest: %v", l.err)
	}
	return l.srv
}

// Close stops the server if it was started.
func (l *Lazy) Close() {
	if l.srv != nil {
		l.srv.Stop()
	}
}

var errNotInstalled = errors.New("database server not installed")

// pgBin is where Debian installs PostgreSQL 15's server binaries.
const pgBin = "/usr/lib/postgresql/15/bin"

func startPostgres(opts Options) (*Server, error) {
	for _, b := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			return nil, fmt.Errorf("%w: %s/%s", errNotInstalled, pgBin, b)
		}
	}
	s, err := newServer(Postgres, "postgres", opts)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(s.Dir, "data")
	pwFile := filepath.Join(s.Dir, "pw")
	if err := s.writeOwned(pwFile, AdminPassword+"\n"); err != nil {
		return nil, s.fail(err)
	}
	if err := s.initData(data, filepath.Join(pgBin, "postgres"), filepath.Join(pgBin, "initdb"), "-D", data, "-U", AdminUser,
		"--pwfile", pwFile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		return nil, s.fail(err)
	}
	s.Socket = s.Dir
	s.args = []string{filepath.Join(pgBin, "postgres"), "-D", data, "-k", s.Dir, "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "logging_collector=off",
		"-c", "shared_buffers=64MB"}
	if !opts.Durable {
		s.args = append(s.args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	if opts.TLS {
		args, err := s.postgresTLSArgs()
		if err != nil {
			return nil, s.fail(err)
		}
		s.args = append(s.args, args...)
	}
	s.args = append(s.args, opts.ExtraArgs...)
	if err := s.launch(); err != nil {
		return nil, s.fail(err)
	}
	if err := s.prepare(s.postgresTemplate); err != nil {
		return nil, s.fail(err)
	}
	s.tmplOK = true
	return s, nil
}

func startMySQL(opts Options) (*Server, error) {
	for _, b := range []string{"/usr/bin/mariadb-install-db", "/usr/sbin/mariadbd"} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%w: %s", errNotInstalled, b)
		}
	}
	s, err := newServer(MySQL, "mysql", opts)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(s.Dir, "data")
	s.Socket = filepath.Join(s.Dir, "mysqld.sock")
	// kea-admin 2.2's db-init runs the schema script without its -P port:
	// the client's option file (HOME is the server's directory) supplies it.
	if err := s.writeOwned(filepath.Join(s.Dir, ".my.cnf"), fmt.Sprintf("[client]\nport=%d\n", s.Port)); err != nil {
		return nil, s.fail(err)
	}
	if err := s.initData(data, "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "--no-defaults", "--datadir="+data,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"); err != nil {
		return nil, s.fail(err)
	}
	s.args = []string{"/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + data, "--socket=" + s.Socket,
		"--port=" + strconv.Itoa(s.Port), "--bind-address=127.0.0.1", "--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"),
		"--log-error=" + filepath.Join(s.Dir, "server.log"), "--skip-log-bin", "--skip-name-resolve",
		"--max-connections=300", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M"}
	if !opts.Durable {
		s.args = append(s.args, "--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0", "--innodb-doublewrite=0")
	}
	if opts.TLS {
		args, err := s.mysqlTLSArgs()
		if err != nil {
			return nil, s.fail(err)
		}
		s.args = append(s.args, args...)
	}
	s.args = append(s.args, opts.ExtraArgs...)
	if err := s.launch(); err != nil {
		return nil, s.fail(err)
	}
	// The fresh server has root on the socket only; add the admin account
	// the tests use over TCP, and the template.
	err = s.prepare(func() error {
		if err := s.mysqlRoot(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT ALL ON *.* TO '%s'@'%%' WITH GRANT OPTION;",
			AdminUser, AdminPassword, AdminUser)); err != nil {
			return err
		}
		return s.mysqlTemplateDB()
	})
	if err != nil {
		return nil, s.fail(err)
	}
	s.tmplOK = true
	return s, nil
}

// initData makes a fresh data directory at data: a copy of the one an
// earlier run prepared (initialised, admin account and Kea's template
// database made, server cleanly stopped), or by running the init command
// (prepared reports which). initdb, mariadb-install-db and kea-admin take
// seconds that every test binary would pay again; the prepared copy lives
// in CacheDir, keyed by the server binary's size and time.
// CacheDir holds the prepared data directories the tests start from, as
// a package cache holds downloads: it is kept between runs and can be
// removed at any time (the next run prepares it again).
const CacheDir = "/var/cache/xdhcp/dbtest"

func (s *Server) initData(data, server string, initCmd ...string) error {
	st, err := os.Stat(server)
	if err != nil {
		return err
	}
	s.cache = filepath.Join(CacheDir, fmt.Sprintf("%s-%d-%d-v1", s.Kind, st.Size(), st.ModTime().Unix()))
	if _, err := os.Stat(s.cache); err == nil {
		if exec.Command("cp", "-a", s.cache, data).Run() == nil {
			s.prepared = true
			return nil
		}
		_ = os.RemoveAll(data)
	}
	if out, err := s.run(initCmd[0], initCmd[1:]...); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(initCmd[0]), err, out)
	}
	return nil
}

// prepare makes what a prepared data directory holds beyond the init
// (make), then stops the server, keeps a copy of its data directory for
// later runs (complete or not at all), and starts it again.
func (s *Server) prepare(make func() error) error {
	if s.prepared {
		return nil
	}
	if err := make(); err != nil {
		return err
	}
	s.Halt()
	if err := os.MkdirAll(filepath.Dir(s.cache), 0o755); err == nil {
		if tmp, err := os.MkdirTemp(filepath.Dir(s.cache), "new-"); err == nil {
			if exec.Command("cp", "-a", filepath.Join(s.Dir, "data"), filepath.Join(tmp, "data")).Run() == nil {
				_ = os.Rename(filepath.Join(tmp, "data"), s.cache) // another process may have won: fine
			}
			_ = os.RemoveAll(tmp)
		}
	}
	return s.Restart()
}

// newServer makes the temporary directory, owned by the unprivileged
// account the server runs as, and picks a free loopback port.
func newServer(kind Kind, account string, opts Options) (*Server, error) {
	s := &Server{Kind: kind, Host: "127.0.0.1", opts: opts}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(account)
		if err != nil {
			return nil, fmt.Errorf("%w: no %s account: %v", errNotInstalled, account, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.uid, s.gid = uint32(uid), uint32(gid)
	} else {
		s.uid, s.gid = uint32(os.Geteuid()), uint32(os.Getegid())
	}
	// A server that need not be durable lives in memory: disk flushes
	// of schema changes cost seconds on a loaded machine.
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && !opts.Durable {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "xdhcp-"+string(kind)+"-")
	if err != nil {
		return nil, fmt.Errorf("dbtest: temp dir: %w", err)
	}
	s.Dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, s.fail(err)
	}
	if err := os.Chown(dir, int(s.uid), int(s.gid)); err != nil {
		return nil, s.fail(err)
	}
	port, err := freePort()
	if err != nil {
		return nil, s.fail(err)
	}
	s.Port = port
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dbtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// fail removes what newServer made and returns err.
func (s *Server) fail(err error) error {
	s.Stop()
	return fmt.Errorf("dbtest: %s: %w", s.Kind, err)
}

func (s *Server) writeOwned(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chown(path, int(s.uid), int(s.gid))
}

// sysProc runs a child as the server's account, in its own process group.
// No parent-death signal: it fires when the forking thread exits, and the
// lab code's threads that end locked in a namespace killed servers in the
// middle of tests. Stop (the tests' cleanup) ends the server; a test
// binary killed outright leaves it running in its temporary directory.
func (s *Server) sysProc() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		a.Credential = &syscall.Credential{Uid: s.uid, Gid: s.gid}
	}
	return a
}

// run runs a setup command as the server's account and returns its output.
func (s *Server) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "HOME="+s.Dir, "LC_ALL=C.UTF-8")
	cmd.SysProcAttr = s.sysProc()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// launch starts the server process and waits until it accepts
// connections on its port. When the port was taken meanwhile, it starts
// again on another one (a few times).
func (s *Server) launch() error {
	var err error
	for range 3 {
		if err = s.launchOnce(); err == nil || !errors.Is(err, errPortTaken) {
			return err
		}
		s.Halt()
		port, perr := freePort()
		if perr != nil {
			return perr
		}
		for i, a := range s.args {
			switch {
			case a == strconv.Itoa(s.Port) && i > 0 && s.args[i-1] == "-p":
				s.args[i] = strconv.Itoa(port)
			case a == "--port="+strconv.Itoa(s.Port):
				s.args[i] = "--port=" + strconv.Itoa(port)
			}
		}
		if s.Kind == MySQL {
			_ = s.writeOwned(filepath.Join(s.Dir, ".my.cnf"), fmt.Sprintf("[client]\nport=%d\n", port))
		}
		s.Port = port
	}
	return err
}

var errPortTaken = errors.New("port taken by another server")

func (s *Server) launchOnce() error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "HOME="+s.Dir, "LC_ALL=C.UTF-8")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = s.sysProc()
	// Start from a fresh goroutine, which never runs on a thread a test
	// locked (and perhaps moved into a namespace): the server must live
	// in the host's network namespace.
	started := make(chan error, 1)
	go func() { started <- cmd.Start() }()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", s.args[0], err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			if strings.Contains(s.Log(), "already in use") {
				return fmt.Errorf("%w: %d", errPortTaken, s.Port)
			}
			return fmt.Errorf("%s exited at start: %s", s.args[0], s.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), time.Second); err == nil {
			c.Close()
			// Another test binary's server may have taken the port
			// between freePort and this start (ours then fails to bind):
			// only our own server answering there counts.
			if s.ownsPort() {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections within 60 s: %s", s.args[0], s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ownsPort reports whether the server answering on s.Port is this one
// and takes queries (PostgreSQL opens its port before recovery ends).
func (s *Server) ownsPort() bool {
	if s.Kind == Postgres {
		out, err := s.psql("postgres", "SHOW data_directory")
		return err == nil && filepath.Clean(out) == filepath.Join(s.Dir, "data")
	}
	// Over our own socket: the server that bound it reports its port.
	return s.socketPort() == s.Port
}

// socketPort is the TCP port the MySQL server on our socket listens on,
// 0 when it does not answer.
func (s *Server) socketPort() int {
	for _, u := range [][2]string{{"root", ""}, {AdminUser, AdminPassword}} {
		cfg := driver.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = u[0], u[1], "unix", s.Socket
		out, err := mysqlRun(cfg, "SELECT @@port", true)
		if err == nil {
			n, _ := strconv.Atoi(strings.TrimSpace(out))
			return n
		}
	}
	return 0
}

// Log returns the tail of the server's output, for error messages.
func (s *Server) Log() string {
	var b []byte
	for _, f := range []string{"server.out", "server.log"} {
		if d, err := os.ReadFile(filepath.Join(s.Dir, f)); err == nil {
			b = append(b, d...)
		}
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Kill stops the server abruptly (SIGKILL to its process group), as a
// crash or a pulled cable would, keeping its data for Restart.
func (s *Server) Kill() {
	s.signal(syscall.SIGKILL)
}

// Halt stops the server cleanly (as an operator's stop does), keeping its
// data for Restart.
func (s *Server) Halt() {
	sig := syscall.SIGTERM
	if s.Kind == Postgres {
		sig = syscall.SIGINT // fast shutdown: disconnect clients, no waiting for them
	}
	s.signal(sig)
}

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	// The group holds PostgreSQL's backends too.
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	// Children (PostgreSQL's backends) can outlive the server process
	// briefly; a restart must not meet them: wait for the whole group,
	// killing what is left after a few seconds.
	for i := 0; i < 250 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
		if sig == syscall.SIGKILL || i > 150 {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts a halted or killed server again on the same directory
// and port.
func (s *Server) Restart() error {
	if s.Kind == Postgres {
		_ = os.Remove(filepath.Join(s.Dir, "data", "postmaster.pid"))
	}
	return s.launch()
}

// Stop stops the server and removes its directory.
func (s *Server) Stop() {
	s.Halt()
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// DB is one database on a server, with Kea's schema, and an account that
// owns it.
type DB struct {
	Server   *Server
	Name     string
	User     string
	Password string
}

// Host returns the TCP host clients connect to.
func (d DB) Host() string { return d.Server.Host }

// Port returns the TCP port clients connect to.
func (d DB) Port() int { return d.Server.Port }

// KeaConfig returns the lease-database (or hosts-database) map Kea and
// xdhcpd take for this database, with extra parameters merged in.
func (d DB) KeaConfig(extra map[string]any) map[string]any {
	m := map[string]any{
		"type":     string(d.Server.Kind),
		"name":     d.Name,
		"host":     d.Server.Host,
		"port":     d.Server.Port,
		"user":     d.User,
		"password": d.Password,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// Exec runs SQL statements in the database as its owner, through the
// server's command-line client, and returns their output (tab separated,
// no headers).
func (d DB) Exec(sql string) (string, error) {
	if d.Server.Kind == Postgres {
		return d.Server.psqlAs(d.User, d.Password, d.Name, sql)
	}
	return d.Server.mysqlAs(d.User, d.Password, d.Name, sql)
}

// NewDB creates a fresh database with Kea's schema (kea-admin db-init) and
// an account owning it, dropped at the test's end.
func (s *Server) NewDB(t testing.TB) DB {
	t.Helper()
	d, err := s.CreateDB(strings.ToLower(sanitize(t.Name())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DropDB(d) })
	return d
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}

// CreateDB creates a database named after hint with Kea's schema as
// kea-admin db-init makes it, and a user owning it.
func (s *Server) CreateDB(hint string) (DB, error) {
	s.mu.Lock()
	s.counter++
	n := s.counter
	s.mu.Unlock()
	d := DB{Server: s, Name: fmt.Sprintf("k%d_%s", n, hint), User: fmt.Sprintf("kea%d", n), Password: fmt.Sprintf("pw-%d-secret", n)}
	var err error
	if s.Kind == Postgres {
		err = s.createPostgresDB(d)
	} else {
		err = s.createMySQLDB(d)
	}
	if err != nil {
		return DB{}, fmt.Errorf("dbtest: create %s database %s: %w", s.Kind, d.Name, err)
	}
	return d, nil
}

// DropDB drops a database and its user.
func (s *Server) DropDB(d DB) error {
	if s.Kind == Postgres {
		_, err := s.psql("postgres", fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, d.Name), "DROP ROLE IF EXISTS "+d.User)
		return err
	}
	return s.mysqlRoot(fmt.Sprintf("DROP DATABASE IF EXISTS %s; DROP USER IF EXISTS '%s'@'%%';", d.Name, d.User))
}

// NewEmptyDB creates a fresh database without any schema, and an account
// owning it, dropped at the test's end: what an operator has before
// running kea-admin db-init (or xdhcpctl db-init) on it.
func (s *Server) NewEmptyDB(t testing.TB) DB {
	t.Helper()
	s.mu.Lock()
	s.counter++
	n := s.counter
	s.mu.Unlock()
	d := DB{Server: s, Name: fmt.Sprintf("e%d_%s", n, strings.ToLower(sanitize(t.Name()))), User: fmt.Sprintf("empty%d", n),
		Password: fmt.Sprintf("pw-%d-empty", n)}
	var err error
	if s.Kind == Postgres {
		_, err = s.psql("postgres", fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, d.User, d.Password),
			fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, d.Name, d.User))
		if err == nil {
			_, err = s.psql(d.Name, "GRANT CREATE ON SCHEMA public TO "+d.User)
		}
	} else {
		err = s.mysqlRoot(fmt.Sprintf("CREATE DATABASE %s; CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT ALL ON %s.* TO '%s'@'%%';",
			d.Name, d.User, d.Password, d.Name, d.User))
	}
	if err != nil {
		t.Fatalf("dbtest: create empty %s database %s: %v", s.Kind, d.Name, err)
	}
	t.Cleanup(func() { _ = s.DropDB(d) })
	return d
}

// KeaAdminInit runs Debian's kea-admin db-init on d as its owner, over
// TCP, as an operator would.
func KeaAdminInit(d DB) error {
	backend := "pgsql"
	if d.Server.Kind == MySQL {
		backend = "mysql"
	}
	return keaAdminInit(d.Server, backend, d.Name, d.User, d.Password)
}

// keaTemplate is a database holding Kea's schema from kea-admin, which
// every test database is copied from: a copy takes a fraction of what
// running the schema script each time would.
const keaTemplate = "kea_template"

func (s *Server) createPostgresDB(d DB) error {
	if _, err := s.psql("postgres", fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, d.User, d.Password),
		fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s OWNER %s`, d.Name, keaTemplate, d.User)); err != nil {
		return err
	}
	// The schema's objects belong to whoever ran kea-admin on the
	// template; hand them to the database's owner as db-init as that user
	// would have made them.
	_, err := s.psql(d.Name, fmt.Sprintf(`REASSIGN OWNED BY %s TO %s;`, "kea_tmpl_owner", d.User))
	return err
}

// postgresTemplate creates the template database, with kea-admin db-init
// run as its own account; the server's start prepares it.
func (s *Server) postgresTemplate() error {
	// The template belongs to the admin, its tables to kea_tmpl_owner:
	// REASSIGN OWNED in a copy then moves the tables and nothing shared.
	if _, err := s.psql("postgres", `CREATE ROLE kea_tmpl_owner LOGIN PASSWORD 'tmpl'`, "CREATE DATABASE "+keaTemplate); err != nil {
		return err
	}
	if _, err := s.psql(keaTemplate, `GRANT CREATE ON SCHEMA public TO kea_tmpl_owner;`); err != nil {
		return err
	}
	if err := keaAdminInit(s, "pgsql", keaTemplate, "kea_tmpl_owner", "tmpl"); err != nil {
		return err
	}
	s.tmplOK = true
	return nil
}

func (s *Server) createMySQLDB(d DB) error {
	dump, err := s.mysqlTemplate()
	if err != nil {
		return err
	}
	if err := s.mysqlRoot(fmt.Sprintf("CREATE DATABASE %s; CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT ALL ON %s.* TO '%s'@'%%';",
		d.Name, d.User, d.Password, d.Name, d.User)); err != nil {
		return err
	}
	// Triggers and procedures run as their definer: make it the
	// database's own account, as db-init run by that account would have.
	dump = strings.ReplaceAll(dump, "DEFINER=`kea_tmpl_owner`@`%`", "DEFINER=`"+d.User+"`@`%`")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mariadb", "--no-defaults", "-uroot", "--socket="+s.Socket, d.Name)
	cmd.Stdin = strings.NewReader(dump)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("load schema copy: %w: %s", err, out)
	}
	return nil
}

// mysqlTemplateDB creates the template database with kea-admin db-init;
// the server's start prepares it.
func (s *Server) mysqlTemplateDB() error {
	if err := s.mysqlRoot(fmt.Sprintf("CREATE DATABASE %s; CREATE USER 'kea_tmpl_owner'@'%%' IDENTIFIED BY 'tmpl'; GRANT ALL ON %s.* TO 'kea_tmpl_owner'@'%%';",
		keaTemplate, keaTemplate)); err != nil {
		return err
	}
	return keaAdminInit(s, "mysql", keaTemplate, "kea_tmpl_owner", "tmpl")
}

// mysqlTemplate returns the template database's dump (schema, triggers,
// procedures and the schema's own rows), which every test database is
// loaded from: Kea's script builds the first schema version and upgrades
// it step by step, which takes many times longer than loading the result.
func (s *Server) mysqlTemplate() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tmplDump != "" {
		return s.tmplDump, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mariadb-dump", "--no-defaults", "-uroot", "--socket="+s.Socket,
		"--routines", "--triggers", "--skip-lock-tables", "--skip-comments", keaTemplate).Output()
	if err != nil {
		return "", fmt.Errorf("dump template: %w", err)
	}
	s.tmplDump = string(out)
	return s.tmplDump, nil
}

// keaAdminInit runs Debian's kea-admin db-init against the database over
// TCP, as an operator would.
func keaAdminInit(s *Server, backend, name, user, password string) error {
	if _, err := exec.LookPath("kea-admin"); err != nil {
		return fmt.Errorf("%w: kea-admin (Debian package kea-admin)", errNotInstalled)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kea-admin", "db-init", backend, "-h", s.Host, "-P", strconv.Itoa(s.Port),
		"-u", user, "-p", password, "-n", name)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "HOME="+s.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kea-admin db-init %s: %w: %s", backend, err, out)
	}
	return nil
}

// psql runs SQL as the admin, each statement in its own transaction.
func (s *Server) psql(db string, sql ...string) (string, error) {
	return s.psqlAs(AdminUser, AdminPassword, db, sql...)
}

// psqlAs runs SQL as user over TCP through the driver (a psql process
// per call costs a second on a loaded machine) and returns the rows as
// psql -A -t -F '\t' prints them.
func (s *Server) psqlAs(user, password, db string, sql ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ssl := "disable"
	if s.opts.TLS {
		ssl = "require" // an account of NewTLSDB has no other way in
	}
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d dbname=%s user=%s password='%s' sslmode=%s connect_timeout=10",
		s.Host, s.Port, db, user, password, ssl))
	if err != nil {
		return "", fmt.Errorf("connect to %s as %s: %w", db, user, err)
	}
	defer conn.Close(context.Background())
	var lines []string
	for _, q := range sql {
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return "", fmt.Errorf("%q: %w", q, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return "", fmt.Errorf("%q: %w", q, err)
			}
			f := make([]string, len(vals))
			for i, v := range vals {
				f[i] = pgText(v)
			}
			lines = append(lines, strings.Join(f, "\t"))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("%q: %w", q, err)
		}
	}
	return strings.Join(lines, "\n"), nil
}

// pgText prints a value as psql does in its unaligned output.
func pgText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "t"
		}
		return "f"
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case time.Time:
		return x.Format("2006-01-02 15:04:05-07")
	}
	return fmt.Sprint(v)
}

// mysqlRoot runs SQL (several statements allowed) as root over the unix
// socket.
func (s *Server) mysqlRoot(sql string) error {
	cfg := driver.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.MultiStatements = "root", "unix", s.Socket, true
	_, err := mysqlRun(cfg, sql, false)
	return err
}

// mysqlAs runs SQL as user over TCP and returns the rows as the mariadb
// client prints them with -N -B.
func (s *Server) mysqlAs(user, password, db, sql string) (string, error) {
	cfg := driver.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName, cfg.MultiStatements = user, password, db, true
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	if s.opts.TLS {
		cfg.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own server; an account of NewTLSDB needs TLS
	}
	return mysqlRun(cfg, sql, true)
}

func mysqlRun(cfg *driver.Config, q string, query bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := driver.NewConnector(cfg)
	if err != nil {
		return "", err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if !query {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return "", fmt.Errorf("%q: %w", q, err)
		}
		return "", nil
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return "", fmt.Errorf("%q: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		f := make([]string, len(vals))
		for i, v := range vals {
			f[i] = v.String
			if !v.Valid {
				f[i] = "NULL"
			}
		}
		lines = append(lines, strings.Join(f, "\t"))
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// Main runs a test binary's tests and stops the servers they started; a
// package's TestMain calls it.
func Main(m *testing.M, servers ...*Lazy) {
	code := m.Run()
	for _, s := range servers {
		s.Close()
	}
	os.Exit(code)
}

// InsertLeases4 writes n lease4 rows straight into d, as another server
// or a migration would: addresses first, first+1, …, hardware addresses
// 02:72:tag:nn:nn:nn (nn:nn:nn the row's index), a valid lifetime of an hour, expiring at expire
// (unix seconds), in subnet subnetID and state state. Kea's statistics
// triggers count them as they would any insert.
func (d DB) InsertLeases4(first uint32, n int, subnetID int, expire int64, state int, tag byte) error {
	const rowsPerStatement = 2000
	for done := 0; done < n; done += rowsPerStatement {
		var b strings.Builder
		b.WriteString("INSERT INTO lease4 (address, hwaddr, valid_lifetime, expire, subnet_id, fqdn_fwd, fqdn_rev, hostname, state) VALUES ")
		for i := done; i < min(n, done+rowsPerStatement); i++ {
			if i > done {
				b.WriteString(", ")
			}
			hw := fmt.Sprintf("0272%02x%06x", tag, i)
			if d.Server.Kind == Postgres {
				fmt.Fprintf(&b, "(%d, decode('%s', 'hex'), 3600, to_timestamp(%d), %d, false, false, '', %d)", first+uint32(i), hw, expire, subnetID, state)
			} else {
				fmt.Fprintf(&b, "(%d, UNHEX('%s'), 3600, FROM_UNIXTIME(%d), %d, 0, 0, '', %d)", first+uint32(i), hw, expire, subnetID, state)
			}
		}
		if _, err := d.Exec(b.String()); err != nil {
			if inner := errors.Unwrap(err); inner != nil {
				err = inner // without the statement, thousands of rows long
			}
			return fmt.Errorf("dbtest: insert leases: %w", err)
		}
	}
	return nil
}
