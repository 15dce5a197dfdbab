/**
 * The node's own pages (every route under /_nodecat/) answer only to Host names that are this
 * node's own: a web page whose name an attacker made resolve to the node's address (DNS
 * rebinding) reaches it with `Host: evil.example` and must not read the status (members' LAN
 * addresses, routes, counters). Allowed: the HTTP listen address; the advertised URL's host;
 * `localhost` when listening on loopback, the machine's host name otherwise (a name no attacker
 * controls); every interface address, `localhost` and the host name when listening on every
 * interface; plus `http.allowedHosts`. The port is not compared:
 * a port forward changes it, and a browser sends the name it connected to, so the name is what
 * rebinding forges. The balancer's health checks and the tests ask by the node's URL, which is
 * one of these names. No /_nodecat/ route changes state, so there is no CSRF rule here (a future
 * one needs the balancer admin's: JSON or a custom header, and a same-origin Origin).
 * The app's own routes are not touched: its Host is the app's business (behind the balancer it
 * is the public name).
 */
import os from 'node:os'
import { isIP } from 'node:net'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'

export const PAGE_PREFIX = '/_nodecat/'

export const PAGE_REFUSALS = {
  /** Host names another server (DNS rebinding) */
  WAS_ERR_BAD_HOST: { status: 421, error: 'Misdirected Request', message: 'the Host header does not name this node (add the name with http.allowedHosts / --allowed-hosts)' },
  /** no Host, two Host headers, or one that does not parse */
  WAS_ERR_MISSING_HOST: { status: 400, error: 'Bad Request', message: 'exactly one valid Host header is required' }
} as const

export type PageRefusal = keyof typeof PAGE_REFUSALS

/** "Name:port", "[v6]:port", "name" → the name, lower case, without brackets or a final dot; null if malformed. */
export function hostName (header: string): string | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(header.trim())
  if (m === null) return null
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? m[1].toLowerCase() : null
  const name = m[2]!.toLowerCase().replace(/\.$/, '')
  return name === '' ? null : name
}

function isLoopback (address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\./.test(address)
}

/** The Host names a node listening on `address` (and advertising `advertisedUrl`) answers to. */
export function nodeHostNames (address: string, advertisedUrl: string | null, configured: readonly string[]): Set<string> {
  const names = new Set<string>()
  const a = address.toLowerCase().replace(/^\[|\]$/g, '')
  if (a === '0.0.0.0' || a === '::') {
    for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) names.add(i.address.toLowerCase())
    names.add('localhost')
    names.add(os.hostname().toLowerCase())
  } else {
    names.add(a)
    if (isLoopback(a)) names.add('localhost')
    else names.add(os.hostname().toLowerCase())
    if (a === 'localhost') { names.add('127.0.0.1'); names.add('::1') }
  }
  if (advertisedUrl !== null) {
    try {
      const advertised = hostName(new URL(advertisedUrl).host)
      if (advertised !== null) names.add(advertised)
    } catch {}
  }
  for (const c of configured) { const n = hostName(c); if (n !== null) names.add(n) }
  return names
}

export class PageGuard {
  readonly #configured: readonly string[]
  #names: Set<string>
  readonly #refused: Partial<Record<PageRefusal, number>> = {}

  /** `address`: the configured listen address (the first request may come before listening() is told) */
  constructor (address: string, configured: readonly string[]) {
    this.#configured = configured
    this.#names = nodeHostNames(address, null, configured)
  }

  /** once the node listens: add the address it is bound to (a listen name resolves to one) and the URL it advertises */
  listening (address: string, advertisedUrl: string): void {
    for (const n of nodeHostNames(address, advertisedUrl, this.#configured)) this.#names.add(n)
  }

  /** refusals so far, by code */
  refused (): Partial<Record<PageRefusal, number>> {
    return { ...this.#refused }
  }

  /** null when the request may be answered, else why not */
  check (rawHeaders: readonly string[], host: string | undefined): PageRefusal | null {
    let count = 0
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') count++
    const name = count === 1 && host !== undefined ? hostName(host) : null
    if (name === null) return 'WAS_ERR_MISSING_HOST'
    return this.#names.has(name) ? null : 'WAS_ERR_BAD_HOST'
  }

  /** a root onRequest hook: guards every route under /_nodecat/, whatever spelling reached it */
  readonly hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const route = request.routeOptions.url
    if (route === undefined || !route.startsWith(PAGE_PREFIX)) { done(); return }
    const code = this.check(request.raw.rawHeaders, request.headers.host)
    if (code === null) { done(); return }
    this.#refused[code] = (this.#refused[code] ?? 0) + 1
    request.log.warn({ event: 'page-refused', code, host: request.headers.host ?? null, path: route, remote: request.ip }, `refused ${route}: ${code}`)
    const r = PAGE_REFUSALS[code]
    // why close: nothing more from a client that misnamed us is worth reading on this connection
    void reply.code(r.status).header('connection', 'close').header('cache-control', 'no-store')
      .send({ statusCode: r.status, code, error: r.error, message: r.message })
  }
}
