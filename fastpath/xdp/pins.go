package xdp

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultBPFFS is the pin directory used when the configuration names none.
const DefaultBPFFS = "/sys/fs/bpf/xdhcp"

// ErrPinsInUse is returned when another process holds the lock of this
// network namespace's pin directory: two daemons must not share the drop
// list, the pinned links and the counters, or remove each other's pins.
var ErrPinsInUse = errors.New("pin directory in use by another xdhcpd")

// netnsID identifies a network namespace for as long as the machine is up.
type netnsID struct {
	ino, cookie uint64
}

func (n netnsID) dirName() string { return fmt.Sprintf("netns-%d-%d", n.ino, n.cookie) }

// pinPath is the pin directory of namespace ns under base: one
// subdirectory per network namespace, since pinned links are named by
// ifindex, which is only unique within a namespace. The subdirectory is
// named by the namespace's inode and its cookie: the kernel reuses a
// destroyed namespace's inode, and a new namespace must not inherit the
// drop list, rate buckets and counters of an old one; the cookie is never
// reused while the machine is up (and bpffs does not outlive a reboot).
func pinPath(base string, ns netnsID) string {
	if base == "" {
		base = DefaultBPFFS
	}
	return filepath.Join(base, ns.dirName())
}

// pinDir is a locked pin directory; Close releases the lock (the pins
// stay).
type pinDir struct {
	path string
	fd   int
}

// openPins returns the locked directory to pin maps and links in: the
// pinPath of this network namespace under base. It mounts a bpffs at
// /sys/fs/bpf when base is below it and none is mounted, and removes the
// pins of namespaces that no longer exist. A nil pinDir and nil error mean
// no pinning (no bpffs, or no namespace identity; logged); another daemon
// holding the directory is ErrPinsInUse.
func openPins(base string, log *slog.Logger) (*pinDir, error) {
	if base == "" {
		base = DefaultBPFFS
	}
	if !onBPFFS(filepath.Dir(base)) && strings.HasPrefix(base, "/sys/fs/bpf/") && !onBPFFS("/sys/fs/bpf") {
		if err := unix.Mount("bpf", "/sys/fs/bpf", "bpf", 0, ""); err != nil {
			log.Warn("no bpffs: the drop list will not survive a restart", "err", err)
			return nil, nil
		}
	}
	self, err := currentNetns()
	if err != nil {
		log.Warn("cannot identify the network namespace: the drop list will not survive a restart", "err", err)
		return nil, nil
	}
	removeStalePins(base, self, log)
	dir := pinPath(base, self)
	// A daemon in a namespace this process cannot see may take the
	// directory for stale and remove it between MkdirAll and the lock:
	// then the lock is on a removed directory, and it is made again.
	for range 3 {
		if err := os.MkdirAll(dir, 0o700); err != nil || !onBPFFS(dir) {
			log.Warn("pin directory is not on a bpffs: the drop list will not survive a restart", "dir", dir, "err", err)
			return nil, nil
		}
		p, err := lockPins(dir)
		if err != nil || p.current() {
			return p, err
		}
		p.Close()
	}
	return nil, fmt.Errorf("pin directory %s keeps being removed while it is locked", dir)
}

// current says whether the locked directory is still the one at its path.
func (p *pinDir) current() bool {
	var held, now unix.Stat_t
	return unix.Fstat(p.fd, &held) == nil && unix.Stat(p.path, &now) == nil && held.Ino == now.Ino && held.Dev == now.Dev
}

// lockPins takes the exclusive lock of dir (flock on the directory itself,
// so that it needs no file beside the pins and is released when the
// process dies, however it dies).
func lockPins(dir string) (*pinDir, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open pin directory %s: %w", dir, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another process serving this network namespace; stop it or give this one another xdhcp.xdp.bpffs", ErrPinsInUse, dir)
		}
		return nil, fmt.Errorf("lock pin directory %s: %w", dir, err)
	}
	return &pinDir{path: dir, fd: fd}, nil
}

// Close releases the lock.
func (p *pinDir) Close() error {
	if p == nil || p.fd < 0 {
		return nil
	}
	err := unix.Close(p.fd)
	p.fd = -1
	if err != nil {
		return fmt.Errorf("unlock pin directory %s: %w", p.path, err)
	}
	return nil
}

// currentNetns reads the calling thread's namespace inode and its cookie
// (SO_NETNS_COOKIE, Linux 5.14). Both are the thread's, not the main
// thread's (/proc/self), so that a caller inside a namespace entered on a
// locked thread gets the one its sockets and links live in.
func currentNetns() (netnsID, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return netnsID{}, fmt.Errorf("stat /proc/thread-self/ns/net: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netnsID{}, fmt.Errorf("socket for the namespace cookie: %w", err)
	}
	defer unix.Close(fd)
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return netnsID{}, fmt.Errorf("SO_NETNS_COOKIE: %w", err)
	}
	return netnsID{ino: st.Ino, cookie: cookie}, nil
}

// removeStalePins deletes the pin directories of network namespaces that
// no longer exist (a lab or container that was torn down): their links
// point at interfaces that are gone and nothing will ever use them again.
// A directory with this namespace's inode but another cookie belonged to
// an earlier namespace whose inode the kernel gave to this one. A
// directory another daemon holds locked is left alone: that daemon's
// namespace is alive even if this process cannot see it.
func removeStalePins(base string, self netnsID, log *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(base, "netns-*"))
	if len(dirs) == 0 {
		return
	}
	live := map[uint64]bool{}
	mark := func(path string) {
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil {
			live[st.Ino] = true
		}
	}
	named, _ := filepath.Glob("/run/netns/*")
	for _, p := range named {
		mark(p)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		mark(p)
	}
	for _, d := range dirs {
		var id netnsID
		name := filepath.Base(d)
		if n, _ := fmt.Sscanf(name, "netns-%d-%d", &id.ino, &id.cookie); n == 0 {
			continue // not ours
		} else if n == 2 && name != id.dirName() {
			continue
		}
		// Stale: the namespace is gone, or its inode now names this
		// namespace under another cookie, or the directory predates the
		// cookie in its name (it cannot be told from a reused inode).
		if live[id.ino] && (id.ino != self.ino || id.cookie == self.cookie) && id.cookie != 0 {
			continue
		}
		lock, err := lockPins(d)
		if err != nil {
			log.Warn("keep pins that look stale: cannot lock them", "dir", d, "err", err)
			continue
		}
		err = os.RemoveAll(d)
		lock.Close()
		if err != nil {
			log.Warn("remove stale pins", "dir", d, "err", err)
			continue
		}
		log.Info("removed pins of a network namespace that no longer exists", "dir", d)
	}
}

func onBPFFS(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.BPF_FS_MAGIC
}
