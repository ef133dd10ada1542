package keadiff

import (
	"net"
	"os"
	"testing"

	"xdhcp/internal/daemontest"
)

var xdhcpdBin = daemontest.NewBinary("kd-bin-")

func TestMain(m *testing.M) { os.Exit(xdhcpdBin.RunTests(m)) }

func TestSmoke(t *testing.T) {
	text, err := os.ReadFile("/usr/share/doc/kea/examples/kea4/single-subnet.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	r := Start(t, "single-subnet", doc, xdhcpdBin.Path(t))
	t.Logf("plan %+v adapted %v", r.Plan.Ifaces, r.Adapted)
	for _, c := range []Client{
		{Name: "direct", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}},
		{Name: "relayed", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Relayed: true},
		{Name: "bcast", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 3}, Broadcast: true},
	} {
		for _, cs := range r.Exchange(c) {
			t.Log(cs.Summary())
		}
	}
}
