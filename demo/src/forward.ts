/**
 * A byte pipe from one listening socket to another address, used by `--multicast` to reach the
 * processes inside the demo's network namespaces from 127.0.0.1 without touching the host's
 * network: the launcher listens on 127.0.0.1:<port> and connects to a Unix socket in a temporary
 * directory (the file system is shared by every namespace); a forwarder running inside the
 * balancer's namespace listens on that Unix socket and connects to the address in there.
 */
import net from 'node:net'

export type Endpoint = { host: string, port: number } | { path: string }

export function describe (e: Endpoint): string {
  return 'path' in e ? e.path : `${e.host}:${e.port}`
}

/** Parse "host:port" or a path (anything with a '/') into an endpoint. */
export function parseEndpoint (text: string): Endpoint {
  if (text.includes('/')) return { path: text }
  const i = text.lastIndexOf(':')
  const port = Number(text.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not host:port or a socket path: ${JSON.stringify(text)}`)
  return { host: text.slice(0, i), port }
}

/** Listen on `from`; pipe every connection both ways to a new connection to `to`. */
export function forward (from: Endpoint, to: Endpoint): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(to)
    // why: either side ending or failing ends the pair, so no half-open socket is left behind
    const end = (): void => { client.destroy(); upstream.destroy() }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(from, () => { server.off('error', reject); resolve(server) })
  })
}
