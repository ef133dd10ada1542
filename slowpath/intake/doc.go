// Package intake is what stands between the transports that hand packets
// over and an engine's workers: the bounded queue in front of the workers
// (Kea's packet-queue-size, drop-oldest, packet-queue-statistics), each
// client's share of it, the per-client rate limit for packets no XDP
// program policed, the serialization of one client's packets, and the
// accounting of exchanges whose lease commit is in flight.
//
// It knows nothing of DHCP messages. It is generic over the packet type a
// transport hands over and the request type an engine decodes it into, and
// the engine names each packet's client by a key it derives itself (a
// hash for the queue and the rate limit, a string for the serializer), so
// that a DHCPv4 and a DHCPv6 engine can share it.
package intake
