package lab

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnableIPv6 turns IPv6 on in the namespace for the links created after
// it, without duplicate address detection: their link-local and configured
// addresses are usable at once, so a DHCPv6 client or server can start
// without waiting the second or more DAD takes.
func (n *NS) EnableIPv6() error {
	return n.Do(func() error {
		for _, conf := range []string{"all", "default"} {
			for key, v := range map[string]string{"disable_ipv6": "0", "accept_dad": "0", "dad_transmits": "0"} {
				p := filepath.Join("/proc/sys/net/ipv6/conf", conf, key)
				if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
					return fmt.Errorf("enable IPv6 in %s: %w", n.name, err)
				}
			}
		}
		return nil
	})
}
