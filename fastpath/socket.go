package fastpath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"xdhcp/fastpath/afpacket"
	"xdhcp/fastpath/frame"
	"xdhcp/handoff"
)

// SocketListener is socket mode: it reads DHCP requests from an AF_PACKET
// socket on one interface and hands every one to the handler (there is no
// fast path here), and it sends the handler's replies as raw frames so a
// client without an address can be answered by unicast to its MAC.
type SocketListener struct {
	conn  *afpacket.Conn
	iface afpacket.Iface
	addr  netip.Addr
	h     handoff.Handler
	log   *slog.Logger
	bufs  sync.Pool
	// hops addresses replies to relays; nil when its sockets could not
	// be opened (replies to relays then fail).
	hops *Router
	// packets are the handoffs to the slow path, which releases them.
	packets handoff.PacketPool

	RxFrames, RxMalformed, TxFrames, TxErrors atomic.Uint64
}

// NewSocketListener serves conn. addr is the server address on the
// interface; the zero Addr means the interface's primary IPv4 address.
func NewSocketListener(conn *afpacket.Conn, addr netip.Addr, h handoff.Handler, log *slog.Logger) (*SocketListener, error) {
	ifc := conn.Iface()
	if !addr.IsValid() {
		if len(ifc.Addrs) == 0 {
			return nil, fmt.Errorf("interface %s has no IPv4 address to serve from (the server identifier)", ifc.Name)
		}
		addr = ifc.Addrs[0]
	}
	l := &SocketListener{conn: conn, iface: ifc, addr: addr, h: h, log: log}
	l.bufs.New = func() any { b := make([]byte, 2048); return &b }
	hops, err := NewRouter(ifc.Index)
	if err != nil {
		log.Warn("replies to relays cannot be routed on this interface", "iface", ifc.Name, "err", err)
	} else {
		l.hops = hops
	}
	return l, nil
}

// Iface is the interface served.
func (l *SocketListener) Iface() afpacket.Iface { return l.iface }

// Run reads until the socket is closed or ctx ends.
func (l *SocketListener) Run(ctx context.Context) error {
	const batch = 32
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	lens := make([]int, batch)
	stop := context.AfterFunc(ctx, func() { l.conn.Close() })
	defer stop()
	if l.hops != nil {
		defer l.hops.Close()
	}
	var m handoff.Meta
	for {
		n, err := l.conn.ReadBatch(bufs, lens)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", l.iface.Name, err)
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			l.RxFrames.Add(1)
			payload, err := frame.Parse(bufs[i][:lens[i]], &m)
			if err != nil || m.DstPort != 67 {
				l.RxMalformed.Add(1)
				continue
			}
			p := l.packets.Get()
			p.IfIndex, p.IfName, p.IfAddr, p.IfMAC = l.iface.Index, l.iface.Name, l.addr, l.iface.MAC
			p.Meta, p.Out, p.Received = m, l, now
			p.SetData(payload)
			l.h.Enqueue(p)
		}
	}
}

// Send builds the reply frame and writes it.
func (l *SocketListener) Send(dst *handoff.Meta, payload []byte) error {
	bp := l.bufs.Get().(*[]byte)
	defer l.bufs.Put(bp)
	dst.SrcMAC = l.iface.MAC
	var nh NextHop
	if l.hops != nil {
		nh = l.hops
	}
	if kernel, err := route(nh, dst, payload); kernel {
		if err != nil {
			l.TxErrors.Add(1)
			return err
		}
		l.TxFrames.Add(1)
		return nil
	}
	n, err := frame.Build(*bp, dst, payload)
	if err != nil {
		l.TxErrors.Add(1)
		return fmt.Errorf("build reply frame: %w", err)
	}
	if err := l.conn.WriteFrame((*bp)[:n]); err != nil {
		l.TxErrors.Add(1)
		return fmt.Errorf("write reply on %s: %w", l.iface.Name, err)
	}
	l.TxFrames.Add(1)
	return nil
}
