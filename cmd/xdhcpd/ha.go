package main

import (
	"xdhcp/ha"
	"xdhcp/slowpath"
)

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
