package bench

// ScenarioHelp explains the suite's scenarios, for `xdhcp-bench suite -h`
// and the README. Every scenario runs xdhcpd and, when installed, Kea 2.2
// on the same configuration, machine and generator, one after the other.
const ScenarioHelp = `Scenarios (each server on the same configuration, machine and generator):
  S1     new leases/s at < 1% loss: a knee search (doubling, then bisection
         to 5%) with xdhcp-bench's AF_XDP generator, then perfdhcp at each
         server's knee
  S2     cached renewals/s: bind clients, then renew them in a closed loop
         as fast as the server answers (xdhcp answers from its fast path)
  S3     1,000 legitimate clients alone and beside a DROP-class flood at the
         generator's full rate: their p99 latency, and how much of the flood
         xdhcp's XDP program dropped
  S4     overload at 10x the S1 knee, half new and half renewing clients:
         renewal goodput and the RSS over time
  S5     S1 for hot-standby HA pairs, lease updates replicated before the
         ACK; both servers must then hold every acknowledged lease
  S6/S7  start-up time on an empty and on a 1M-lease file (S6), and the RSS
         per lease (S7), from the same runs
  S8     S1 with the leases in a database: PostgreSQL, then MySQL (MariaDB),
         each server on a database freshly made by kea-admin db-init
  S8r    lease reclamation on a database: 100,000 leases expired a minute
         ago in a fresh database (PostgreSQL, then MySQL), the server started
         on it with the reclamation timer at 1 s and no limit per cycle:
         leases/s from the server's readiness until every lease is
         expired-reclaimed in the database (or 6 minutes pass)
  S1v6   S1 for DHCPv6: new clients/s at < 1% loss, each a Solicit,
         Advertise, Request, Reply for one address and one /56 of a /40
         (xdhcp durable: the Reply waits for the lease on disk). The same
         knee search with xdhcp-bench's AF_XDP DHCPv6 clients (runs capped
         at 60,000 clients: the /40 holds 65,536 /56s), then perfdhcp -6 at
         each server's knee; kea-dhcp6 beside xdhcpd (served over XDP)
  S2v6   cached DHCPv6 Renews/s: bind clients (address and /56), then renew
         both in a closed loop as fast as the server answers (xdhcp answers
         from its XDP fast path's lease cache)
The report (results.md, results.json, SVG plots) gives each figure as
xdhcp / Kea ratios; the suite fails on correctness only, never on speed.`
