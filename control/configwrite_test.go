package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigWritePath: names resolve inside the configuration file's
// directory; other directories, subdirectories and ".." are refused, and so
// is writing with no configuration file.
func TestConfigWritePath(t *testing.T) {
	cfg := "/etc/xdhcp/kea-dhcp4.conf"
	for name, want := range map[string]string{
		"":                          cfg,
		"backup.json":               "/etc/xdhcp/backup.json",
		"/etc/xdhcp/backup.json":    "/etc/xdhcp/backup.json",
		"/etc/xdhcp//./backup.json": "/etc/xdhcp/backup.json",
	} {
		if got, err := ConfigWritePath(cfg, name); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"/tmp/evil.json", "../evil.json", "/etc/xdhcp/../passwd", "sub/x.json", "/etc/xdhcp/sub/x.json", "/etc/cron.d/x"} {
		if got, err := ConfigWritePath(cfg, name); err == nil {
			t.Errorf("%q accepted as %q", name, got)
		}
	}
	if _, err := ConfigWritePath("", "x.json"); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Errorf("no configuration file: %v", err)
	}
}

// TestWriteFileAtomic: the file is replaced whole with mode 0600 and no
// temporary file is left; a symbolic link in its place (planted to
// redirect the write) is refused and its target untouched.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kea-dhcp4.conf")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte(`{"Dhcp4": {}}`)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(b) != `{"Dhcp4": {}}` || fi.Mode().Perm() != 0o600 {
		t.Errorf("written %q mode %v", b, fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want the file alone", len(ents))
	}

	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "planted.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("owned")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("write through a planted link: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("link target changed to %q", b)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
