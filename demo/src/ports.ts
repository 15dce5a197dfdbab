/** Prefer the well-known demo ports (8080, 8081, ..., 4001, ...), take the next free one when taken. */
import net from 'node:net'

function isFree (port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/** The first free port at or after `preferred`, skipping ports already handed out. */
export async function pickPort (preferred: number, taken: Set<number>, host = '127.0.0.1'): Promise<number> {
  for (let p = preferred; p < Math.min(preferred + 500, 65536); p++) {
    if (taken.has(p)) continue
    if (await isFree(p, host)) { taken.add(p); return p }
  }
  throw new Error(`no free port near ${preferred} on ${host}`)
}
