package loadgen

import (
	"context"
	"time"

	"xdhcp/fastpath/dhcpview"
	"xdhcp/handoff"
)

// Flood sends broadcast DISCOVERs from one MAC as fast as tr takes them
// until ctx ends or d has passed, and returns the frames sent. It emulates
// an abusive client (a DROP-class MAC) beside a normal run.
func Flood(ctx context.Context, tr Transport, mac [6]byte, d time.Duration) (uint64, error) {
	const batch = 64
	frames := make([][]byte, batch)
	scr := make([]byte, maxPayload)
	m := handoff.Meta{SrcMAC: mac, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, DstIP: [4]byte{255, 255, 255, 255}, SrcPort: 68, DstPort: 67}
	for i := range frames {
		r := request{msgType: dhcpview.MsgDiscover, xid: uint32(i) + 1, mac: mac}
		frames[i] = make([]byte, FrameBufLen)
		n, err := buildFrame(frames[i], &m, &r, scr)
		if err != nil {
			return 0, err
		}
		frames[i] = frames[i][:n]
	}
	end := time.Now().Add(d)
	var sent uint64
	for ctx.Err() == nil && time.Now().Before(end) {
		n, err := tr.WriteBatch(frames)
		sent += uint64(n)
		if err != nil {
			// ENOBUFS: the device queue is full; that is the flood's limit.
			time.Sleep(50 * time.Microsecond)
		}
	}
	return sent, nil
}
