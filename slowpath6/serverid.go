package slowpath6

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"xdhcp/config"
)

// DUID types (RFC 8415 section 11).
const (
	duidLLT = 1
	duidEN  = 2
	duidLL  = 3
)

// duidEpoch is the origin of a DUID-LLT's time: 2000-01-01 00:00 UTC.
var duidEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ServerDUID returns the server's DUID as Kea does: the one kept in the
// server-id file when it agrees with the configuration, else a new one
// made as the configuration says (an interface's hardware address for
// LLT and LL) and written to the file when persist is on. The file is
// Kea's: colon-separated hex and no line end (kea-dhcp6 discards a file
// whose line ends in a newline and makes a new DUID).
func ServerDUID(sid config.ServerID, now time.Time) ([]byte, error) {
	if sid.Persist && sid.File != "" {
		if text, err := os.ReadFile(sid.File); err == nil {
			if duid, err := parseDUIDText(string(text)); err == nil && agrees(duid, sid) {
				return duid, nil
			}
		}
	}
	duid, err := makeDUID(sid, now)
	if err != nil {
		return nil, err
	}
	if sid.Persist && sid.File != "" {
		if err := os.MkdirAll(filepath.Dir(sid.File), 0o755); err != nil {
			return nil, fmt.Errorf("server-id file: %w", err)
		}
		if err := os.WriteFile(sid.File, []byte(FormatDUID(duid)), 0o644); err != nil {
			return nil, fmt.Errorf("server-id file: %w", err)
		}
	}
	return duid, nil
}

// FormatDUID is Kea's text form of a DUID: hex bytes joined by colons.
func FormatDUID(d []byte) string {
	var b strings.Builder
	for i, x := range d {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex.EncodeToString([]byte{x}))
	}
	return b.String()
}

func parseDUIDText(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, ":", "")
	d, err := hex.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(d) < 3 || len(d) > 130 {
		return nil, errors.New("DUID length out of range")
	}
	return d, nil
}

// agrees reports whether a kept DUID is what the configuration asks for:
// the type, and each value the configuration names.
func agrees(d []byte, sid config.ServerID) bool {
	t := binary.BigEndian.Uint16(d)
	switch strings.ToUpper(sid.Type) {
	case "", "LLT":
		if t != duidLLT || len(d) < 8 {
			return false
		}
		return (sid.HType == 0 || binary.BigEndian.Uint16(d[2:]) == sid.HType) &&
			(sid.Time == 0 || binary.BigEndian.Uint32(d[4:]) == sid.Time) &&
			(sid.Identifier == nil || bytes.Equal(d[8:], sid.Identifier))
	case "EN":
		if t != duidEN || len(d) < 6 {
			return false
		}
		return (sid.EnterpriseID == 0 || binary.BigEndian.Uint32(d[2:]) == sid.EnterpriseID) &&
			(sid.Identifier == nil || bytes.Equal(d[6:], sid.Identifier))
	case "LL":
		if t != duidLL || len(d) < 4 {
			return false
		}
		return (sid.HType == 0 || binary.BigEndian.Uint16(d[2:]) == sid.HType) &&
			(sid.Identifier == nil || bytes.Equal(d[4:], sid.Identifier))
	}
	return false
}

func makeDUID(sid config.ServerID, now time.Time) ([]byte, error) {
	typ := strings.ToUpper(sid.Type)
	if typ == "EN" {
		en := sid.EnterpriseID
		if en == 0 {
			en = 2495
		}
		id := sid.Identifier
		if id == nil {
			id = make([]byte, 6)
			if _, err := rand.Read(id); err != nil {
				return nil, fmt.Errorf("server-id: %w", err)
			}
		}
		d := binary.BigEndian.AppendUint16(nil, duidEN)
		d = binary.BigEndian.AppendUint32(d, en)
		return append(d, id...), nil
	}
	htype, ll := sid.HType, sid.Identifier
	if ll == nil {
		ll = hardwareAddr()
		if ll == nil {
			return nil, errors.New("server-id: no interface with a hardware address to make a DUID from (configure server-id)")
		}
	}
	if htype == 0 {
		htype = 1
	}
	switch typ {
	case "", "LLT":
		t := sid.Time
		if t == 0 {
			t = uint32(now.Sub(duidEpoch) / time.Second)
		}
		d := binary.BigEndian.AppendUint16(nil, duidLLT)
		d = binary.BigEndian.AppendUint16(d, htype)
		d = binary.BigEndian.AppendUint32(d, t)
		return append(d, ll...), nil
	case "LL":
		d := binary.BigEndian.AppendUint16(nil, duidLL)
		d = binary.BigEndian.AppendUint16(d, htype)
		return append(d, ll...), nil
	}
	return nil, fmt.Errorf("server-id: unknown DUID type %q", sid.Type)
}

// hardwareAddr is the first non-loopback interface's Ethernet address,
// as Kea picks one for a generated DUID.
func hardwareAddr() []byte {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 && len(i.HardwareAddr) == 6 && !bytes.Equal(i.HardwareAddr, make([]byte, 6)) {
			return i.HardwareAddr
		}
	}
	return nil
}
