package main

import (
	"context"

	"xdhcp/ha"
	"xdhcp/lease"
	"xdhcp/slowpath"
)

// partnerLeases hands the leases HA synchronizes to the lease commands.
// HA is built before the server it replicates for, and the commands after
// it; the first sync runs only once HA is started, when they exist.
type partnerLeases struct{ d *daemon }

var _ ha.LeaseApplier = partnerLeases{}

func (p partnerLeases) ApplyPartnerLease(ctx context.Context, l lease.Lease) error {
	return p.d.leaseCmds.ApplyPartnerLease(ctx, l)
}

// haScopes adapts the HA service to the slow path's query filter.
type haScopes struct{ svc *ha.Service }

var _ slowpath.Scopes = haScopes{}

func (h haScopes) Accept(subnetID uint32, msgType uint8, key []byte) (string, bool) {
	r := h.svc.ForSubnet(subnetID)
	if r == nil {
		return "", true // a subnet no relationship replicates: ours alone
	}
	return r.Accept(msgType, key)
}

func (h haScopes) Observe(secs uint16, key []byte, msgType uint8) {
	h.svc.ObserveQuery(secs, key, msgType)
}
