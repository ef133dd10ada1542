package bench

import "testing"

// perfdhcpSample is perfdhcp 2.2 output for a relay-mode run.
const perfdhcpSample = `Running: perfdhcp -4 -l 10.0.0.2 -R 10000 -r 1000 -p 3 10.0.0.1
***Rate statistics***
Rate: 998.341 4-way exchanges/second, expected rate: 1000

***Statistics for: DISCOVER-OFFER***
sent packets: 3000
received packets: 2990
drops: 10
drops ratio: 0.333 %
orphans: 0

***Statistics for: REQUEST-ACK***
sent packets: 2990
received packets: 2990
drops: 0
drops ratio: 0 %
orphans: 0
`

func TestParsePerfdhcp(t *testing.T) {
	r, err := ParsePerfdhcp(perfdhcpSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rate != 998.341 || len(r.Sent) != 2 || r.Sent[0] != 3000 || r.Received[1] != 2990 || r.Drops[0] != 10 || r.Drops[1] != 0 {
		t.Fatalf("%+v", r)
	}
	if _, err := ParsePerfdhcp("Error: no route"); err == nil {
		t.Fatal("accepted output without a Rate line")
	}
}

func FuzzParsePerfdhcp(f *testing.F) {
	f.Add(perfdhcpSample)
	f.Add("Rate: x")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParsePerfdhcp(s) })
}
