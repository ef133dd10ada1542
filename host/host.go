// Package host is the contract between the DHCPv4 engine (and the
// reservation commands) and the places host reservations live: the
// configuration file and the host databases of hosts-database(s). The
// engine imports this package, never a database driver; a source is
// asked in Kea's order, the configuration first, then each database in
// the order the configuration lists them, and the first answer wins.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"

	"xdhcp/config"
)

// IDType is the kind of a host identifier, numbered as Kea's
// host_identifier_type table numbers them (the value stored in
// hosts.dhcp_identifier_type).
type IDType uint8

// The identifier kinds Kea 2.2 knows.
const (
	HWAddr    IDType = 0
	DUID      IDType = 1
	CircuitID IDType = 2
	ClientID  IDType = 3
	FlexID    IDType = 4
)

var idNames = [...]string{"hw-address", "duid", "circuit-id", "client-id", "flex-id"}

// String is the identifier kind's name in Kea's configuration and commands.
func (t IDType) String() string {
	if int(t) < len(idNames) {
		return idNames[t]
	}
	return "unknown"
}

// ParseIDType returns the kind named name ("hw-address", "duid",
// "circuit-id", "client-id", "flex-id").
func ParseIDType(name string) (IDType, bool) {
	for i, n := range idNames {
		if n == name {
			return IDType(i), true
		}
	}
	return 0, false
}

// Identifier returns the kind and value of r's identifier.
func Identifier(r *config.Reservation) (IDType, []byte) {
	switch {
	case r.HWAddr != nil:
		return HWAddr, r.HWAddr
	case r.ClientID != nil:
		return ClientID, r.ClientID
	case r.DUID != nil:
		return DUID, r.DUID
	case r.FlexID != nil:
		return FlexID, r.FlexID
	default:
		return CircuitID, r.CircuitID
	}
}

// SetIdentifier makes (t, id) r's one identifier.
func SetIdentifier(r *config.Reservation, t IDType, id []byte) {
	r.HWAddr, r.ClientID, r.CircuitID, r.DUID, r.FlexID = nil, nil, nil, nil, nil
	switch t {
	case HWAddr:
		r.HWAddr = id
	case ClientID:
		r.ClientID = id
	case CircuitID:
		r.CircuitID = id
	case DUID:
		r.DUID = id
	case FlexID:
		r.FlexID = id
	}
}

// Host is a reservation as a source holds it: the reservation the engine
// applies, the source's identifier for it (paging goes by it; the
// configuration numbers its reservations from 1) and the user context
// stored beside it.
type Host struct {
	ID          uint64
	Res         *config.Reservation
	UserContext json.RawMessage
}

// Source is where the engine looks reservations up, for every packet:
// nothing is cached, so a reservation a provisioning system writes into a
// database applies to the next packet.
type Source interface {
	// Get4 returns the reservation of the identifier in subnet (0: the
	// global reservations), nil when there is none.
	Get4(ctx context.Context, subnet uint32, t IDType, id []byte) (*config.Reservation, error)
	// GetByAddr4 returns the reservations of addr in subnet.
	GetByAddr4(ctx context.Context, subnet uint32, addr netip.Addr) ([]*config.Reservation, error)
}

// Reader is what the reservation commands read from every source.
type Reader interface {
	Source
	// All4 returns the reservations of subnet (0: global), by ID.
	All4(ctx context.Context, subnet uint32) ([]Host, error)
	// Page4 returns up to limit reservations whose ID is above from, by
	// ID, in subnet when subnet is not nil.
	Page4(ctx context.Context, subnet *uint32, from uint64, limit int) ([]Host, error)
	// ByHostname4 returns the reservations whose hostname is hostname in
	// any letter case, in subnet when subnet is not nil.
	ByHostname4(ctx context.Context, hostname string, subnet *uint32) ([]Host, error)
	// ByID returns the reservations of the identifier in every subnet.
	ByID(ctx context.Context, t IDType, id []byte) ([]Host, error)
}

// Store is a source the reservation commands also write: a host database.
type Store interface {
	Reader
	// Add stores h; ErrExists when its identifier or (with unique
	// reservations) its address is already reserved in its subnet.
	Add(ctx context.Context, h Host) error
	// Del4 deletes the reservation of the identifier in subnet.
	Del4(ctx context.Context, subnet uint32, t IDType, id []byte) (bool, error)
	// DelByAddr4 deletes the reservation of addr in subnet.
	DelByAddr4(ctx context.Context, subnet uint32, addr netip.Addr) (bool, error)
	// ReadOnly reports whether the database was configured readonly.
	ReadOnly() bool
	// Close releases the connections.
	Close() error
}

// ErrExists is returned by Add for a reservation that conflicts with one
// the database holds.
var ErrExists = errors.New("host already exists")

// Source6 is where the DHCPv6 engine looks reservations up, as Source is
// for DHCPv4: asked for every packet that needs one, nothing cached.
type Source6 interface {
	// Get6 returns the reservation of the identifier in subnet (0: the
	// global reservations), nil when there is none.
	Get6(ctx context.Context, subnet uint32, t IDType, id []byte) (*config.Reservation6, error)
	// GetByAddr6 returns the reservation of the address or delegated
	// prefix starting at addr in subnet, nil when there is none.
	GetByAddr6(ctx context.Context, subnet uint32, addr netip.Addr) (*config.Reservation6, error)
}
