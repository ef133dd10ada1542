package xdp

import "xdhcp/internal/caps"

// MissingCapabilities lists the capabilities the data path needs and have
// lacks: CAP_NET_ADMIN to attach the program, CAP_IPC_LOCK for UMEM over
// the memlock limit, CAP_BPF to load it, and CAP_PERFMON, without which
// the verifier refuses the program's packet pointer arithmetic
// ("prohibited for !root"). CAP_SYS_ADMIN stands in for both of the last.
func MissingCapabilities(have caps.Set) []caps.Cap {
	var missing []caps.Cap
	for _, c := range []caps.Cap{caps.NetAdmin, caps.IPCLock} {
		if !have.Has(c) {
			missing = append(missing, c)
		}
	}
	if !have.Has(caps.BPF) && !have.Has(caps.SysAdmin) {
		missing = append(missing, caps.BPF)
	}
	if !have.Has(caps.PerfMon) && !have.Has(caps.SysAdmin) {
		missing = append(missing, caps.PerfMon)
	}
	return missing
}
