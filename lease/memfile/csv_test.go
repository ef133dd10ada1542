package memfile

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"xdhcp/lease"
)

// Rows written by a live Kea 2.2.
var keaRows = []string{
	"192.0.2.10,00:0c:01:02:03:04,01:00:0c:01:02:03:04,3600,1795292506,1,0,0,,0,",
	`192.0.2.60,aa:bb:cc:dd:ee:01,,3600,1795292600,1,1,0,a&#x2cb&#x26c.example.,0,{ "a": 1&#x2c "b": "x&#x2cy" }`,
	"192.0.2.10,00:0c:01:02:03:04,01:00:0c:01:02:03:04,0,1795288906,1,0,0,,0,", // deletion marker
}

func TestParseRowKeaExamples(t *testing.T) {
	want := []lease.Lease{
		{
			Addr:     netip.MustParseAddr("192.0.2.10"),
			HWAddr:   []byte{0x00, 0x0c, 0x01, 0x02, 0x03, 0x04},
			ClientID: []byte{0x01, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04},
			ValidLft: 3600, CLTT: 1795292506 - 3600, SubnetID: 1,
		},
		{
			Addr:     netip.MustParseAddr("192.0.2.60"),
			HWAddr:   []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01},
			ValidLft: 3600, CLTT: 1795292600 - 3600, SubnetID: 1, FqdnFwd: true,
			Hostname:    "a,b&c.example.",
			UserContext: `{ "a": 1, "b": "x,y" }`,
		},
		{
			Addr:     netip.MustParseAddr("192.0.2.10"),
			HWAddr:   []byte{0x00, 0x0c, 0x01, 0x02, 0x03, 0x04},
			ClientID: []byte{0x01, 0x00, 0x0c, 0x01, 0x02, 0x03, 0x04},
			ValidLft: 0, CLTT: 1795288906, SubnetID: 1,
		},
	}
	for i, row := range keaRows {
		got, err := ParseRow([]byte(row))
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want[i])
		}
		// Byte-exact round trip: we write what Kea wrote.
		if out := string(AppendRow(nil, &got)); out != row+"\n" {
			t.Errorf("row %d round trip:\n got %q\nwant %q", i, out, row+"\n")
		}
	}
	// The deletion marker is the first lease with valid lifetime 0:
	// expire = cltt.
	del := want[0]
	del.ValidLft = 0
	if out := string(AppendRow(nil, &del)); out != keaRows[2]+"\n" {
		t.Errorf("deletion marker %q, want %q", out, keaRows[2])
	}
}

func TestParseRowOlderSchemas(t *testing.T) {
	// Schema 1.0: up to hostname; 2.0 adds state.
	l, err := ParseRow([]byte("10.0.0.1,01:02:03:04:05:06,,100,1100,7,0,1,host"))
	if err != nil {
		t.Fatal(err)
	}
	if l.State != lease.StateDefault || l.UserContext != "" || !l.FqdnRev || l.Hostname != "host" || l.CLTT != 1000 || l.SubnetID != 7 {
		t.Errorf("schema 1.0 row parsed as %+v", l)
	}
	l, err = ParseRow([]byte("10.0.0.1,,,100,1100,7,0,0,,1"))
	if err != nil {
		t.Fatal(err) // declined lease without hwaddr and client-id is fine
	}
	if l.State != lease.StateDeclined || l.HWAddr != nil || l.ClientID != nil {
		t.Errorf("schema 2.0 declined row parsed as %+v", l)
	}
}

func TestParseRowFormats(t *testing.T) {
	// Kea's decoders accept single-digit octets and, for client ids,
	// space separated or plain hex with 0x.
	l, err := ParseRow([]byte("10.0.0.1,0:c:1:2:3:4,0x010203,1,2,1,0,0,,0,"))
	if err != nil {
		t.Fatal(err)
	}
	if string(l.HWAddr) != "\x00\x0c\x01\x02\x03\x04" || string(l.ClientID) != "\x01\x02\x03" {
		t.Errorf("hw %x cid %x", l.HWAddr, l.ClientID)
	}
	l, err = ParseRow([]byte("10.0.0.1,,01 02 ff,1,2,1,0,0,,0,"))
	if err != nil || string(l.ClientID) != "\x01\x02\xff" {
		t.Errorf("space separated client id: %x, %v", l.ClientID, err)
	}
	// "&#x" without two hex digits stays literal; upper-case digits decode.
	l, err = ParseRow([]byte("10.0.0.1,01,,1,2,1,0,0,a&#xzz&#x2C&#x4,0,"))
	if err != nil || l.Hostname != "a&#xzz,&#x4" {
		t.Errorf("hostname %q, %v", l.Hostname, err)
	}
	// Infinite lifetime: expire does not fit 32 bits.
	l, err = ParseRow([]byte("10.0.0.1,01,,4294967295,5294967295,1,0,0,,0,"))
	if err != nil || l.ValidLft != lease.Infinite || l.CLTT != 1000000000 {
		t.Errorf("infinite lease %+v, %v", l, err)
	}
}

func TestParseRowErrors(t *testing.T) {
	tests := []struct {
		row    string
		column string // "" when the error is not about one column
	}{
		{"10.0.0.1,01,,1,2,1,0,0", ""},                    // 8 columns
		{"10.0.0.1,01,,1,2,1,0,0,,0,,extra", ""},          // 12 columns
		{"2001:db8::1,01,,1,2,1,0,0,,0,", "address"},      // IPv6
		{"10.0.0.256,01,,1,2,1,0,0,,0,", "address"},       // bad octet
		{"10.0.0.1,0g,,1,2,1,0,0,,0,", "hwaddr"},          // not hex
		{"10.0.0.1,01::02,,1,2,1,0,0,,0,", "hwaddr"},      // empty octet
		{"10.0.0.1,012:03,,1,2,1,0,0,,0,", "hwaddr"},      // three digits
		{"10.0.0.1,01,zz,1,2,1,0,0,,0,", "client_id"},     // not hex
		{"10.0.0.1,01,,-1,2,1,0,0,,0,", "valid_lifetime"}, // negative
		{"10.0.0.1,01,,4294967296,2,1,0,0,,0,", "valid_lifetime"},
		{"10.0.0.1,01,,10,5,1,0,0,,0,", "expire"}, // expire < valid
		{"10.0.0.1,01,,1,x,1,0,0,,0,", "expire"},
		{"10.0.0.1,01,,1,2,,0,0,,0,", "subnet_id"}, // empty
		{"10.0.0.1,01,,1,2,1,2,0,,0,", "fqdn_fwd"}, // not a bool
		{"10.0.0.1,01,,1,2,1,0,yes,,0,", "fqdn_rev"},
		{"10.0.0.1,01,,1,2,1,0,0,,256,", "state"},                                 // beyond uint8
		{"10.0.0.1,01,,1,2,1,0,0,,0,[1]", "user_context"},                         // not a map
		{"10.0.0.1,01,,1,2,1,0,0,,0,{bad", "user_context"},                        // not JSON
		{"10.0.0.1,,,1,2,1,0,0,,0,", ""},                                          // no identifiers, not declined
		{"10.0.0.1,,,1,2,1,0,0,,2,", ""},                                          // reclaimed needs ids too
		{"10.0.0.1," + strings.Repeat("01:", 20) + "01,,1,2,1,0,0,,0,", "hwaddr"}, // 21 bytes
	}
	for _, tt := range tests {
		_, err := ParseRow([]byte(tt.row))
		if err == nil {
			t.Errorf("%q: no error", tt.row)
			continue
		}
		if !errors.Is(err, ErrBadRow) {
			t.Errorf("%q: %v does not wrap ErrBadRow", tt.row, err)
		}
		var ce *ColumnError
		if tt.column == "" {
			continue
		}
		if !errors.As(err, &ce) || ce.Column != tt.column {
			t.Errorf("%q: error %v, want one naming column %s", tt.row, err, tt.column)
		} else if !strings.Contains(err.Error(), tt.column) {
			t.Errorf("%q: message %q does not name %s", tt.row, err, tt.column)
		}
	}
}

func TestAppendRowEscapesControlCharacters(t *testing.T) {
	l := lease.Lease{
		Addr: netip.MustParseAddr("10.1.2.3"), HWAddr: []byte{1},
		ValidLft: 10, CLTT: 5, SubnetID: 2, Hostname: "evil\nrow,x",
		UserContext: `{"k":"a&b"}`,
	}
	row := AppendRow(nil, &l)
	if strings.Count(string(row), "\n") != 1 {
		t.Fatalf("row %q has an embedded newline", row)
	}
	want := "10.1.2.3,01,,10,15,2,0,0,evil&#x0arow&#x2cx,0,{\"k\":\"a&#x26b\"}\n"
	if string(row) != want {
		t.Errorf("got %q want %q", row, want)
	}
	got, err := ParseRow(row[:len(row)-1])
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Errorf("round trip %+v, %v", got, err)
	}
}

func TestParseHeader(t *testing.T) {
	for _, h := range []string{
		Header,
		"address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname",
		Header + ",pool_id", // newer Kea: extra column dropped
	} {
		if _, err := parseHeader([]byte(h)); err != nil {
			t.Errorf("%q: %v", h, err)
		}
	}
	for _, h := range []string{
		"address,hwaddr,client_id",
		"address,hwaddr,duid,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname",
		"",
	} {
		if _, err := parseHeader([]byte(h)); err == nil {
			t.Errorf("%q: accepted", h)
		}
	}
}

func FuzzParseRow(f *testing.F) {
	for _, r := range keaRows {
		f.Add([]byte(r))
	}
	f.Add([]byte("10.0.0.1,,,100,1100,7,0,0,,1"))
	f.Add([]byte("10.0.0.1,0:c:1,0x0102,4294967295,5294967295,1,1,1,a&#x2,2,{}"))
	f.Add([]byte("10.0.0.1,01,01 02,1,2,1,true,false,&#x26#x2c,0,{\"a\":[1,2]}"))
	f.Fuzz(func(t *testing.T, row []byte) {
		l, err := ParseRow(row)
		if err != nil {
			return
		}
		// Whatever parses must write back to a row that parses to the
		// same lease, in one line.
		out := AppendRow(nil, &l)
		if i := strings.IndexByte(string(out), '\n'); i != len(out)-1 {
			t.Fatalf("row %q written with a newline inside: %q", row, out)
		}
		l2, err := ParseRow(out[:len(out)-1])
		if err != nil {
			t.Fatalf("row %q -> %q: reparse: %v", row, out, err)
		}
		if !reflect.DeepEqual(l, l2) {
			t.Fatalf("row %q -> %q:\n%+v\n%+v", row, out, l, l2)
		}
	})
}
