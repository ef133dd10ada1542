package config

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DUID types (RFC 8415 section 11).
const (
	DUIDTypeLLT = 1
	DUIDTypeEN  = 2
	DUIDTypeLL  = 3
)

// duidEpoch is where DUID-LLT time counts from: 2000-01-01 00:00 UTC.
var duidEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Limits of a DUID (type included), as Kea checks them.
const (
	minDUIDLen       = 3
	maxStoredDUIDLen = 130
	enIdentifierLen  = 6 // a generated DUID-EN identifier
	htypeEthernet    = 1
)

// DUID returns the server's DUID as Kea 2.2 makes it from the server-id
// block. stored is the DUID kept in File from an earlier run (nil when
// there is none or Persist is false): every part the configuration leaves
// unset (identifier, htype, time, enterprise-id) is taken from it when it
// has the configured type, so that the server keeps its identity across
// restarts. What is still missing comes from hwType and hwAddr (the
// hardware address of one of the machine's interfaces, for LLT and LL),
// now (the LLT time) or random (the 6 bytes of a DUID-EN identifier).
// The caller writes the result to File (FormatDUID) when Persist is set.
func (s *ServerID) DUID(stored []byte, hwType uint16, hwAddr []byte, now time.Time, random func([]byte)) ([]byte, error) {
	var out []byte
	typ := map[string]uint16{"LLT": DUIDTypeLLT, "EN": DUIDTypeEN, "LL": DUIDTypeLL}[s.Type]
	var cur []byte // stored, when of the configured type
	if len(stored) > 2 && binary.BigEndian.Uint16(stored) == typ {
		cur = stored[2:]
	}
	switch typ {
	case DUIDTypeLLT, DUIDTypeLL:
		head := 2 // htype
		if typ == DUIDTypeLLT {
			head = 6 // htype, time
		}
		var curType uint16
		var curTime uint32
		var curID []byte
		if len(cur) > head {
			curType, curID = binary.BigEndian.Uint16(cur), cur[head:]
			if typ == DUIDTypeLLT {
				curTime = binary.BigEndian.Uint32(cur[2:])
			}
		}
		id, htype := s.Identifier, s.HType
		switch {
		case len(id) == 0 && len(curID) > 0:
			id, htype = curID, curType
		case len(id) == 0:
			if len(hwAddr) == 0 {
				return nil, errors.New("no interface with a hardware address to make the server's DUID from")
			}
			id, htype = hwAddr, hwType
		case htype == 0 && curType != 0:
			htype = curType
		case htype == 0:
			htype = htypeEthernet
		}
		out = binary.BigEndian.AppendUint16(out, typ)
		out = binary.BigEndian.AppendUint16(out, htype)
		if typ == DUIDTypeLLT {
			t := s.Time
			if t == 0 {
				t = curTime
			}
			if t == 0 {
				t = uint32(now.Sub(duidEpoch) / time.Second)
			}
			out = binary.BigEndian.AppendUint32(out, t)
		}
		out = append(out, id...)
	case DUIDTypeEN:
		var curEnt uint32
		var curID []byte
		if len(cur) > 4 {
			curEnt, curID = binary.BigEndian.Uint32(cur), cur[4:]
		}
		ent := s.EnterpriseID
		if ent == 0 {
			ent = curEnt
		}
		if ent == 0 {
			ent = enterpriseISC
		}
		out = binary.BigEndian.AppendUint16(out, typ)
		out = binary.BigEndian.AppendUint32(out, ent)
		switch {
		case len(s.Identifier) > 0:
			out = append(out, s.Identifier...)
		case len(curID) > 0:
			out = append(out, curID...)
		default:
			id := make([]byte, enIdentifierLen)
			random(id)
			out = append(out, id...)
		}
	default:
		return nil, fmt.Errorf("server-id type %q", s.Type)
	}
	if len(out) < minDUIDLen || len(out) > maxStoredDUIDLen {
		return nil, fmt.Errorf("server DUID of %d bytes: a DUID has %d to %d", len(out), minDUIDLen, maxStoredDUIDLen)
	}
	return out, nil
}

// FormatDUID is the text Kea keeps in the server-id file: the DUID in
// colon-separated hex.
func FormatDUID(duid []byte) string { return formatHex(duid) }

// ParseStoredDUID reads a server-id file as Kea does (white space
// ignored); it returns nil, without an error, for a file that holds no
// valid DUID: Kea then makes a new one.
func ParseStoredDUID(data []byte) []byte {
	b, err := decodeHex(strings.Join(strings.Fields(string(data)), ""))
	if err != nil || len(b) < minDUIDLen || len(b) > maxStoredDUIDLen {
		return nil
	}
	return b
}
