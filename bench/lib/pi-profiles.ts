/**
 * "Pi-class" emulation profiles: a TBF-shaped link rate per node and a CFS CPU quota per node
 * process, calibrated against published single-thread figures. This is an EMULATION: it reproduces
 * throughput and saturation, not a Pi's per-request latency (an unthrottled process runs at full
 * x86 speed, then stalls for period − quota).
 *
 * How the figures were chosen (measured on the 2-core build machine these benchmarks were written on):
 * - Link: `tc qdisc … tbf rate R burst 64kb latency 20ms` on both ends of a veth pair. iperf3 measured
 *   95.7 Mbit/s at 100mbit, 286.5 at 300mbit (Pi 3B+: published 224–315) and 951–954 at 1gbit (Pi 4/5
 *   GbE: published 941–949); TBF adds no latency, and the kernel has no netem, so no LAN delay or loss.
 * - CPU: a cgroup v1 CFS quota with a 10 ms period (shorter periods keep the stalls small; a quota
 *   under 1000 µs is refused). sysbench in a 35 % quota ran at 0.347 of unlimited.
 * - Fractions: single-thread sysbench, 4,114 events/s on this machine's core against published
 *   Pi figures: Pi 3B+ 687 (0.17), Pi 4B 1,478 (0.36; another source 812), Pi 5 2,737 (0.67; another
 *   1,847). C/C++ integer benchmarks from different builds: treat them as ±50 %.
 * - Heartbeats: at a 10 ms period the worst stall (6.5 ms) is far below the 500 ms heartbeat and the
 *   3000 ms drop time, so membership timing is unaffected.
 */
export interface PiProfile {
  name: string
  /** tc tbf rate of each node's link */
  linkRate: string
  /** fraction of one core of this machine a node process may use */
  cpuFraction: number
  /** what it models, for the report */
  models: string
}

export const PI_PROFILES: Record<string, PiProfile> = {
  pi3: { name: 'pi3', linkRate: '300mbit', cpuFraction: 0.16, models: 'Raspberry Pi 3B+: GbE behind USB 2.0 (~300 Mbit/s), ~0.16 of this core (sysbench 687 vs 4114 ev/s)' },
  pi4: { name: 'pi4', linkRate: '1gbit', cpuFraction: 0.35, models: 'Raspberry Pi 4B: GbE (~940 Mbit/s), ~0.35 of this core (plausible range 0.20–0.50)' },
  pi5: { name: 'pi5', linkRate: '1gbit', cpuFraction: 0.62, models: 'Raspberry Pi 5: GbE (~940 Mbit/s), ~0.62 of this core (range 0.35–0.70)' }
}

/** CFS period: 10 ms keeps the stalls short (≤ 10 ms) next to 500 ms heartbeats. */
export const CFS_PERIOD_US = 10_000

export const EMULATION_CAVEAT = 'EMULATION, not a Raspberry Pi: each node runs in its own network namespace behind a TBF-shaped veth and in a CFS CPU-quota cgroup. Throughput and saturation figures are meaningful; tail latency is NOT (a throttled process runs at full x86 speed, then stalls for up to period − quota), and there is no real LAN delay (netem is not available).'

export function piProfile (name: string): PiProfile {
  const p = PI_PROFILES[name]
  if (!p) throw new Error(`unknown --profile ${JSON.stringify(name)} (known: ${Object.keys(PI_PROFILES).join(', ')})`)
  return p
}
