package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

// Pair is the shape most tests and benchmarks use: a server and a client
// namespace of one lab joined by one veth.
type Pair struct {
	Server, Client         *NS
	ServerIf, ClientIf     string
	ServerAddr, ClientAddr netip.Prefix
	// ServerIndex and ClientIndex are the interface indexes of ServerIf
	// in Server and of ClientIf in Client.
	ServerIndex, ClientIndex int
	ServerMAC, ClientMAC     [6]byte
}

// Pair creates the namespaces "srv" and "cli" and the veth serverIf
// (serverAddr) – clientIf (clientAddr); a zero Prefix means no address.
func (l *Lab) Pair(serverIf string, serverAddr netip.Prefix, clientIf string, clientAddr netip.Prefix) (*Pair, error) {
	p := &Pair{ServerIf: serverIf, ClientIf: clientIf, ServerAddr: serverAddr, ClientAddr: clientAddr}
	var err error
	if p.Server, err = l.NS("srv"); err != nil {
		return nil, err
	}
	if p.Client, err = l.NS("cli"); err != nil {
		return nil, err
	}
	if err := l.Veth(p.Server, serverIf, serverAddr, p.Client, clientIf, clientAddr); err != nil {
		return nil, err
	}
	if p.ServerIndex, p.ServerMAC, err = p.Server.linkID(serverIf); err != nil {
		return nil, err
	}
	if p.ClientIndex, p.ClientMAC, err = p.Client.linkID(clientIf); err != nil {
		return nil, err
	}
	return p, nil
}

// NewPair is New followed by Lab.Pair; on error nothing is left behind.
func NewPair(prefix, serverIf string, serverAddr netip.Prefix, clientIf string, clientAddr netip.Prefix) (*Lab, *Pair, error) {
	l, err := New(prefix)
	if err != nil {
		return nil, nil, err
	}
	p, err := l.Pair(serverIf, serverAddr, clientIf, clientAddr)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("lab %s: %w", prefix, err), l.Close())
	}
	return l, p, nil
}

// PairForTest is ForTest followed by Lab.Pair: it skips t when namespaces
// are unavailable and fails it when the pair cannot be built.
func PairForTest(t testing.TB, prefix, serverIf string, serverAddr netip.Prefix, clientIf string, clientAddr netip.Prefix) (*Lab, *Pair) {
	t.Helper()
	l := ForTest(t, prefix)
	p, err := l.Pair(serverIf, serverAddr, clientIf, clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	return l, p
}
