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
