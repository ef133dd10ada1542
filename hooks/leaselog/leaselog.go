// Package leaselog writes the lease event log lines Kea writes at INFO on
// its kea-dhcp4.leases logger (DHCP4_LEASE_ALLOC, DHCP4_LEASE_ADVERT,
// DHCP4_LEASE_REUSE, DHCP4_RELEASE, DHCP4_DECLINE_LEASE, and the
// reclamation of expired leases), with Kea's facts as structured fields:
// hardware type and address, client identifier, transaction id, address,
// lifetime, plus giaddr and the relay's circuit-id.
package leaselog

import (
	"context"
	"log/slog"
	"strconv"

	"xdhcp/hooks"
)

// LoggerName is Kea's logger of lease events.
const LoggerName = "kea-dhcp4.leases"

// Log is a hooks.Listener that logs lease events.
type Log struct{ log *slog.Logger }

var _ hooks.Listener = Log{}

// New returns a listener logging to log (the kea-dhcp4.leases logger).
func New(log *slog.Logger) Log { return Log{log: log} }

// LeaseEvent implements hooks.Listener.
func (l Log) LeaseEvent(e *hooks.Event) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, slog.LevelInfo) || len(e.Leases) == 0 {
		return
	}
	var id, msg string
	le := &e.Leases[0]
	switch e.Point {
	case hooks.Leases4Committed:
		id, msg = "DHCP4_LEASE_ALLOC", "lease has been allocated"
		if e.Reused || e.Cached {
			id, msg = "DHCP4_LEASE_REUSE", "lease has been reused"
		}
	case hooks.Lease4Offer:
		id, msg = "DHCP4_LEASE_ADVERT", "lease will be advertised"
	case hooks.Lease4Release:
		id, msg = "DHCP4_RELEASE", "address was released properly"
	case hooks.Lease4Decline:
		id, msg = "DHCP4_DECLINE_LEASE", "address declined by the client"
	case hooks.Lease4Expire:
		id, msg = "ALLOC_ENGINE_V4_LEASE_RECLAIM", "expired lease reclaimed"
	case hooks.Lease4Recover:
		id, msg = "ALLOC_ENGINE_V4_DECLINED_RECOVERED", "declined address recovered from probation"
	default:
		return
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs, slog.String("msgid", id), slog.String("addr", le.Addr.String()))
	var q hooks.Packet
	if e.Query != nil && q.Parse(e.Query, e.Iface, nil) == nil {
		attrs = append(attrs,
			slog.Int("hwtype", int(q.HType)),
			slog.String("mac", hooks.ColonHex(q.MAC())),
			slog.String("xid", "0x"+strconv.FormatUint(uint64(q.XID), 16)))
		if cid, ok := q.Option(61); ok {
			attrs = append(attrs, slog.String("client_id", hooks.ColonHex(cid)))
		}
		if q.Giaddr != [4]byte{} {
			attrs = append(attrs, slog.String("giaddr", hooks.Addr(q.Giaddr).String()))
			if c, ok := q.RelayOption(1); ok {
				attrs = append(attrs, slog.String("circuit_id", hooks.ColonHex(c)))
			}
		}
		attrs = append(attrs, slog.String("iface", e.Iface))
	} else {
		attrs = append(attrs, slog.String("mac", hooks.ColonHex(le.HWAddr)))
		if len(le.ClientID) > 0 {
			attrs = append(attrs, slog.String("client_id", hooks.ColonHex(le.ClientID)))
		}
	}
	if e.Point != hooks.Lease4Release && e.Point != hooks.Lease4Expire && e.Point != hooks.Lease4Recover {
		attrs = append(attrs, slog.Uint64("lifetime", uint64(le.ValidLft)))
	}
	attrs = append(attrs, slog.Uint64("subnet_id", uint64(le.SubnetID)))
	switch {
	case e.Point == hooks.Lease4Renew:
	case e.Cached:
		attrs = append(attrs, slog.Bool("cached", true))
	case e.Point == hooks.Lease4Expire:
		attrs = append(attrs, slog.Bool("removed", e.RemoveLease))
	}
	if len(e.Deleted) > 0 {
		attrs = append(attrs, slog.String("replaced", e.Deleted[0].Addr.String()))
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, id+": "+msg, attrs...)
}
