package slowpath6

import (
	"bytes"
	"context"
	"net/netip"

	"xdhcp/config"
	"xdhcp/host"
)

// SetHostSources replaces the host databases (hosts-database(s)) the
// server looks reservations up in, after the configuration's (nil: none).
// Each packet sees one set whole.
func (s *Server) SetHostSources(srcs []host.Source6) { s.hostDBs.Store(&srcs) }

func (s *Server) hostSources() []host.Source6 {
	if p := s.hostDBs.Load(); p != nil {
		return *p
	}
	return nil
}

// lookupHost finds the client's reservation as Kea's host manager does:
// in the selected subnet (the configuration's, then each database's),
// then among the global reservations likewise. An error means a database
// did not answer; the packet is then dropped, as Kea drops it.
func (ex *exchange) lookupHost() (*config.Reservation6, error) {
	flex := ex.flexID()
	if ex.sn != nil {
		if r := ex.sn.res.lookup(ex.duid, ex.hw, flex); r != nil {
			return r, nil
		}
		if r, err := ex.lookupDB(ex.sn.cfg.ID, flex); r != nil || err != nil {
			return r, err
		}
	}
	if r := ex.rt.global.lookup(ex.duid, ex.hw, flex); r != nil {
		return r, nil
	}
	return ex.lookupDB(0, flex)
}

// lookupDB asks the host databases for the client's reservation in
// subnet, by each of host-reservation-identifiers in its order (Kea's
// host manager asks every database for one identifier before the next):
// the DUID, the hardware address, and flex (the flex-id hook's value,
// nil without it).
func (ex *exchange) lookupDB(subnet uint32, flex []byte) (*config.Reservation6, error) {
	srcs := ex.s.hostSources()
	if len(srcs) == 0 {
		return nil, nil
	}
	for _, name := range ex.rt.cfg.HostReservationIdentifiers {
		var (
			t  host.IDType
			id []byte
		)
		switch name {
		case "duid":
			t, id = host.DUID, ex.duid
		case "hw-address":
			t, id = host.HWAddr, ex.hw
		case "flex-id":
			t, id = host.FlexID, flex
		}
		if len(id) == 0 {
			continue
		}
		for _, src := range srcs {
			if r, err := src.Get6(context.Background(), subnet, t, id); r != nil || err != nil {
				return r, err
			}
		}
	}
	return nil, nil
}

// reservedInDB returns a database's reservation of a in the selected
// subnet, nil when there is none or the databases cannot say (the
// commit's conditional write still keeps a live lease from two clients).
func (ex *exchange) reservedInDB(a netip.Addr) *config.Reservation6 {
	if ex.sn == nil {
		return nil
	}
	for _, src := range ex.s.hostSources() {
		if r, err := src.GetByAddr6(context.Background(), ex.sn.cfg.ID, a); r != nil && err == nil {
			return r
		}
	}
	return nil
}

// sameHost reports whether a and b are one reservation: the same entry,
// or (read from a database twice) the same identifier in the same subnet.
func sameHost(a, b *config.Reservation6) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.SubnetID != b.SubnetID {
		return false
	}
	return bytes.Equal(a.DUID, b.DUID) && bytes.Equal(a.HWAddr, b.HWAddr) && bytes.Equal(a.FlexID, b.FlexID)
}
