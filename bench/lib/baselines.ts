/**
 * The physical baselines nodecat's replication is compared with, as reusable measurements:
 * raw TCP throughput between two Node processes, msgpackr encode/decode of session deltas, and
 * TCP ping-pong round trips. Each one starts its own child processes and stops them.
 */
import { startWorker, type Child } from './children.js'

/** Where the two ends run: both on the host's 127.0.0.1 by default, or behind a wrapper command (a netns). */
export interface Placement {
  /** address the listening end binds and the other end connects to */
  address: string
  /** command prefix for the listening end, e.g. ['ip','netns','exec','nb-a'] */
  serverWrap?: string[]
  clientWrap?: string[]
  /** called with each started child (cgroup placement) */
  onStart?: (child: Child, role: 'server' | 'client') => void
}

const host: Placement = { address: '127.0.0.1' }

export interface TcpResult {
  size: number
  messages: number
  seconds: number
  messagesPerSecond: number
  /** payload MB/s (10^6 bytes), frame headers excluded */
  mbPerSecond: number
  /** CPU µs per message, both ends together (NaN when a worker did not report it) */
  cpuUsPerMessage: number
}

/** One direction, one connection, `size`-byte messages, until `count` messages or `ms` elapsed. */
export async function measureTcp (size: number, opts: { count: number, ms: number, placement?: Placement }): Promise<TcpResult> {
  const p = opts.placement ?? host
  const sink = startWorker('tcp-sink', 'tcp-sink.js', [p.address], { wrap: p.serverWrap })
  try {
    p.onStart?.(sink, 'server')
    const { port } = await sink.waitFor((l) => l.event === 'listening')
    const source = startWorker('tcp-source', 'tcp-source.js', [p.address, String(port), String(size), String(opts.count), String(opts.ms)], { wrap: p.clientWrap })
    p.onStart?.(source, 'client')
    const sentLine = source.waitFor((l) => l.event === 'sent', opts.ms + 20_000)
    const done = await sink.waitFor((l) => l.event === 'done', opts.ms + 20_000)
    const sent = await sentLine.catch(() => ({ cpuSeconds: NaN }))
    await source.exited
    const messages = Number(done.messages)
    const seconds = Number(done.seconds)
    const cpuUsPerMessage = (Number(done.cpuSeconds ?? NaN) + Number(sent.cpuSeconds ?? NaN)) * 1e6 / messages
    return { size, messages, seconds, messagesPerSecond: messages / seconds, mbPerSecond: (messages * size) / seconds / 1e6, cpuUsPerMessage }
  } finally {
    await sink.stop()
  }
}

export interface CodecResult {
  size: number
  encodedBytes: number
  encodeOps: number
  decodeOps: number
  roundTripOps: number
  /** encoded MB/s of the encode+decode round trip */
  roundTripMbPerSecond: number
}

/** msgpackr encode+decode of deltas of `size` bytes; `shape` as in deltas.ts (default tree) */
export async function measureCodec (size: number, opts: { ms: number, wrap?: string[], onStart?: (c: Child) => void, shape?: 'tree' | 'wire' }): Promise<CodecResult> {
  const w = startWorker('codec', 'codec.js', [String(size), String(opts.ms), opts.shape ?? 'tree'], { wrap: opts.wrap })
  opts.onStart?.(w)
  const d = await w.waitFor((l) => l.event === 'done', opts.ms + 20_000)
  await w.exited
  return {
    size,
    encodedBytes: Number(d.encodedBytes),
    encodeOps: Number(d.encodeOps),
    decodeOps: Number(d.decodeOps),
    roundTripOps: Number(d.roundTripOps),
    roundTripMbPerSecond: Number(d.roundTripOps) * Number(d.encodedBytes) / 1e6
  }
}

export interface PingPongResult {
  samples: number
  p50us: number
  p99us: number
  p999us: number
  maxUs: number
  roundTripsPerSecond: number
}

export async function measurePingPong (opts: { samples: number, warmup: number, ms: number, placement?: Placement }): Promise<PingPongResult> {
  const p = opts.placement ?? host
  const echo = startWorker('echo', 'echo.js', [p.address], { wrap: p.serverWrap })
  try {
    p.onStart?.(echo, 'server')
    const { port } = await echo.waitFor((l) => l.event === 'listening')
    const pinger = startWorker('pinger', 'pinger.js', [p.address, String(port), String(opts.samples), String(opts.warmup), String(opts.ms)], { wrap: p.clientWrap })
    p.onStart?.(pinger, 'client')
    const d = await pinger.waitFor((l) => l.event === 'done', opts.ms + 20_000)
    await pinger.exited
    return {
      samples: Number(d.samples),
      p50us: Number(d.p50us),
      p99us: Number(d.p99us),
      p999us: Number(d.p999us),
      maxUs: Number(d.maxUs),
      roundTripsPerSecond: Number(d.roundTripsPerSecond)
    }
  } finally {
    await echo.stop()
  }
}
