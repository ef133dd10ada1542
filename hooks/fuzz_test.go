package hooks

import "testing"

func FuzzPacketParse(f *testing.F) {
	b := make([]byte, 240)
	b[236], b[237], b[238], b[239] = 0x63, 0x82, 0x53, 0x63
	f.Add(append(b, 53, 1, 3, 82, 6, 1, 2, 'a', 'b', 2, 0, 255))
	f.Add(append(b, 82, 200, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Packet
		if err := p.Parse(data, "eth0", nil); err != nil {
			return
		}
		p.RelayOption(1)
		p.RelayOption(2)
		p.Option(61)
		p.MAC()
		p.Field("transid")
	})
}
