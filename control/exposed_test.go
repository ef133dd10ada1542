package control

import (
	"slices"
	"testing"

	"xdhcp/config"
)

// TestExposed: only plain HTTP on a non-loopback address without
// authentication is listed.
func TestExposed(t *testing.T) {
	got := Exposed([]config.ControlSocket{
		{Type: "unix", SocketName: "/run/x.sock"},
		{Type: "http", Address: "127.0.0.1", Port: 8000},
		{Type: "http", Address: "::1", Port: 8001},
		{Type: "https", Address: "0.0.0.0", Port: 8443},
		{Type: "http", Address: "192.0.2.1", Port: 8000, Auth: &config.Authentication{Type: "basic"}},
		{Type: "http", Address: "192.0.2.1", Port: 8080},
		{Type: "http", Address: "2001:db8::1", Port: 8081},
		{Type: "http", Address: "ctl.example", Port: 8082},
	})
	want := []string{"http://192.0.2.1:8080", "http://[2001:db8::1]:8081", "http://ctl.example:8082"}
	if !slices.Equal(got, want) {
		t.Errorf("Exposed = %v, want %v", got, want)
	}
}
