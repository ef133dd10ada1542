package ha

import (
	ctlclient "xdhcp/control/client"
)

// Family is the DHCP protocol a Service replicates. Kea runs DHCPv4 and
// DHCPv6 HA as separate relationships (kea-dhcp4 and kea-dhcp6 each load
// libdhcp_ha.so) with one state machine; what differs is the service
// every command names, the lease commands that carry updates and
// synchronization, and the message types load balancing applies to.
type Family uint8

const (
	// FamilyV4 is DHCPv4 HA: lease4-update / lease4-del per lease,
	// lease4-get-page, "service": ["dhcp4"].
	FamilyV4 Family = iota
	// FamilyV6 is DHCPv6 HA: one lease6-bulk-apply per reply,
	// lease6-get-page, "service": ["dhcp6"].
	FamilyV6
)

// String is "DHCPv4" or "DHCPv6".
func (f Family) String() string {
	if f == FamilyV6 {
		return "DHCPv6"
	}
	return "DHCPv4"
}

// Service is the "service" value of the commands this family's HA sends
// and answers: "dhcp4" or "dhcp6".
func (f Family) Service() string {
	if f == FamilyV6 {
		return ctlclient.ServiceDHCP6
	}
	return ctlclient.ServiceDHCP4
}

// DHCPv6 command names exchanged between partners.
const (
	cmdLease6BulkApply = "lease6-bulk-apply"
	cmdLease6Update    = "lease6-update"
	cmdLease6Del       = "lease6-del"
	cmdLease6GetPage   = "lease6-get-page"
)

// getPage is the command a synchronization pages the partner's leases with.
func (f Family) getPage() string {
	if f == FamilyV6 {
		return cmdLease6GetPage
	}
	return cmdLeaseGetPage
}

// PartnerCommands are the commands an HA partner of this family (xdhcpd
// or Kea 2.2) sends, and the only ones a peer listener answers:
// heartbeats, lease updates, the pages of a synchronization with the
// dhcp-disable / dhcp-enable around it, and the notifications of
// maintenance, synchronization and reset. Any other command gets HTTP 403.
func (f Family) PartnerCommands() []string {
	common := []string{cmdHeartbeat, cmdDHCPDisable, cmdDHCPEnable, cmdSyncCompleteNotify, cmdMaintenanceNotify, cmdReset}
	if f == FamilyV6 {
		return append(common, cmdLease6BulkApply, cmdLease6Update, cmdLease6Del, cmdLease6GetPage)
	}
	return append(common, cmdLeaseUpdate, cmdLeaseDel, cmdLeaseGetPage)
}

// authLogger is the logger name of the peer listener's refusals, Kea's
// "kea-dhcp4.auth" or "kea-dhcp6.auth".
func (f Family) authLogger() string {
	if f == FamilyV6 {
		return AuthLogger6Name
	}
	return AuthLoggerName
}

// AuthLogger6Name is AuthLoggerName for a DHCPv6 relationship.
const AuthLogger6Name = "kea-dhcp6.auth"

// DHCPv6 message types that HA balances and scopes (Kea's v6_ha_types);
// any other type, Information-request among them, is always accepted.
const (
	msg6Solicit = 1
	msg6Request = 3
	msg6Confirm = 4
	msg6Renew   = 5
	msg6Rebind  = 6
	msg6Release = 8
	msg6Decline = 9
)

// haType reports whether load balancing and scopes apply to message type t.
func (f Family) haType(t uint8) bool {
	if f == FamilyV6 {
		switch t {
		case msg6Solicit, msg6Request, msg6Confirm, msg6Renew, msg6Rebind, msg6Release, msg6Decline:
			return true
		}
		return false
	}
	switch t {
	case msgDiscover, msgRequest, msgDecline, msgRelease, msgInform:
		return true
	}
	return false
}
