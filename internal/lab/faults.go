package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// faultTable is the nftables table holding a namespace's injected faults;
// it lives in the lab's own namespace, so nothing else shares it.
const faultTable = "lab_fault"

// Direction says which TCP connections between a namespace and a peer a
// Fault breaks, seen from the namespace the fault is injected in.
type Direction uint8

const (
	// ToPeer breaks the connections this namespace opens to the peer's
	// port: its packets to that port are dropped. The peer's connections
	// to this namespace keep working (a one-way cut).
	ToPeer Direction = iota + 1
	// FromPeer breaks the connections the peer opens to this namespace's
	// port: this namespace's answers to them are dropped. Its own
	// connections to the peer keep working (the other one-way cut).
	FromPeer
	// Both breaks the connections in both directions (a two-way cut).
	Both
)

func (d Direction) String() string {
	switch d {
	case ToPeer:
		return "to-peer"
	case FromPeer:
		return "from-peer"
	case Both:
		return "both"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Fault is one network fault between a namespace and a peer address on
// one TCP port (the port both sides listen on, as an HA pair's peers do).
// It is applied on the packets the namespace sends, so one namespace's
// rules cut both directions and the peer's namespace is left alone.
type Fault struct {
	Peer netip.Addr
	Port uint16
	Dir  Direction
	// LossPercent drops that share of the packets at random (nftables
	// numgen); 0 or 100 drops them all.
	LossPercent int
}

// rules returns the nftables ruleset of f.
func (f Fault) rules() (string, error) {
	if !f.Peer.Is4() {
		return "", fmt.Errorf("fault peer %v: want an IPv4 address", f.Peer)
	}
	if f.Port == 0 {
		return "", errors.New("fault: no port")
	}
	if f.LossPercent < 0 || f.LossPercent > 100 {
		return "", fmt.Errorf("fault loss %d%%: want 0..100", f.LossPercent)
	}
	var ports []string
	switch f.Dir {
	case ToPeer:
		ports = []string{"dport"}
	case FromPeer:
		ports = []string{"sport"}
	case Both:
		ports = []string{"dport", "sport"}
	default:
		return "", fmt.Errorf("fault: %v is not a direction", f.Dir)
	}
	loss := ""
	if f.LossPercent > 0 && f.LossPercent < 100 {
		loss = fmt.Sprintf(" numgen random mod 100 < %d", f.LossPercent)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n chain out {\n  type filter hook output priority 0; policy accept;\n", faultTable)
	for _, p := range ports {
		fmt.Fprintf(&b, "  ip daddr %s tcp %s %d%s drop\n", f.Peer, p, f.Port, loss)
	}
	b.WriteString(" }\n}\n")
	return b.String(), nil
}

func (f Fault) String() string {
	s := fmt.Sprintf("%s %s:%d", f.Dir, f.Peer, f.Port)
	if f.LossPercent > 0 && f.LossPercent < 100 {
		s += fmt.Sprintf(" loss %d%%", f.LossPercent)
	}
	return s
}

// nft runs nft -f - inside the namespace with script as its input.
func (n *NS) nft(script string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := n.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", n.name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// InjectFault replaces the namespace's fault with f. Established
// connections are affected at once: their packets are dropped, not reset,
// so the endpoints see a blackhole, as behind a failed link.
func (n *NS) InjectFault(f Fault) error {
	rules, err := f.rules()
	if err != nil {
		return err
	}
	// Creating the table first makes the delete valid when there is none;
	// the three run as one transaction.
	script := fmt.Sprintf("table inet %s\ndelete table inet %s\n%s", faultTable, faultTable, rules)
	if err := n.nft(script); err != nil {
		return fmt.Errorf("inject fault %s: %w", f, err)
	}
	return nil
}

// ClearFaults removes the namespace's fault, if any.
func (n *NS) ClearFaults() error {
	if err := n.nft(fmt.Sprintf("table inet %s\ndelete table inet %s\n", faultTable, faultTable)); err != nil {
		return fmt.Errorf("clear faults: %w", err)
	}
	return nil
}

// Flapper turns a fault on and off on a schedule (a flapping link).
type Flapper struct {
	ns     *NS
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	err    error
	cycles int
}

// Flap injects f for down, clears it for up, and repeats until Stop. It
// starts with the fault on.
func (n *NS) Flap(f Fault, down, up time.Duration) (*Flapper, error) {
	if down <= 0 || up <= 0 {
		return nil, fmt.Errorf("flap: down %v and up %v must be positive", down, up)
	}
	if err := n.InjectFault(f); err != nil {
		return nil, err
	}
	fl := &Flapper{ns: n, stop: make(chan struct{}), done: make(chan struct{})}
	go fl.run(f, down, up)
	return fl, nil
}

func (fl *Flapper) run(f Fault, down, up time.Duration) {
	defer close(fl.done)
	on := true
	for {
		wait := up
		if on {
			wait = down
		}
		t := time.NewTimer(wait)
		select {
		case <-fl.stop:
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if on {
			err = fl.ns.ClearFaults()
		} else {
			err = fl.ns.InjectFault(f)
		}
		fl.mu.Lock()
		if err != nil && fl.err == nil {
			fl.err = err
		}
		if on {
			fl.cycles++
		}
		fl.mu.Unlock()
		on = !on
	}
}

// Stop ends the flapping with the fault cleared and returns the first
// error met, and the number of completed down periods.
func (fl *Flapper) Stop() (int, error) {
	close(fl.stop)
	<-fl.done
	err := fl.ns.ClearFaults()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.cycles, errors.Join(fl.err, err)
}

// Hang stops process pid (SIGSTOP): it keeps its sockets but answers
// nothing, as a hung server does. resume sends SIGCONT.
func Hang(pid int) (resume func() error, err error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil, fmt.Errorf("find pid %d: %w", pid, err)
	}
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("SIGSTOP pid %d: %w", pid, err)
	}
	return func() error {
		if err := p.Signal(syscall.SIGCONT); err != nil {
			return fmt.Errorf("SIGCONT pid %d: %w", pid, err)
		}
		return nil
	}, nil
}
