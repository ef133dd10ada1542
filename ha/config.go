package ha

import (
	"time"

	"xdhcp/config"
)

// The HA configuration is parsed and validated with the rest of the
// configuration (package config), so `xdhcpd -t` reports its errors; these
// names are HA's view of it.
type (
	// Mode is the HA mode of a relationship.
	Mode = config.HAMode
	// Role is a peer's role in a relationship.
	Role = config.HARole
	// PeerConfig is one peers[] entry.
	PeerConfig = config.HAPeer
	// RelConfig is one relationship.
	RelConfig = config.HARelationship
	// Config is the validated HA configuration: one or more relationships.
	Config = config.HA
)

// Kea's HA modes.
const (
	ModeLoadBalancing = config.HAModeLoadBalancing
	ModeHotStandby    = config.HAModeHotStandby
	ModePassiveBackup = config.HAModePassiveBackup
)

// Kea's peer roles.
const (
	RolePrimary   = config.HARolePrimary
	RoleSecondary = config.HARoleSecondary
	RoleStandby   = config.HARoleStandby
	RoleBackup    = config.HARoleBackup
)

// RequestTimeout is Kea's fixed HTTP client timeout for every HA request
// but lease4-get-page (TIMEOUT_DEFAULT_HTTP_CLIENT_REQUEST).
const RequestTimeout = 10 * time.Second
