/**
 * Free TCP ports on 127.0.0.1, for tests and benchmarks that must know a port before starting a
 * server. Chosen below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
 * default): a port taken from that range (listen on port 0) can be handed out again a moment
 * later as the local port of some outgoing connection, and a node restarted on its old port then
 * fails with EADDRINUSE (seen in CI: 40 idle sockets opened while a node restarted). Ports below
 * the range are only ever taken by a listen.
 */
import net from 'node:net'
import { readFileSync } from 'node:fs'

const LOWEST = 10_000

/** [first, last] port of the range to choose from (below the ephemeral range), or null when there is no room */
function pool (): [number, number] | null {
  let ephemeralLow = 32_768
  try {
    const [lo] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(lo) && lo! > 1024) ephemeralLow = lo!
  } catch {}
  return ephemeralLow - 1 - LOWEST >= 1000 ? [LOWEST, ephemeralLow - 1] : null
}

async function listenOn (port: number, host: string): Promise<net.Server | null> {
  const srv = net.createServer()
  return await new Promise((resolve) => {
    srv.once('error', () => resolve(null))
    srv.listen(port, host, () => resolve(srv))
  })
}

const close = async (srv: net.Server): Promise<void> => { await new Promise((resolve) => srv.close(resolve)) }

/** One free port (the listener is closed again before this resolves). */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host)
  return port!
}

/** n distinct free ports (held open together while choosing, so they differ). */
export async function freePorts (n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = []
  const range = pool()
  try {
    for (let i = 0; i < n; i++) {
      let srv: net.Server | null = null
      for (let attempt = 0; attempt < 200 && srv === null && range !== null; attempt++) {
        srv = await listenOn(range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1)), host)
      }
      srv ??= await listenOn(0, host) // no room below the ephemeral range: let the kernel choose
      if (srv === null) throw new Error(`no free port on ${host}`)
      servers.push(srv)
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port)
  } finally {
    await Promise.all(servers.map(close))
  }
}

/**
 * The first of `n` consecutive ports free on `host` right now (for `nodecat-was --workers n`,
 * whose worker i listens on port + i), below the ephemeral range, tried from a random start at
 * most 200 times. Like freePorts, nothing holds them afterwards.
 */
export async function freePortRange (n: number, host = '127.0.0.1'): Promise<number> {
  const [lo, hi] = pool() ?? [20_000, 59_000]
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = lo + Math.floor(Math.random() * (hi - lo - n))
    const held: net.Server[] = []
    for (let i = 0; i < n; i++) {
      const srv = await listenOn(base + i, host)
      if (srv === null) break
      held.push(srv)
    }
    await Promise.all(held.map(close))
    if (held.length === n) return base
  }
  throw new Error(`no ${n} consecutive free ports found on ${host}`)
}
