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
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { checkHostHeader, listenerHostNames } from '@nodecat/protocol'

export { hostName } from '@nodecat/protocol'

export const PAGE_PREFIX = '/_nodecat/'

export const PAGE_REFUSALS = {
  /** Host names another server (DNS rebinding) */
  WAS_ERR_BAD_HOST: { status: 421, error: 'Misdirected Request', message: 'the Host header does not name this node (add the name with http.allowedHosts / --allowed-hosts)' },
  /** no Host, two Host headers, or one that does not parse */
  WAS_ERR_MISSING_HOST: { status: 400, error: 'Bad Request', message: 'exactly one valid Host header is required' }
} as const

export type PageRefusal = keyof typeof PAGE_REFUSALS

/** The Host names a node listening on `address` (and advertising `advertisedUrl`) answers to. */
export function nodeHostNames (address: string, advertisedUrl: string | null, configured: readonly string[]): Set<string> {
  return listenerHostNames(address, configured, advertisedUrl)
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
    const refusal = checkHostHeader(rawHeaders, host, this.#names)
    return refusal === null ? null : refusal === 'missing' ? 'WAS_ERR_MISSING_HOST' : 'WAS_ERR_BAD_HOST'
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
