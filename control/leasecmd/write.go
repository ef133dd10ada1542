package leasecmd

import (
	"context"
	"errors"
	"fmt"

	"xdhcp/control"
	"xdhcp/lease"
	"xdhcp/lease/leasejson"
	"xdhcp/slowpath"
)

// Caps on the free-form fields of a lease written through the commands
// (and HA's lease updates), checked where the data enters so that nothing
// is acknowledged that the lease file could not keep.
const (
	// MaxHostname is the longest hostname: a DNS name has at most 255
	// octets.
	MaxHostname = 255
	// MaxUserContext bounds the user context as stored (JSON, the comment
	// included). Kea's own contexts (relay agent information, HA and
	// lease_cmds notes) are a few hundred bytes.
	MaxUserContext = 64 << 10
	// maxHWAddr and maxClientID are Kea's limits on the identifiers.
	maxHWAddr   = 20
	maxClientID = 255
)

// checkSizes refuses a lease whose free-form fields exceed the caps.
func checkSizes(l *lease.Lease) error {
	switch {
	case len(l.Hostname) > MaxHostname:
		return fmt.Errorf("hostname is %d bytes long, the maximum is %d", len(l.Hostname), MaxHostname)
	case len(l.UserContext) > MaxUserContext:
		return fmt.Errorf("user-context is %d bytes long, the maximum is %d", len(l.UserContext), MaxUserContext)
	case len(l.HWAddr) > maxHWAddr:
		return fmt.Errorf("hw-address is %d bytes long, the maximum is %d", len(l.HWAddr), maxHWAddr)
	case len(l.ClientID) > maxClientID:
		return fmt.Errorf("client-id is %d bytes long, the maximum is %d", len(l.ClientID), maxClientID)
	}
	return nil
}

// put returns lease4-add (add true) or lease4-update; the server adjusts
// the pool and per-subnet statistics as lease_cmds does.
func (h *Commands) put(add bool) control.HandlerFunc {
	return func(ctx context.Context, req *control.Request) control.Answer {
		l, force, err := leasejson.DecodeArgs(req.Arguments, h.srv.Now().Unix(), h.srv.LeaseSubnet)
		if err == nil {
			err = checkSizes(&l)
		}
		if err != nil {
			return control.Errorf("%v", err)
		}
		mode := slowpath.PutUpdate
		switch {
		case add:
			mode = slowpath.PutAdd
		case force:
			mode = slowpath.PutUpsert
		}
		existed, err := h.srv.PutLease(ctx, l, mode)
		switch {
		case errors.Is(err, slowpath.ErrLeaseExists):
			return control.Errorf("IPv4 lease already exists.")
		case errors.Is(err, slowpath.ErrLeaseNotFound):
			return control.Errorf("failed to update the lease with address %s either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed", l.Addr)
		case err != nil:
			return control.Errorf("unable to store lease %s: %v", l.Addr, err)
		}
		if add {
			return control.Answer{Result: control.ResultSuccess, Text: "Lease for address " + l.Addr.String() + ", subnet-id " + fmt.Sprint(l.SubnetID) + " added."}
		}
		if !existed {
			return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease added."}
		}
		return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease updated."}
	}
}

// ApplyPartnerLease writes a lease received from the HA partner during
// synchronization as lease4-update with force-create would (HA's update
// of it), keeping the server's pools, statistics and fast-path cache in
// step. It implements ha.LeaseApplier.
func (h *Commands) ApplyPartnerLease(ctx context.Context, l lease.Lease) error {
	addr := l.Addr
	l, err := leasejson.PartnerUpdate(l, h.srv.LeaseSubnet)
	if err == nil {
		err = checkSizes(&l)
	}
	if err != nil {
		return fmt.Errorf("partner lease %s: %w", addr, err)
	}
	if _, err := h.srv.PutLease(ctx, l, slowpath.PutUpsert); err != nil {
		return fmt.Errorf("store partner lease %s: %w", addr, err)
	}
	return nil
}

func (h *Commands) del(ctx context.Context, req *control.Request) control.Answer {
	l, ans := h.find(req, "IPv4 lease not found.")
	if ans != nil {
		return *ans
	}
	if err := h.srv.DeleteLease(ctx, l); err != nil {
		return control.Errorf("unable to delete lease %s: %v", l.Addr, err)
	}
	return control.Answer{Result: control.ResultSuccess, Text: "IPv4 lease deleted."}
}

func (h *Commands) wipe(ctx context.Context, req *control.Request) control.Answer {
	var a struct {
		SubnetID uint32 `json:"subnet-id"`
	}
	if err := optionalArgs(req, &a); err != nil {
		return control.Errorf("%v", err)
	}
	n, err := h.srv.WipeLeases(ctx, a.SubnetID)
	if err != nil {
		return control.Errorf("unable to wipe leases: %v", err)
	}
	where := "all subnets"
	if a.SubnetID != 0 {
		where = fmt.Sprintf("subnet %d", a.SubnetID)
	}
	res := control.ResultSuccess
	if n == 0 {
		res = control.ResultEmpty
	}
	return control.Answer{Result: res, Text: fmt.Sprintf("Deleted %d IPv4 lease(s) from %s.", n, where)}
}
