package ha

import (
	"slices"
	"time"

	"xdhcp/config"
	"xdhcp/ha/lbhash"
)

// DHCPv4 message types that HA balances and scopes; any other type
// is always accepted (see Family.haType).
const (
	msgDiscover = 1
	msgRequest  = 3
	msgDecline  = 4
	msgRelease  = 7
	msgInform   = 8
)

// activePeers are the primary and secondary, in that order: hash % 2
// picks among them (Kea's QueryFilter). In hot-standby only the primary.
func (r *Relationship) activePeers() []string {
	var primary, secondary string
	for _, p := range r.cfg.Peers {
		switch p.Role {
		case config.HARolePrimary:
			primary = p.Name
		case config.HARoleSecondary:
			secondary = p.Name
		}
	}
	if secondary == "" {
		return []string{primary}
	}
	return []string{primary, secondary}
}

// entryScopes are the scopes served on entering state s.
func (r *Relationship) entryScopes(s State) []string {
	def := func() []string {
		if r.me.Role == config.HARolePrimary || r.me.Role == config.HARoleSecondary {
			return []string{r.me.Name}
		}
		return nil
	}
	switch s {
	case StateLoadBalancing, StateHotStandby, StateCommunicationRecovery, StateTerminated, StatePassiveBackup:
		return def()
	case StatePartnerDown:
		if r.me.AutoFailover || r.forceFailover {
			return r.activePeers()
		}
		return def()
	case StatePartnerInMaintenance:
		return r.activePeers()
	}
	return nil
}

func (r *Relationship) setScopesLocked(names []string) {
	clear(r.served)
	for _, n := range names {
		r.served[n] = true
	}
}

// scopesLocked lists the served scopes in peer order.
func (r *Relationship) scopesLocked() []string {
	out := []string{}
	for _, p := range r.cfg.Peers {
		if r.served[p.Name] {
			out = append(out, p.Name)
		}
	}
	return out
}

// Scopes lists the scopes (peer names) this server serves now.
func (r *Relationship) Scopes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scopesLocked()
}

// scopeOf is the scope a key belongs to: hash % number of active servers.
func (r *Relationship) scopeOf(h uint8) string {
	act := r.activePeers()
	return act[int(h)%len(act)]
}

// ScopeOf returns the scope (peer name) of a client: key is the option 61
// payload when the query has a non-empty one, else chaddr[:hlen]. ok is
// false for an empty key, which Kea serves on neither server.
func (r *Relationship) ScopeOf(key []byte) (scope string, ok bool) {
	if len(key) == 0 {
		return "", false
	}
	return r.scopeOf(lbhash.Sum(key)), true
}

// InScope reports whether this server processes an HA-type query from the
// client with this key now.
func (r *Relationship) InScope(key []byte) bool {
	scope, ok := r.ScopeOf(key)
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.served[scope]
}

// Class is the client class Kea's HA hook attaches to the query:
// "HA_" + its scope ("HA_" + the primary for a key-less query).
func (r *Relationship) Class(key []byte) string {
	scope, ok := r.ScopeOf(key)
	if !ok {
		scope = r.activePeers()[0]
	}
	return "HA_" + scope
}

// Accept is the whole query filter for the slow path: whether to process a
// query of DHCP message type msgType from the client with key, and the
// HA_ class to give it. Non-HA types are always accepted with the
// primary's class. A rejected query should then go to ObserveQuery.
func (r *Relationship) Accept(msgType uint8, key []byte) (class string, ok bool) {
	if !r.s.family.haType(msgType) {
		return "HA_" + r.activePeers()[0], true
	}
	return r.Class(key), r.InScope(key)
}

// ObserveQuery feeds failure detection with a DHCPv4 query this server
// did not process because it is out of its scopes. It does nothing unless
// communication with the partner is interrupted. secs is the BOOTP secs
// field as received (network order decoded); clientKey identifies the
// client (hw-address and client-id, e.g. concatenated).
func (r *Relationship) ObserveQuery(secs uint16, clientKey []byte, msgType uint8) {
	// Kea tolerates clients that write secs little-endian: a value above
	// 255 whose low byte is 0 is read swapped (2560 → 10 s).
	if secs > 255 && secs&0xff == 0 {
		secs = secs>>8 | secs<<8
	}
	r.observe(time.Duration(secs)*time.Second, clientKey, msgType)
}

// ObserveQuery6 is ObserveQuery for a DHCPv6 query: elapsed is its
// Elapsed Time option (hundredths of a second; 0 without one), clientKey
// its DUID.
func (r *Relationship) ObserveQuery6(elapsed uint16, clientKey []byte, msgType uint8) {
	r.observe(time.Duration(elapsed)*10*time.Millisecond, clientKey, msgType)
}

// observe counts a client that has been trying for elapsed toward
// failure detection.
func (r *Relationship) observe(elapsed time.Duration, clientKey []byte, msgType uint8) {
	now := r.s.now()
	if !r.s.family.haType(msgType) || !r.interrupted(now) {
		return
	}
	unacked := elapsed.Milliseconds() > r.cfg.MaxAckDelay.Milliseconds()
	r.mu.Lock()
	r.analyzed++
	r.clients.observe(clientKey, unacked)
	trip := r.cfg.MaxUnackedClients > 0 && r.clients.unacked > r.cfg.MaxUnackedClients
	r.mu.Unlock()
	if trip {
		r.poke()
	}
}

// InScope is Relationship.InScope for a server with one relationship; with
// several it accepts a client any relationship serves (the slow path then
// checks ForSubnet(id).InScope after subnet selection).
func (s *Service) InScope(clientKey []byte) bool {
	for _, r := range s.rels {
		if r.InScope(clientKey) {
			return true
		}
	}
	return false
}

// ObserveQuery passes an out-of-scope query to every relationship's
// failure detection (see Relationship.ObserveQuery).
func (s *Service) ObserveQuery(secs uint16, clientKey []byte, msgType uint8) {
	for _, r := range s.rels {
		r.ObserveQuery(secs, clientKey, msgType)
	}
}

// ObserveQuery6 is ObserveQuery for a DHCPv6 service (see
// Relationship.ObserveQuery6).
func (s *Service) ObserveQuery6(elapsed uint16, clientKey []byte, msgType uint8) {
	for _, r := range s.rels {
		r.ObserveQuery6(elapsed, clientKey, msgType)
	}
}

// OnScopesChanged registers fn to receive, whenever it changes, the table
// of RFC 3074 hash values whose queries must reach user space — the XDP
// program's served-scope map (bpf.Objects.SetScopes). It is called once
// at registration with the current table. While communication with a
// partner is interrupted and failure detection needs the partner's
// clients, every hash is passed up, so that ObserveQuery sees them; InScope
// still filters them in user space. fn must not block.
func (s *Service) OnScopesChanged(fn func(served [256]bool)) {
	s.scopesMu.Lock()
	s.scopesCB = fn
	s.scopesSent = false
	s.scopesMu.Unlock()
	s.publishScopes()
}

// passUp says whether failure detection needs out-of-scope queries.
func (r *Relationship) passUpLocked() bool {
	if r.partner == nil || !r.interrupted(r.s.now()) {
		return false
	}
	return r.cfg.Mode == config.HAModeLoadBalancing || r.me.Role == config.HARoleStandby
}

// table computes the hash table OnScopesChanged hands out.
func (s *Service) table() [256]bool {
	var t [256]bool
	for _, r := range s.rels {
		r.mu.Lock()
		pass := r.passUpLocked()
		r.lastPassUp = pass
		act := r.activePeers()
		for h := range 256 {
			if pass || r.served[act[h%len(act)]] {
				t[h] = true
			}
		}
		r.mu.Unlock()
	}
	return t
}

// unlockPublish releases r.mu and publishes the scope table, which what
// was done under the lock may have changed. Publishing takes every
// relationship's lock, so it must come after the release.
func (r *Relationship) unlockPublish() {
	r.mu.Unlock()
	r.s.publishScopes()
}

// publishScopes sends the table to the callback when it changed.
func (s *Service) publishScopes() {
	s.scopesMu.Lock()
	defer s.scopesMu.Unlock()
	if s.scopesCB == nil {
		return
	}
	t := s.table()
	if s.scopesSent && t == s.lastScopes {
		return
	}
	s.lastScopes, s.scopesSent = t, true
	s.scopesCB(t)
}

// validScope reports whether name can be a scope (an active server).
func (r *Relationship) validScope(name string) bool {
	return slices.Contains(r.activePeers(), name)
}
