package control

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ConfigWritePath resolves config-write's filename the way Kea 2.6.3
// does: the file is written only in the directory of the configuration
// file the server was started with. An empty name is that file itself; a
// bare name is taken in its directory; a path must name that directory
// exactly (no subdirectory, no "..").
func ConfigWritePath(cfgPath, name string) (string, error) {
	if cfgPath == "" {
		return "", errors.New("the server runs on its embedded configuration (no -c file), so there is no configuration directory to write to")
	}
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return "", fmt.Errorf("configuration file %s: %w", cfgPath, err)
	}
	dir := filepath.Dir(abs)
	if name == "" {
		return abs, nil
	}
	if slices.Contains(strings.Split(name, "/"), "..") {
		return "", fmt.Errorf("invalid path specified: '%s': '..' is not allowed", name)
	}
	if !strings.Contains(name, "/") {
		return filepath.Join(dir, name), nil
	}
	clean := filepath.Clean(name)
	if !filepath.IsAbs(clean) {
		clean = filepath.Join(dir, clean)
	}
	if filepath.Dir(clean) != dir || filepath.Base(clean) == "" {
		return "", fmt.Errorf("invalid path specified: '%s', supported path is '%s'", filepath.Dir(clean), dir)
	}
	return clean, nil
}

// WriteFileAtomic replaces path with data so that a reader sees the old
// file or the new one, never a part, and so that nothing planted in the
// directory is followed: the data goes to a new temporary file created
// with O_EXCL|O_NOFOLLOW and mode 0600, is synced, and is renamed over
// path (rename replaces a symbolic link, it never writes through one);
// then the directory is synced so the rename survives a crash. A path
// that is a symbolic link or not a regular file is refused.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	switch err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return fmt.Errorf("stat %s: %w", path, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("%s is a symbolic link: refusing to replace it", path)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file", path)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + base + ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	werr := writeAll(fd, data)
	if werr == nil {
		werr = unix.Fsync(fd)
	}
	if cerr := unix.Close(fd); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	if err := unix.Renameat(dfd, tmp, dfd, base); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	if err := unix.Fsync(dfd); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		b = b[n:]
	}
	return nil
}
