package classify

// fakePacket implements Packet over plain fields. Its methods do not
// allocate, so allocation tests measure the evaluator alone.
type fakePacket struct {
	opts    map[uint8][]byte
	mac     []byte
	fields  map[string][]byte
	iface   string
	classes map[string]bool
}

func (f *fakePacket) Option(code uint8) ([]byte, bool) {
	b, ok := f.opts[code]
	return b, ok
}

func (f *fakePacket) MAC() []byte { return f.mac }

func (f *fakePacket) Field(name string) ([]byte, bool) {
	b, ok := f.fields[name]
	return b, ok
}

func (f *fakePacket) Iface() string { return f.iface }

func (f *fakePacket) Member(name string) bool { return f.classes[name] }

// newPacket is a relayed PXE DISCOVER: the fixture for most tests.
func newPacket() *fakePacket {
	return &fakePacket{
		opts: map[uint8][]byte{
			53: {1},
			60: []byte("PXEClient:Arch:00000:UNDI:002001"),
			61: {0x01, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
			12: []byte("Host-A"),
			77: {}, // present but empty
			82: {0x01, 0x02, 0x00, 0x01, 0x02, 0x09, 'r', 'e', 'm', 'o', 't', 'e', '-', 'i', 'd'},
			93: {0x00, 0x07},
		},
		mac: []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55},
		fields: map[string][]byte{
			"ciaddr":  {0, 0, 0, 0},
			"giaddr":  {192, 0, 2, 1},
			"yiaddr":  {0, 0, 0, 0},
			"siaddr":  {10, 0, 0, 1},
			"hlen":    {6},
			"htype":   {1},
			"msgtype": {1},
			"transid": {0x12, 0x34, 0x56, 0x78},
		},
		iface:   "eth0",
		classes: map[string]bool{"foo": true, "KNOWN": true, "ALL": true},
	}
}
