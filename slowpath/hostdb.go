package slowpath

import (
	"bytes"
	"context"
	"net/netip"

	"xdhcp/config"
	"xdhcp/host"
)

// hostSources are the host databases (hosts-database(s)), asked after
// the configuration's reservations, in the configuration's order.
type hostSources struct {
	list []host.Source
}

// SetHostSources replaces the host databases the server looks
// reservations up in (nil: none). Each packet sees one set whole.
func (s *Server) SetHostSources(srcs []host.Source) {
	s.hostDBsPtr.Store(&hostSources{list: srcs})
}

func (s *Server) hostDBs() []host.Source {
	if hs := s.hostDBsPtr.Load(); hs != nil {
		return hs.list
	}
	return nil
}

// lookupCtx bounds database lookups by the server's life.
func (s *Server) lookupCtx() context.Context {
	if s.ctx != nil {
		return s.ctx
	}
	return context.Background()
}

// identify returns the client's identifier of kind (a
// host-reservation-identifiers name): the index key of the
// configuration's reservations and the type a database stores.
func identify(kind string, r *request) (byte, host.IDType, []byte) {
	switch kind {
	case "hw-address":
		return 'h', host.HWAddr, r.hw
	case "duid":
		return 'd', host.DUID, duidOf(r.msgCID)
	case "circuit-id":
		return 'r', host.CircuitID, r.circuitID
	case "client-id":
		return 'c', host.ClientID, r.msgCID
	case "flex-id":
		return 'f', host.FlexID, r.flexID
	}
	return 0, 0, nil
}

// findHost finds the client's reservation in subnet (0 = global): for
// each identifier in host-reservation-identifiers order that the request
// carries, the configuration's reservation and then each database's, the
// first found winning, as Kea's host manager does. A database error ends
// the lookup: the caller drops the packet.
func (s *Server) findHost(rt *liveConfig, subnet uint32, r *request) (*config.Reservation, error) {
	dbs := s.hostDBs()
	if len(rt.hosts) == 0 && len(dbs) == 0 {
		return nil, nil
	}
	for _, kind := range rt.cfg.HostReservationIdentifiers {
		k, t, id := identify(kind, r)
		if len(id) == 0 {
			continue
		}
		if h := rt.hosts[hostKey{subnet, k, string(id)}]; h != nil {
			return h, nil
		}
		for _, db := range dbs {
			h, err := db.Get4(s.lookupCtx(), subnet, t, id)
			if err != nil {
				return nil, err
			}
			if h != nil {
				return h, nil
			}
		}
	}
	return nil, nil
}

// reservedForOther reports whether a database reserves a in subnet sn for
// a client other than r's (Kea's check before it hands out an address).
// An address a database cannot vouch for (an error) is not handed out.
func (s *Server) reservedForOther(rt *liveConfig, sn *subnetRT, a netip.Addr, r *request) bool {
	dbs := s.hostDBs()
	if len(dbs) == 0 || !sn.cfg.ReservationsInSubnet || (sn.cfg.ReservationsOutOfPool && sn.poolFor(a) != nil) {
		return false
	}
	for _, db := range dbs {
		hosts, err := db.GetByAddr4(s.lookupCtx(), sn.cfg.ID, a)
		if err != nil {
			s.hostLookupFailed(err)
			return true
		}
		for _, h := range hosts {
			if !s.isClients(rt, h, r) {
				return true
			}
		}
	}
	return false
}

// isClients reports whether reservation h names one of r's identifiers.
func (s *Server) isClients(rt *liveConfig, h *config.Reservation, r *request) bool {
	ht, hid := host.Identifier(h)
	for _, kind := range rt.cfg.HostReservationIdentifiers {
		if _, t, id := identify(kind, r); t == ht && len(id) > 0 && bytes.Equal(id, hid) {
			return true
		}
	}
	return false
}

// hostLookupFailed counts and logs a database that failed a lookup.
func (s *Server) hostLookupFailed(err error) {
	s.st.hostLookupErrors.Inc()
	s.log.Warn("host database lookup failed", "err", err)
}
