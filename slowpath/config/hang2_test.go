package config

import (
	"testing"
	"time"
	"os"
	"path/filepath"
)

func FuzzHang(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "kea", "*.json"))
	for _, name := range files {
		data, _ := os.ReadFile(name)
		f.Add(data)
	}
	f.Add(Default())
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() { Parse(data); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("HANG %q", data)
		}
	})
}
