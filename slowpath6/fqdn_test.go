package slowpath6

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseClientFQDN(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     []byte
		flags  byte
		labels string
		full   bool
		err    error
	}{
		{"partial", []byte("\x01\x06myhost"), 1, "\x06myhost", false, nil},
		{"full", []byte("\x00\x04host\x07example\x00"), 0, "\x04host\x07example", true, nil},
		{"flags only: an empty partial name", []byte{1}, 1, "", false, nil},
		{"the root alone", []byte{4, 0}, 4, "", true, nil},
		{"after the root: ignored", []byte("\x00\x01a\x00\x05junk"), 0, "\x01a", true, nil},
		{"a zero byte in a label makes it full", []byte("\x00\x03a\x00b\x00"), 0, "\x03a\x00b", true, nil},
		{"O and reserved bits kept", []byte("\x83\x01a"), 0x83, "\x01a", false, nil},
		{"no flags", nil, 0, "", false, errFQDNShort},
		{"S and N", []byte("\x05\x01a"), 0, "", false, errFQDNFlags},
		{"compression pointer", []byte("\x00\x01a\xc0\x02"), 0, "", false, errFQDNLabel},
		{"label past the end", []byte("\x00\x09abc"), 0, "", false, errFQDNTruncated},
		{"longer than 255", append([]byte{0}, bytes.Repeat([]byte("\x3f"+string(bytes.Repeat([]byte{'a'}, 63))), 5)...), 0, "", false, errFQDNLong},
	} {
		flags, labels, full, err := parseClientFQDN(c.in)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil && (flags != c.flags || string(labels) != c.labels || full != c.full) {
			t.Errorf("%s: %#x %q full=%v, want %#x %q full=%v", c.name, flags, labels, full, c.flags, c.labels, c.full)
		}
	}
}

// TestHostText: names are written as Kea writes them into the lease:
// zone-file specials escaped, other bytes outside printable ASCII as
// \DDD, a final dot for a full name.
func TestHostText(t *testing.T) {
	for _, c := range []struct {
		wire string
		full bool
		want string
	}{
		{"\x04host\x07example", true, "host.example."},
		{"\x04host", false, "host"},
		{"", true, "."},
		{"", false, ""},
		{"\x03a b", true, `a\032b.`},
		{"\x04a.b;", true, `a\.b\;.`},
		{"\x02\xff\x7f", true, `\255\127.`},
	} {
		if got := hostText([]byte(c.wire), c.full); got != c.want {
			t.Errorf("hostText(%q, %v) = %q, want %q", c.wire, c.full, got, c.want)
		}
	}
}

func TestAppendLabels(t *testing.T) {
	for _, c := range []struct {
		text, want string
		err        error
	}{
		{"a.bc", "\x01a\x02bc", nil},
		{"a.bc.", "\x01a\x02bc", nil},
		{"", "", nil},
		{".", "", nil},
		{"a..b", "", errFQDNEmpty},
		{string(bytes.Repeat([]byte{'x'}, 64)), "", errFQDNLabel},
	} {
		got, err := appendLabels(nil, []byte(c.text))
		if !errors.Is(err, c.err) || (err == nil && string(got) != c.want) {
			t.Errorf("appendLabels(%q) = %q, %v; want %q, %v", c.text, got, err, c.want, c.err)
		}
	}
}

// FuzzParseClientFQDN: any option content parses or fails without a
// panic; a parsed name is whole labels, no longer than a domain name, and
// writes as text.
func FuzzParseClientFQDN(f *testing.F) {
	for _, s := range []string{"\x01\x06myhost", "\x00\x04host\x07example\x00", "\x01", "\x05", "\x00\xc0\x01", "\x00\x09a"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, labels, full, err := parseClientFQDN(b)
		if err != nil {
			return
		}
		if flags&fqdnFlagS != 0 && flags&fqdnFlagN != 0 {
			t.Fatalf("S and N accepted: %x", b)
		}
		if len(labels)+1 > maxDomainName {
			t.Fatalf("name of %d bytes accepted", len(labels))
		}
		n := 0
		for l := range eachLabel(labels) {
			if len(l) == 0 || len(l) >= 0x40 {
				t.Fatalf("label %q in %x", l, b)
			}
			n += 1 + len(l)
		}
		if n != len(labels) {
			t.Fatalf("labels %x do not walk whole (%d of %d)", labels, n, len(labels))
		}
		if !full && bytes.IndexByte(b[1:], 0) >= 0 {
			t.Fatalf("partial with a zero byte: %x", b)
		}
		_ = hostText(labels, full)
	})
}
