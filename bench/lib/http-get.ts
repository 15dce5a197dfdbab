/** One plain HTTP GET (no keep-alive) with custom headers, for readiness and stickiness checks. */
import http from 'node:http'
import net from 'node:net'
import { sleep } from '@nodecat/testkit'

export interface SimpleResponse { status: number, headers: http.IncomingHttpHeaders, body: string }

export function httpGet (url: string, headers: Record<string, string> = {}, timeoutMs = 3000): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

/** Resolve once something accepts TCP connections on host:port, or reject after timeoutMs. */
export async function waitForPort (host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host)
      // why: a SYN that gets no answer (full backlog) would otherwise wait for the kernel's retries
      s.setTimeout(1000, () => { s.destroy(); resolve(false) })
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`)
    await sleep(100)
  }
}

/** waitForPort, but give up at once when the process that should listen has exited. */
export async function waitForListener (exited: Promise<{ code: number | null, signal: string | null }>, host: string, port: number, timeoutMs = 10_000): Promise<void> {
  let settled = false
  await Promise.race([
    waitForPort(host, port, timeoutMs).finally(() => { settled = true }),
    exited.then(({ code, signal }) => { if (!settled) throw new Error(`exited (code ${code}, signal ${signal}) before listening on ${host}:${port}`) })
  ])
}
