//go:build ignore
// SPDX-License-Identifier: (MIT OR GPL-2.0-only)

/*
 * xdhcp XDP front end. Runs on every frame of the DHCP interfaces, before the
 * kernel allocates an skb, and decides per DHCPv4 and DHCPv6 request whether
 * it reaches the AF_XDP fast path or dies here. The order of the checks is the order of
 * cheapest policy first and of "who gets blamed": an operator's drop list beats
 * everything, a broken client's flood is cut before it costs a hash, HA scope
 * is decided exactly as Kea 2.2 decides it, and overload shedding comes last so
 * that it only sheds traffic that would otherwise have been served.
 *
 * Requires Linux >= 5.18 (bpf_xdp_load_bytes).
 */

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual MIT/GPL";

/* Limits. Userspace (load.go) mirrors them; keep both in sync. */
#define MAX_QUEUES 256          /* rx queues per interface we can serve */
#define MAX_DROP_MAC 65536      /* drop-list entries keyed by chaddr */
#define MAX_DROP_CLIENTID 65536 /* drop-list entries keyed by client-id */
#define MAX_RATE_CLIENTS 65536  /* token buckets; LRU evicts the idlest */
#define CHADDR_LEN 16           /* BOOTP chaddr field size */
#define CLIENTID_KEY_LEN 62     /* longest client-id the drop list can hold */
#define MAX_OPTS_LEN 2048       /* options area we walk; > any 1500 MTU frame */
#define MAX_OPT_STEPS 256       /* options (incl. pad bytes) walked per packet */
#define MAX_CID_PIECES 4        /* option 61 instances fused into one drop-list key */
#define NSEC_PER_SEC 1000000000ULL

/* DHCPv6 limits. */
#define MAX_DROP_DUID 65536     /* drop-list entries keyed by client DUID */
#define MAX_RATE_CLIENTS6 65536 /* DHCPv6 token buckets; LRU evicts the idlest */
#define DUID_KEY_LEN 128        /* longest DUID (RFC 8415 section 11.1), as Kea's DUID::MAX_DUID_LEN */
#define MAX_EXT_HDRS 8          /* IPv6 extension headers walked before UDP */
#define MAX_RELAY_DEPTH 8       /* Relay-forw levels the walk descends into */
#define MAX_PKT_OFF 8192        /* furthest DHCPv6 option offset (from the frame start) walked */

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define IP_MF_ 0x2000
#define IP_OFFSET_ 0x1FFF
#define DHCP_SERVER_PORT 67
#define BOOTREQUEST 1
#define DHCP_MAGIC 0x63825363

#define ETH_P_IPV6_ 0x86DD
#define NEXTHDR_HOP_ 0
#define NEXTHDR_ROUTING_ 43
#define NEXTHDR_FRAGMENT_ 44
#define NEXTHDR_DEST_ 60
#define IP6_FRAG_MASK_ 0xFFF9 /* offset (13 bits) and M flag of the fragment header */
#define DHCP6_SERVER_PORT 547

/* DHCPv6 message types (RFC 8415 section 7.3) and options. */
#define DH6_SOLICIT 1
#define DH6_REQUEST 3
#define DH6_CONFIRM 4
#define DH6_RENEW 5
#define DH6_REBIND 6
#define DH6_RELEASE 8
#define DH6_DECLINE 9
#define DH6_INFORMATION_REQUEST 11
#define DH6_RELAY_FORW 12
#define DH6_RELAY_HDR_LEN 34 /* msg-type, hop-count, link-address, peer-address */
#define OPT6_CLIENTID 1
#define OPT6_RELAY_MSG 9

#define OPT_PAD 0
#define OPT_REQUESTED_IP 50
#define OPT_OVERLOAD 52
#define OPT_MSG_TYPE 53
#define OPT_SERVER_ID 54
#define OPT_CLIENT_ID 61
#define OPT_END 255

#define DHCPDISCOVER 1
#define DHCPREQUEST 3
#define DHCPDECLINE 4
#define DHCPRELEASE 7
#define DHCPINFORM 8

/*
 * Verdict counters, one field per reason, so that every frame the program sees
 * is counted exactly once. Userspace sums the per-CPU copies at scrape time.
 */
struct counters {
	__u64 not_dhcp;        /* PASS: not IPv4/UDP to port 67, or cut short before the UDP header */
	__u64 fragment;        /* PASS: IPv4 UDP fragment; the stack reassembles, user space never sees it here */
	__u64 not_request;     /* PASS: op != BOOTREQUEST on port 67 (e.g. a relay's reply), not ours to judge */
	__u64 malformed;       /* DROP: UDP to 67 but truncated/invalid BOOTP (short, bad cookie, hlen > 16) */
	__u64 drop_mac;        /* DROP: chaddr in drop_mac */
	__u64 drop_clientid;   /* DROP: option 61 in drop_clientid */
	__u64 rate_limited;    /* DROP: the client's token bucket is empty */
	__u64 ha_out_of_scope; /* DROP: HA load balancing gives the client to a scope we do not serve */
	__u64 shed_discover;   /* DROP: overload level >= 1 and a DHCPDISCOVER */
	__u64 shed_other;      /* DROP: overload level >= 2 and not a renew/rebind */
	/*
	 * DROP: options the program cannot judge (walk cut by MAX_OPT_STEPS,
	 * option 53 or 61 repeated, option 52 overload) while HA is on: such a
	 * request is out of scope rather than a way around the scope filter.
	 */
	__u64 irregular_out_of_scope;
	/* DROP: options the program cannot judge, overload level >= 1: shed first. */
	__u64 irregular_shed;
	__u64 redirected;      /* REDIRECT: handed to the AF_XDP socket of the rx queue */
	__u64 xsk_missing;     /* PASS: no AF_XDP socket registered for the rx queue */

	/* DHCPv6: IPv6/UDP to port 547. Every IPv6 frame not to 547 counts in not_dhcp. */
	__u64 fragment6;       /* PASS: IPv6 fragment (offset or M flag set); the stack reassembles */
	__u64 ext_unparsed6;   /* PASS: extension header chain longer than MAX_EXT_HDRS, or cut short */
	__u64 not_request6;    /* PASS: not a client or relay message (Advertise, Reply, Relay-repl, ...) */
	__u64 malformed6;      /* DROP: truncated message or Relay-forw header, relay without Relay Message */
	__u64 drop_duid;       /* DROP: client DUID (option 1) in drop_duid */
	__u64 rate_limited6;   /* DROP: the client's DHCPv6 token bucket is empty */
	__u64 ha_out_of_scope6; /* DROP: HA load balancing gives the DUID to a scope we do not serve */
	__u64 shed_solicit;    /* DROP: overload level >= 1 and a Solicit */
	__u64 shed_other6;     /* DROP: overload level >= 2 and not a Renew/Rebind */
	/* DROP: a message the walk could not judge (steps or relay depth used up, DUID repeated or too long), HA on */
	__u64 irregular_out_of_scope6;
	__u64 irregular_shed6; /* DROP: the same, overload level >= 1 */
	__u64 redirected6;     /* REDIRECT: handed to the AF_XDP socket of the rx queue */
	__u64 xsk_missing6;    /* PASS: no AF_XDP socket registered for the rx queue */
};

/*
 * Hardware-address key: hlen and up to 16 chaddr bytes, zero padded, so that
 * any htype/hlen (not only Ethernet) can be listed and two different lengths
 * never collide. The pad byte keeps addr 2-byte aligned and must be zero.
 */
struct mac_key {
	__u8 len;
	__u8 pad;
	__u8 addr[CHADDR_LEN];
};

/*
 * Client-identifier key: option 61 payload (type byte included, as Kea keys
 * it), zero padded. Longer identifiers cannot be listed.
 */
struct cid_key {
	__u8 len;
	__u8 pad;
	__u8 id[CLIENTID_KEY_LEN];
};

/*
 * DUID key: the client-id option's data (the whole DUID, type included),
 * zero padded. For a request without a DUID, the rate limiter keys the
 * source address instead: len 0, pad 1, the address in id[0..15].
 */
struct duid_key {
	__u8 len;
	__u8 pad;
	__u8 id[DUID_KEY_LEN];
};

/* Token bucket; tokens are scaled by NSEC_PER_SEC so refill needs no division per packet. */
struct bucket {
	__u64 tokens;
	__u64 last_ns;
};

/* Counters: key 0 -> struct counters, one copy per CPU (no atomics on the hot path). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");

/* Drop list by hardware address: struct mac_key -> 1. Written by userspace (Kea's DROP class). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_DROP_MAC);
	__type(key, struct mac_key);
	__type(value, __u8);
} drop_mac SEC(".maps");

/* Drop list by client identifier: struct cid_key -> 1. Written by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_DROP_CLIENTID);
	__type(key, struct cid_key);
	__type(value, __u8);
} drop_clientid SEC(".maps");

/*
 * Per-client token buckets: struct mac_key -> struct bucket. LRU, so a flood of
 * random chaddrs evicts idle clients' buckets instead of failing inserts.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RATE_CLIENTS);
	__type(key, struct mac_key);
	__type(value, struct bucket);
} rate_buckets SEC(".maps");

/* Drop list by client DUID: struct duid_key -> 1. Written by userspace (Kea's DROP class). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_DROP_DUID);
	__type(key, struct duid_key);
	__type(value, __u8);
} drop_duid SEC(".maps");

/* DHCPv6 token buckets: struct duid_key -> struct bucket, LRU as rate_buckets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_RATE_CLIENTS6);
	__type(key, struct duid_key);
	__type(value, struct bucket);
} rate_buckets6 SEC(".maps");

/* Per-CPU scratch for the DUID key: too large for the stack beside the DHCPv4 path's buffers. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct duid_key);
} duid_scratch SEC(".maps");

/*
 * HA: RFC 3074 hash value (0..255) -> 1 if this server currently serves the
 * scope that hash maps to; entry 256 says that all of them are. Userspace folds Kea's "hash mod active servers" and
 * the served-scope set into this table, so the program needs no peer list.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 257);
	__type(key, __u32);
	__type(value, __u8);
} ha_served SEC(".maps");

/* ha_served[HA_ALL_SERVED] is 1 when every hash value is served (hot standby, partner down). */

/*
 * The same table for DHCPv6, which Kea runs as a separate HA relationship
 * (the Dhcp6 server's own hook, peers and state): one family's partner may
 * be down while the other's is not.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 257);
	__type(key, __u32);
	__type(value, __u8);
} ha_served6 SEC(".maps");
#define HA_ALL_SERVED 256

/* Overload: rx queue index -> level (0 none, 1 shed DISCOVER, 2 shed all but renew/rebind). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} overload SEC(".maps");

/* AF_XDP sockets: rx queue index -> socket fd (userspace registers one per queue). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Settings, fixed at load time so the verifier prunes disabled features. */
volatile const __u32 rate_limit = 0; /* tokens per second per chaddr; 0 disables rate limiting */
volatile const __u32 rate_burst = 1; /* bucket size in packets; >= 1 when rate_limit != 0 */
volatile const __u32 ha_enabled = 0; /* 0 skips the HA scope check */
/* 0: DHCPv6 is not served here (another server may be): IPv6 goes to the stack as not_dhcp. */
volatile const __u32 dhcpv6_enabled = 0;
volatile const __u32 ha6_enabled = 0; /* 0 skips the DHCPv6 HA scope check */

/* RFC 3074 section 6 mixing table, as Kea's query_filter.cc loadb_mx_tbl. */
const __u8 lb_table[256] = {
	251, 175, 119, 215, 81,  14,  79,  191, 103, 49,  181, 143, 186, 157, 0,   232,
	31,  32,  55,  60,  152, 58,  17,  237, 174, 70,  160, 144, 220, 90,  57,  223,
	59,  3,   18,  140, 111, 166, 203, 196, 134, 243, 124, 95,  222, 179, 197, 65,
	180, 48,  36,  15,  107, 46,  233, 130, 165, 30,  123, 161, 209, 23,  97,  16,
	40,  91,  219, 61,  100, 10,  210, 109, 250, 127, 22,  138, 29,  108, 244, 67,
	207, 9,   178, 204, 74,  98,  126, 249, 167, 116, 34,  77,  193, 200, 121, 5,
	20,  113, 71,  35,  128, 13,  182, 94,  25,  226, 227, 199, 75,  27,  41,  245,
	230, 224, 43,  225, 177, 26,  155, 150, 212, 142, 218, 115, 241, 73,  88,  105,
	39,  114, 62,  255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12,  84,
	82,  163, 44,  139, 228, 236, 205, 242, 217, 11,  187, 146, 159, 64,  86,  239,
	195, 42,  106, 198, 118, 112, 184, 172, 87,  2,   173, 117, 176, 229, 247, 253,
	137, 185, 99,  164, 102, 147, 45,  66,  231, 52,  141, 211, 194, 206, 246, 238,
	56,  110, 78,  248, 63,  240, 189, 93,  92,  51,  53,  183, 19,  171, 72,  50,
	33,  104, 101, 69,  8,   252, 83,  120, 76,  135, 85,  54,  202, 125, 188, 213,
	96,  235, 136, 208, 162, 129, 190, 132, 156, 38,  47,  1,   7,   254, 24,  4,
	216, 131, 89,  21,  28,  133, 37,  153, 149, 80,  170, 68,  6,   169, 234, 151,
};

/* BOOTP fixed header plus the DHCP magic cookie (RFC 2131 figure 1). */
struct bootp {
	__u8 op;
	__u8 htype;
	__u8 hlen;
	__u8 hops;
	__u32 xid;
	__u16 secs;
	__u16 flags;
	__u32 ciaddr;
	__u32 yiaddr;
	__u32 siaddr;
	__u32 giaddr;
	__u8 chaddr[CHADDR_LEN];
	__u8 sname[64];
	__u8 file[128];
	__u32 cookie;
} __attribute__((packed));

struct vlan_hdr_ {
	__u16 tci;
	__u16 proto;
};

/* What the option walk found. Offsets are from ctx->data. */
struct dhcp_info {
	__u32 cid_off;
	__u8 cid_len;  /* 0: no (or empty) option 61 */
	__u8 msg_type; /* 0: no option 53 */
	__u8 has_server_id;
	__u8 has_requested_ip;
	__u8 done;         /* the walk reached END, the end of the options or a truncated option */
	__u8 n_msg_type;   /* option 53 instances (saturates at 255) */
	__u8 n_cid;        /* option 61 instances (saturates at 255) */
	__u8 has_overload; /* option 52: options continue in sname/file, which are not walked */
	__u32 cid_total;   /* summed length of the option 61 instances */
	/* The first MAX_CID_PIECES option 61 instances, to fuse a split identifier (RFC 3396). */
	__u32 piece_off[MAX_CID_PIECES];
	__u8 piece_len[MAX_CID_PIECES];
};

enum parse_result {
	PARSE_OK,
	PARSE_IPV6, /* an IPv6 packet: *l3_out is its header */
	PARSE_NOT_DHCP,
	PARSE_FRAGMENT,
	PARSE_NOT_REQUEST,
	PARSE_MALFORMED,
};

/*
 * Walks Ethernet, up to two VLAN tags, IPv4 and UDP. Sets *udp_out on success.
 * Anything cut short before the UDP header is left to the stack: we cannot yet
 * tell that it was meant for us.
 */
static __always_inline enum parse_result parse_l2_l4(void *data, void *data_end, struct udphdr **udp_out,
							void **l3_out)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	void *cur;
	__u16 proto;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end)
		return PARSE_NOT_DHCP;
	proto = eth->h_proto;
	cur = eth + 1;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr_ *vh = cur;

		if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
			break;
		if ((void *)(vh + 1) > data_end)
			return PARSE_NOT_DHCP;
		proto = vh->proto;
		cur = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IPV6_)) {
		*l3_out = cur;
		return PARSE_IPV6;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_DHCP;

	ip = cur;
	if ((void *)(ip + 1) > data_end)
		return PARSE_NOT_DHCP;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_NOT_DHCP; /* the stack counts bad headers */
	if (ip->protocol != IPPROTO_UDP)
		return PARSE_NOT_DHCP;
	/* Non-first fragments have no UDP header; first ones carry a partial BOOTP message. */
	if (ip->frag_off & bpf_htons(IP_MF_ | IP_OFFSET_))
		return PARSE_FRAGMENT;

	ihl = ip->ihl * 4; /* 20..60: IP options are skipped, never interpreted */
	udp = (void *)ip + ihl;
	if ((void *)(udp + 1) > data_end)
		return PARSE_NOT_DHCP;
	if (udp->dest != bpf_htons(DHCP_SERVER_PORT))
		return PARSE_NOT_DHCP;

	*udp_out = udp;
	return PARSE_OK;
}

/* State of the option walk, shared with the bpf_loop callback. */
struct walk_ctx {
	void *opts;     /* first option byte (packet pointer) */
	void *data;     /* ctx->data, to turn pointers into offsets */
	void *data_end; /* ctx->data_end */
	__u32 off;      /* next option, from opts */
	__u32 opts_len; /* options area per the UDP length */
	struct dhcp_info info;
};

/*
 * One step of the option walk; returns 1 to stop. A truncated option ends the
 * walk but keeps what was found before it, as Kea's unpackOptions4 does; a
 * missing END is not an error either. The first occurrence of option 53 and
 * of a non-empty option 61 is what the checks use; the instances are counted,
 * and a walk that MAX_OPT_STEPS cuts short is not marked done, so that the
 * program can tell a request it read whole from one it could not judge
 * (options in sname/file after option 52 are never seen either).
 *
 * bpf_loop rather than a bounded for loop: the verifier would otherwise walk
 * every combination of option kinds per iteration and give up (measured: over
 * 1M instructions for 256 steps).
 */
static long walk_step(__u64 index, void *arg)
{
	struct walk_ctx *w = arg;
	void *data_end = w->data_end;
	__u32 off = w->off;
	__u8 *p;
	__u8 code, len;

	if (off >= w->opts_len) {
		w->info.done = 1;
		return 1;
	}
	if (off >= MAX_OPTS_LEN)
		return 1; /* more options than the program walks: not done */
	/*
	 * A no-op mask (the check above is hidden from clang by barrier_var)
	 * that gives the verifier a small offset range on the packet pointer.
	 */
	barrier_var(off);
	off &= MAX_OPTS_LEN - 1;
	p = w->opts + off;
	if ((void *)(p + 1) > data_end)
		return 1;
	code = p[0];
	if (code == OPT_PAD) {
		w->off = off + 1;
		return 0;
	}
	if (code == OPT_END) {
		w->info.done = 1;
		return 1;
	}
	if (off + 2 > w->opts_len) {
		w->info.done = 1; /* truncated last option */
		return 1;
	}
	if ((void *)(p + 2) > data_end)
		return 1;
	len = p[1];
	if (off + 2 + len > w->opts_len) {
		w->info.done = 1; /* truncated last option */
		return 1;
	}

	switch (code) {
	case OPT_MSG_TYPE:
		if (w->info.n_msg_type < 255)
			w->info.n_msg_type++;
		if (w->info.msg_type == 0 && len >= 1) {
			if ((void *)(p + 3) > data_end)
				return 1;
			w->info.msg_type = p[2];
		}
		break;
	case OPT_CLIENT_ID: {
		__u8 n = w->info.n_cid;

		if (n < MAX_CID_PIECES) {
			w->info.piece_off[n & (MAX_CID_PIECES - 1)] = (__u32)((void *)(p + 2) - w->data);
			w->info.piece_len[n & (MAX_CID_PIECES - 1)] = len;
		}
		if (n < 255)
			w->info.n_cid = n + 1;
		w->info.cid_total += len;
		if (w->info.cid_len == 0 && len > 0) {
			w->info.cid_off = (__u32)((void *)(p + 2) - w->data);
			w->info.cid_len = len;
		}
		break;
	}
	case OPT_OVERLOAD:
		w->info.has_overload = 1;
		break;
	case OPT_SERVER_ID:
		w->info.has_server_id = 1;
		break;
	case OPT_REQUESTED_IP:
		w->info.has_requested_ip = 1;
		break;
	}
	w->off = off + 2 + len;
	return 0;
}

/* RFC 3074 hash exactly as Kea's QueryFilter::loadBalanceHash: seed with the length, bytes last to first. */
static __always_inline __u8 lb_hash(const __u8 *key, __u32 len)
{
	__u8 h = (__u8)len;

	for (__u32 i = 0; i < 256; i++) {
		if (i >= len)
			break;
		h = lb_table[(h ^ key[(len - 1 - i) & 0xff]) & 0xff];
	}
	return h;
}

/* Returns 1 when the client has no token left. Concurrent CPUs may race on one
 * bucket; the loss is a few extra packets let through, never a wrong drop, so
 * no atomics. */
static __always_inline int rate_exceeded(void *buckets, const void *key)
{
	__u64 burst = rate_burst ? rate_burst : 1;
	__u64 cap = burst * NSEC_PER_SEC;
	__u64 now = bpf_ktime_get_ns();
	__u64 elapsed, tokens;
	struct bucket *b;

	b = bpf_map_lookup_elem(buckets, key);
	if (!b) {
		struct bucket nb = { .tokens = cap - NSEC_PER_SEC, .last_ns = now };

		bpf_map_update_elem(buckets, key, &nb, BPF_ANY);
		return 0;
	}
	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	tokens = b->tokens;
	/* Compare before multiplying so that elapsed * rate cannot overflow. */
	if (elapsed >= cap / rate_limit)
		tokens = cap;
	else
		tokens += elapsed * rate_limit;
	if (tokens > cap)
		tokens = cap;
	b->last_ns = now;
	if (tokens < NSEC_PER_SEC) {
		b->tokens = tokens;
		return 1;
	}
	b->tokens = tokens - NSEC_PER_SEC;
	return 0;
}

static __always_inline int is_ha_type(__u8 t)
{
	/* Kea's v4_ha_types: only these are load balanced; the rest is always in scope. */
	return t == DHCPDISCOVER || t == DHCPREQUEST || t == DHCPDECLINE || t == DHCPRELEASE || t == DHCPINFORM;
}

/* State of the DHCPv6 message walk, shared with the bpf_loop callback. Offsets are from ctx->data. */
struct walk6 {
	void *data;     /* ctx->data */
	void *data_end; /* ctx->data_end */
	__u32 off;      /* next message header or option */
	__u32 end;      /* end of the message being walked */
	__u32 duid_off; /* first client-id option's data */
	__u32 duid_len; /* its length (0: none, or empty) */
	__u8 at_header; /* off is at a message header, not an option */
	__u8 in_relay;  /* the message being walked is a Relay-forw */
	__u8 depth;     /* Relay-forw levels entered */
	__u8 msg_type;  /* type of the client message, once reached (0: not reached) */
	__u8 n_cid;     /* client-id instances in the client message (saturates at 255) */
	__u8 done;      /* the client message's options were walked to their end */
	__u8 bad;       /* a message or Relay-forw header cut short, or a relay without Relay Message */
};

/*
 * One step of the DHCPv6 walk; returns 1 to stop. A step reads one message
 * header or one option. A Relay-forw (RFC 8415 section 9) is entered through
 * its Relay Message option, whose data is the relayed message, down to
 * MAX_RELAY_DEPTH levels: the client-id the policies key on is the client
 * message's, as Kea evaluates it for a relayed message. A truncated option
 * ends the options, as Kea's unpackOptions6 does; a relay whose options end
 * without a Relay Message is malformed, as Kea finds it.
 */
static long walk6_step(__u64 index, void *arg)
{
	struct walk6 *w = arg;
	void *data_end = w->data_end;
	__u32 off = w->off;
	__u32 len;
	__u8 *p;

	if (off >= MAX_PKT_OFF)
		return 1; /* further than the program walks: not done */
	barrier_var(off);
	off &= MAX_PKT_OFF - 1; /* a no-op, as in walk_step */
	p = w->data + off;

	if (w->at_header) {
		if (off + 4 > w->end || (void *)(p + 1) > data_end) {
			w->bad = 1;
			return 1;
		}
		if (p[0] != DH6_RELAY_FORW) {
			w->msg_type = p[0] ? p[0] : 255; /* type 0 is no message type we serve */
			w->in_relay = 0;
			w->off = off + 4;
			w->at_header = 0;
			return 0;
		}
		if (w->depth >= MAX_RELAY_DEPTH)
			return 1; /* nested deeper than the program descends: not done */
		if (off + DH6_RELAY_HDR_LEN > w->end) {
			w->bad = 1;
			return 1;
		}
		w->depth++;
		w->in_relay = 1;
		w->off = off + DH6_RELAY_HDR_LEN;
		w->at_header = 0;
		return 0;
	}

	if (off + 4 > w->end) {
		/* End of the options (or a truncated last one). */
		if (w->in_relay)
			w->bad = 1;
		else
			w->done = 1;
		return 1;
	}
	if ((void *)(p + 4) > data_end)
		return 1;
	len = ((__u32)p[2] << 8) | p[3];
	if (off + 4 + len > w->end) {
		if (w->in_relay)
			w->bad = 1;
		else
			w->done = 1;
		return 1;
	}
	if (p[0] == 0 && p[1] == OPT6_RELAY_MSG && w->in_relay) {
		/* Descend: the relayed message is this option's data. */
		w->end = off + 4 + len;
		w->off = off + 4;
		w->at_header = 1;
		return 0;
	}
	if (p[0] == 0 && p[1] == OPT6_CLIENTID && !w->in_relay) {
		if (w->n_cid == 0) {
			w->duid_off = off + 4;
			w->duid_len = len;
		}
		if (w->n_cid < 255)
			w->n_cid++;
	}
	w->off = off + 4 + len;
	return 0;
}

/* RFC 3074 hash over a DUID, as lb_hash; Kea 2.2 keys DHCPv6 load balancing on the whole client-id data. */
static __always_inline __u8 lb_hash6(const __u8 *key, __u32 len)
{
	__u8 h = (__u8)len;

	for (__u32 i = 0; i < DUID_KEY_LEN; i++) {
		if (i >= len)
			break;
		h = lb_table[(h ^ key[(len - 1 - i) & (DUID_KEY_LEN - 1)]) & 0xff];
	}
	return h;
}

static __always_inline int is_ha_type6(__u8 t)
{
	/* Kea's v6_ha_types: only these are load balanced; the rest is always in scope. */
	return t == DH6_SOLICIT || t == DH6_REQUEST || t == DH6_CONFIRM || t == DH6_RENEW || t == DH6_REBIND ||
	       t == DH6_RELEASE || t == DH6_DECLINE;
}

static __always_inline int is_request6(__u8 t)
{
	/* What a client sends a server (a Relay-forw was entered, never returned here). */
	return is_ha_type6(t) || t == DH6_INFORMATION_REQUEST;
}

/*
 * The DHCPv6 path: IPv6 (extension headers skipped), UDP to 547, then the
 * same policies as DHCPv4 in the same order, keyed by the client's DUID.
 * l3off is the IPv6 header's offset. A separate function so that its stack
 * frame is not added to the DHCPv4 path's buffers.
 */
static __noinline int handle_v6(struct xdp_md *ctx, struct counters *cnt, __u32 l3off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct walk6 w = {};
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	struct duid_key *key;
	__u32 zero = 0, queue, udp_len, *level;
	__u8 nh, *served, *hdr;
	void *cur;
	int irregular;
	int verdict;

	if (!cnt)
		return XDP_PASS;
	if (l3off > 64) { /* Ethernet and two tags at most: never taken */
		cnt->not_dhcp++;
		return XDP_PASS;
	}
	ip6 = data + l3off;
	if ((void *)(ip6 + 1) > data_end || ip6->version != 6) {
		cnt->not_dhcp++;
		return XDP_PASS;
	}
	nh = ip6->nexthdr;
	cur = ip6 + 1;

	/*
	 * Extension headers (RFC 8200 section 4): hop-by-hop, routing and
	 * destination options are skipped, never interpreted; a fragment
	 * header is skipped only when it is an atomic fragment (offset 0,
	 * M clear, RFC 6946). Anything the walk cannot get past goes to the
	 * stack, which judges it properly, and is counted.
	 */
#pragma unroll
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		__u32 len;

		if (nh != NEXTHDR_HOP_ && nh != NEXTHDR_ROUTING_ && nh != NEXTHDR_DEST_ && nh != NEXTHDR_FRAGMENT_)
			break;
		hdr = cur;
		if ((void *)(hdr + 8) > data_end) {
			cnt->ext_unparsed6++;
			return XDP_PASS;
		}
		if (nh == NEXTHDR_FRAGMENT_) {
			if (*(__u16 *)(hdr + 2) & bpf_htons(IP6_FRAG_MASK_)) {
				cnt->fragment6++;
				return XDP_PASS;
			}
			len = 8;
		} else {
			len = ((__u32)hdr[1] + 1) * 8;
		}
		nh = hdr[0];
		cur += len;
		if (cur > data_end) { /* the header claims more than the frame holds */
			cnt->ext_unparsed6++;
			return XDP_PASS;
		}
	}
	if (nh == NEXTHDR_HOP_ || nh == NEXTHDR_ROUTING_ || nh == NEXTHDR_DEST_ || nh == NEXTHDR_FRAGMENT_) {
		cnt->ext_unparsed6++;
		return XDP_PASS;
	}
	if (nh != IPPROTO_UDP) {
		cnt->not_dhcp++;
		return XDP_PASS;
	}
	udp = cur;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(DHCP6_SERVER_PORT)) {
		cnt->not_dhcp++;
		return XDP_PASS;
	}

	/* From here on the frame is addressed to the DHCPv6 server port. */
	udp_len = bpf_ntohs(udp->len);
	if (udp_len < sizeof(*udp) + 4 || (void *)udp + udp_len > data_end) {
		cnt->malformed6++;
		return XDP_DROP;
	}
	w.data = data;
	w.data_end = data_end;
	w.off = (__u32)((void *)(udp + 1) - data);
	w.end = (__u32)((void *)udp - data) + udp_len;
	w.at_header = 1;
	bpf_loop(MAX_OPT_STEPS, walk6_step, &w, 0);

	if (w.bad) {
		cnt->malformed6++;
		return XDP_DROP;
	}
	if (w.msg_type != 0 && !is_request6(w.msg_type)) {
		cnt->not_request6++;
		return XDP_PASS;
	}

	key = bpf_map_lookup_elem(&duid_scratch, &zero);
	if (!key)
		return XDP_PASS; /* cannot happen for a 1-entry array */
	__builtin_memset(key, 0, sizeof(*key));

	/* 1. Operator drop list, keyed by the first client-id of the client message. */
	if (w.duid_len > 0 && w.duid_len <= DUID_KEY_LEN) {
		/* A no-op that tells the verifier 1 <= n <= 128 (clang tests a copy otherwise). */
		__u32 n = ((w.duid_len - 1) & (DUID_KEY_LEN - 1)) + 1;

		if (bpf_xdp_load_bytes(ctx, w.duid_off, key->id, n) < 0) {
			cnt->malformed6++; /* the walk checked the bounds: unreachable */
			return XDP_DROP;
		}
		key->len = n;
		if (bpf_map_lookup_elem(&drop_duid, key)) {
			cnt->drop_duid++;
			return XDP_DROP;
		}
	}

	/*
	 * A message the walk could not read whole (steps or relay depth used
	 * up), or whose client-id is repeated or longer than a DUID may be, is
	 * judged by the slow path, as an irregular DHCPv4 request is.
	 */
	irregular = !w.done || w.msg_type == 0 || w.n_cid > 1 || w.duid_len > DUID_KEY_LEN;

	/* 2. Per-client token bucket: by DUID, or by source address without one. */
	if (rate_limit != 0) {
		if (key->len == 0) {
			key->pad = 1;
			__builtin_memcpy(key->id, &ip6->saddr, sizeof(ip6->saddr));
		}
		if (rate_exceeded(&rate_buckets6, key)) {
			cnt->rate_limited6++;
			return XDP_DROP;
		}
	}

	/* 3. HA load balancing, Kea 2.2 QueryFilter::inScope for DHCPv6: the DUID, none is out of scope. */
	if (ha6_enabled && irregular) {
		__u32 all = HA_ALL_SERVED;

		served = bpf_map_lookup_elem(&ha_served6, &all);
		if (!served || !*served) {
			cnt->irregular_out_of_scope6++;
			return XDP_DROP;
		}
	}
	if (ha6_enabled && is_ha_type6(w.msg_type)) {
		__u32 h;

		if (w.duid_len == 0) {
			cnt->ha_out_of_scope6++;
			return XDP_DROP;
		}
		/* An over-long DUID is irregular: it got here only if every scope is served. */
		if (key->len != 0) {
			h = lb_hash6(key->id, key->len);
			served = bpf_map_lookup_elem(&ha_served6, &h);
			if (!served || !*served) {
				cnt->ha_out_of_scope6++;
				return XDP_DROP;
			}
		}
	}

	/* 4. Overload shedding: Solicits first, then everything but Renew and Rebind. */
	queue = ctx->rx_queue_index;
	level = bpf_map_lookup_elem(&overload, &queue);
	if (level && *level >= 1) {
		if (irregular) {
			cnt->irregular_shed6++;
			return XDP_DROP;
		}
		if (w.msg_type == DH6_SOLICIT) {
			cnt->shed_solicit++;
			return XDP_DROP;
		}
		if (*level >= 2 && w.msg_type != DH6_RENEW && w.msg_type != DH6_REBIND) {
			cnt->shed_other6++;
			return XDP_DROP;
		}
	}

	/* 5. To the AF_XDP socket of this queue, as DHCPv4. */
	verdict = bpf_redirect_map(&xsks, queue, XDP_PASS);
	if (verdict == XDP_REDIRECT)
		cnt->redirected6++;
	else
		cnt->xsk_missing6++;
	return verdict;
}

/*
 * The DHCPv4 path: udp_off is the offset of a UDP header to port 67 that
 * parse_l2_l4 found. A separate function, as handle_v6, so that the two
 * paths' stack frames are never added up.
 */
static __noinline int handle_v4(struct xdp_md *ctx, struct counters *cnt, __u32 udp_off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct walk_ctx w = {};
	struct mac_key mkey = {};
	struct cid_key ckey = {};
	__u8 cid[256];
	struct udphdr *udp;
	struct bootp *bp;
	__u32 queue, udp_len, hlen, key_len, *level;
	int irregular;
	__u8 *served;
	int verdict = XDP_PASS;

	if (!cnt)
		goto out;
	if (udp_off > 128) { /* Ethernet, two tags and IPv4 with options at most: never taken */
		cnt->not_dhcp++;
		goto out;
	}
	udp = data + udp_off;
	if ((void *)(udp + 1) > data_end) {
		cnt->not_dhcp++;
		goto out;
	}

	/*
	 * From here on the frame is addressed to the DHCP server port. A runt
	 * or garbled BOOTP message is dropped here instead of being handed to
	 * user space, which would only spend a wakeup to discard it.
	 */
	udp_len = bpf_ntohs(udp->len);
	bp = (void *)(udp + 1);
	if ((void *)(bp + 1) > data_end || udp_len < sizeof(*udp) + sizeof(*bp) ||
	    (void *)udp + udp_len > data_end) {
		verdict = XDP_DROP;
		cnt->malformed++;
		goto out;
	}
	if (bp->op != BOOTREQUEST) {
		cnt->not_request++;
		goto out;
	}
	hlen = bp->hlen;
	if (hlen > CHADDR_LEN || bp->cookie != bpf_htonl(DHCP_MAGIC)) {
		verdict = XDP_DROP;
		cnt->malformed++;
		goto out;
	}

	w.opts = bp + 1;
	w.data = data;
	w.data_end = data_end;
	w.opts_len = udp_len - sizeof(*udp) - sizeof(*bp);
	bpf_loop(MAX_OPT_STEPS, walk_step, &w, 0);

	/* 1. Operator drop list (Kea's DROP class, precomputed by userspace). */
	mkey.len = hlen;
#pragma unroll
	for (int i = 0; i < CHADDR_LEN; i++)
		mkey.addr[i] = i < hlen ? bp->chaddr[i] : 0;
	if (hlen > 0 && bpf_map_lookup_elem(&drop_mac, &mkey)) {
		verdict = XDP_DROP;
		cnt->drop_mac++;
		goto out;
	}
	/*
	 * The client identifier as the slow path reads it: one instance as it
	 * is, a split one (RFC 3396) fused, so that splitting a listed
	 * identifier into pieces does not get it past the list. cid is zero
	 * past the identifier.
	 */
	key_len = 0;
	if (w.info.n_cid == 1 && w.info.cid_len > 0) {
		__builtin_memset(cid, 0, sizeof(cid));
		if (bpf_xdp_load_bytes(ctx, w.info.cid_off, cid, w.info.cid_len) < 0) {
			verdict = XDP_DROP; /* the walk checked the bounds, so this is unreachable */
			cnt->malformed++;
			goto out;
		}
		key_len = w.info.cid_len;
	} else if (w.info.n_cid > 1 && w.info.n_cid <= MAX_CID_PIECES && w.info.cid_total <= CLIENTID_KEY_LEN) {
		__u32 pos = 0;

		__builtin_memset(cid, 0, sizeof(cid));
#pragma unroll
		for (int i = 0; i < MAX_CID_PIECES; i++) {
			__u32 n = w.info.piece_len[i];

			if (i >= w.info.n_cid)
				break;
			if (n == 0)
				continue;
			if (n > CLIENTID_KEY_LEN || pos > CLIENTID_KEY_LEN)
				break; /* cid_total bounds both; the verifier wants it said */
			if (bpf_xdp_load_bytes(ctx, w.info.piece_off[i], cid + (pos & 63), n) < 0) {
				verdict = XDP_DROP; /* unreachable, as above */
				cnt->malformed++;
				goto out;
			}
			pos += n;
		}
		key_len = pos;
	}
	if (key_len > 0 && key_len <= CLIENTID_KEY_LEN) {
		ckey.len = key_len;
		__builtin_memcpy(ckey.id, cid, CLIENTID_KEY_LEN);
		if (bpf_map_lookup_elem(&drop_clientid, &ckey)) {
			verdict = XDP_DROP;
			cnt->drop_clientid++;
			goto out;
		}
	}

	/*
	 * A request the walk could not read whole, or whose options say two
	 * things at once, is judged by the slow path, which reads every
	 * option; here it must not slip past a filter because its message
	 * type or identifier was hidden. It counts as out of every HA scope
	 * (unless this server serves them all, when no scope filter applies)
	 * and as the first thing to shed.
	 */
	irregular = !w.info.done || w.info.n_msg_type > 1 || w.info.n_cid > 1 || w.info.has_overload;

	/*
	 * 2. Per-client token bucket: a broken client renewing many times a
	 * second. Keyed by chaddr, which every request has (option 61 is
	 * optional); clients with hlen 0 share one bucket.
	 */
	if (rate_limit != 0 && rate_exceeded(&rate_buckets, &mkey)) {
		verdict = XDP_DROP;
		cnt->rate_limited++;
		goto out;
	}

	/*
	 * 3. HA load balancing, Kea 2.2 QueryFilter::inScope: key is option 61
	 * if non-empty, else chaddr; neither means out of scope on both servers.
	 */
	if (ha_enabled && irregular) {
		__u32 all = HA_ALL_SERVED;

		served = bpf_map_lookup_elem(&ha_served, &all);
		if (!served || !*served) {
			verdict = XDP_DROP;
			cnt->irregular_out_of_scope++;
			goto out;
		}
	}
	if (ha_enabled && is_ha_type(w.info.msg_type)) {
		__u32 h;

		if (w.info.cid_len > 0)
			h = lb_hash(cid, w.info.cid_len);
		else if (hlen > 0)
			h = lb_hash(mkey.addr, hlen);
		else {
			verdict = XDP_DROP;
			cnt->ha_out_of_scope++;
			goto out;
		}
		served = bpf_map_lookup_elem(&ha_served, &h);
		if (!served || !*served) {
			verdict = XDP_DROP;
			cnt->ha_out_of_scope++;
			goto out;
		}
	}

	/*
	 * 4. Overload shedding, lowest value first: a DISCOVER is a client that
	 * has no lease yet and will retry; a renew/rebind (REQUEST with ciaddr
	 * and no server-id) keeps an existing client alive and is cheap.
	 */
	queue = ctx->rx_queue_index;
	level = bpf_map_lookup_elem(&overload, &queue);
	if (level && *level >= 1) {
		if (irregular) {
			verdict = XDP_DROP;
			cnt->irregular_shed++;
			goto out;
		}
		if (w.info.msg_type == DHCPDISCOVER) {
			verdict = XDP_DROP;
			cnt->shed_discover++;
			goto out;
		}
		if (*level >= 2 && !(w.info.msg_type == DHCPREQUEST && bp->ciaddr != 0 && !w.info.has_server_id)) {
			verdict = XDP_DROP;
			cnt->shed_other++;
			goto out;
		}
	}

	/*
	 * 5. To the AF_XDP socket of this queue. An empty slot makes the helper
	 * return XDP_PASS (its flags argument), so a server that is restarting
	 * or running in socket mode still gets the packet through the stack.
	 * A full socket ring is counted by the kernel (XDP_STATISTICS), not here.
	 */
	verdict = bpf_redirect_map(&xsks, queue, XDP_PASS);
	if (verdict == XDP_REDIRECT)
		cnt->redirected++;
	else
		cnt->xsk_missing++;

out:
	return verdict;
}

SEC("xdp")
int xdhcp_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct counters *cnt;
	struct udphdr *udp = 0;
	void *l3 = 0;
	__u32 zero = 0;
	enum parse_result pr;

	cnt = bpf_map_lookup_elem(&stats, &zero);
	if (!cnt)
		return XDP_PASS; /* cannot happen for a 1-entry array; the verifier wants the check */

	pr = parse_l2_l4(data, data_end, &udp, &l3);
	if (pr == PARSE_IPV6) {
		if (!dhcpv6_enabled) {
			cnt->not_dhcp++;
			return XDP_PASS;
		}
		return handle_v6(ctx, cnt, l3 ? (__u32)(l3 - data) : 0);
	}
	if (pr == PARSE_FRAGMENT) {
		cnt->fragment++;
		return XDP_PASS;
	}
	if (pr != PARSE_OK || !udp) {
		cnt->not_dhcp++;
		return XDP_PASS;
	}
	return handle_v4(ctx, cnt, (__u32)((void *)udp - data));
}
