/** Free TCP ports on 127.0.0.1, for tests and benchmarks that must know a port before starting a server. */
import net from 'node:net'

/** One free port (the listener is closed again before this resolves). */
export async function freePort (host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host)
  return port!
}

/** n distinct free ports (held open together while choosing, so they differ). */
export async function freePorts (n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = []
  try {
    for (let i = 0; i < n; i++) {
      const srv = net.createServer()
      servers.push(srv)
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(0, host, resolve) })
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port)
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  }
}

async function canListen (port: number, host: string): Promise<boolean> {
  const srv = net.createServer()
  const ok = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => resolve(true))
  })
  if (ok) await new Promise((resolve) => srv.close(resolve))
  return ok
}

/**
 * The first of `n` consecutive ports free on `host` right now (for `nodecat-was --workers n`,
 * whose worker i listens on port + i): tried from a random start between 20000 and 59000, at most
 * 200 times. Like freePorts, nothing holds them afterwards.
 */
export async function freePortRange (n: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 39_000)
    let all = true
    for (let i = 0; i < n && all; i++) all = await canListen(base + i, host)
    if (all) return base
  }
  throw new Error(`no ${n} consecutive free ports found on ${host}`)
}
