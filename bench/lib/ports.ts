/** Distinct free TCP ports on 127.0.0.1 (held open together while choosing, so they differ). */
import net from 'node:net'

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
