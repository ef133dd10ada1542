package lbhash

import (
	"encoding/hex"
	"strings"
)

// Vector is one key with the hash Kea gives it and the server index that
// answers it in a two-server load-balancing pair.
type Vector struct {
	Key    string // colon-separated hex, as Kea prints identifiers
	Hash   uint8
	Server int // 0 = primary (server1), 1 = secondary (server2)
}

// KeyBytes is Key decoded; the table holds only valid hex.
func (v Vector) KeyBytes() []byte {
	b, _ := hex.DecodeString(strings.ReplaceAll(v.Key, ":", ""))
	return b
}

// KeaVectors are RFC 3074 hashes of Kea 2.2's load balancing: the
// client-id rows were verified against a live Kea 2.2 pair (server1 answered
// exactly the even hashes), the hw-address rows are computed.
var KeaVectors = []Vector{
	{"01:00:0c:01:02:03:04", 104, 0},
	{"01:00:0c:01:02:03:05", 62, 0},
	{"01:00:0c:01:02:03:06", 202, 0},
	{"01:00:0c:01:02:03:07", 69, 1},
	{"01:00:0c:01:02:03:08", 232, 0},
	{"01:00:0c:01:02:03:09", 132, 0},
	{"01:00:0c:01:02:03:0a", 106, 0},
	{"01:00:0c:01:02:03:0b", 164, 0},
	{"01:00:0c:01:02:03:0c", 214, 0},
	{"01:00:0c:01:02:03:0d", 28, 0},
	{"01:00:0c:01:02:03:0e", 165, 1},
	{"01:00:0c:01:02:03:0f", 183, 1},
	{"01:00:0c:01:02:03:10", 45, 1},
	{"01:00:0c:01:02:03:11", 22, 0},
	{"01:00:0c:01:02:03:12", 113, 1},
	{"01:00:0c:01:02:03:13", 118, 0},
	{"01:00:0c:01:02:03:14", 225, 1},
	{"01:00:0c:01:02:03:15", 107, 1},
	{"01:00:0c:01:02:03:16", 93, 1},
	{"01:00:0c:01:02:03:17", 133, 1},
	{"00:0c:01:02:03:04", 131, 1},
	{"aa:bb:cc:dd:ee:ff", 57, 1},
	{"00", 175, 1},
}

// The vectors are exported so that everything that must agree with Kea on
// the hash (the XDP program's scope filter, the HA tests) checks the same
// rows.
