/** One backend: its route, address, weight, activation, health, counters and connection pool (undici's for http://, ours for ajp://). */
import { Pool } from 'undici'
import type { Logger } from 'pino'
import { AJP_DEFAULT_PACKET_SIZE } from '@nodecat/protocol'
import { AjpPool } from './ajp-client.js'
import type { Activation, ResolvedOptions } from './options.js'
import { WorkerHealth, type HealthRules, type StateChange, type WorkerState } from './worker-states.js'
import { HeadTimes } from './hedge.js'

export type WorkerConfigResolved = ResolvedOptions['workers'][number]

/** the last failure a worker had (WorkerError, in errors.ts, is the class of registry errors) */
export interface LastError { code: string, at: number }

/** What /status shows per worker (no session ids, no secrets). */
export interface WorkerStatus {
  route: string
  address: string
  lbfactor: number
  activation: Activation
  state: WorkerState
  redirect: string | null
  domain: string | null
  source: 'static' | 'discovered' | 'static+discovered'
  inFlight: number
  requests: number
  errors: number
  /** requests that arrived carrying this worker's route and were served by it */
  sessionsRouted: number
  lastError: { code: string, at: string } | null
  connectionLimit: number
}

export interface PoolSettings {
  connectTimeout: number
  headersTimeout: number
  bodyTimeout: number
  keepAliveTimeout: number
  /** where an ajp:// worker's protocol errors are logged */
  logger?: Logger
}

export class Worker {
  readonly route: string
  readonly health: WorkerHealth
  /** its recent response-head times and stalls: when to hedge a request on it (hedge.ts) */
  readonly heads = new HeadTimes()
  url: string
  activation: Activation
  redirect: string | undefined
  domain: string | undefined
  connectionLimit: number
  /** static: from the configuration; memberId: the tribes member that announced it */
  isStatic: boolean
  memberId: string | null = null
  /** ajp:// workers: the AJP connection pool (null for http:// workers, which use `pool`) */
  ajp: AjpPool | null = null
  #http: Pool | null = null
  /** ajp:// only: the connector's secret and packet size */
  secret: string | undefined
  packetSize: number
  #lbfactor: number
  /** 1/lbfactor: what one request adds to lbValue */
  #mult: number
  /** balancing counter (requests method), halved each maintain interval */
  #lbValue = 0
  #inFlight = 0
  #requests = 0
  #errors = 0
  #sessionsRouted = 0
  #lastError: LastError | null = null
  readonly #pool: PoolSettings

  constructor (config: WorkerConfigResolved, isStatic: boolean, pool: PoolSettings, rules: HealthRules, onChange: (w: Worker, ...a: Parameters<StateChange>) => void) {
    this.route = config.route
    this.url = config.url
    this.#lbfactor = config.lbfactor
    this.#mult = 1 / config.lbfactor
    this.activation = config.activation
    this.redirect = config.redirect
    this.domain = config.domain
    this.connectionLimit = config.connectionLimit
    this.secret = config.secret
    this.packetSize = config.packetSize ?? AJP_DEFAULT_PACKET_SIZE
    this.isStatic = isStatic
    this.#pool = pool
    this.#newPool()
    this.health = new WorkerHealth(rules, (from, to, reason) => onChange(this, from, to, reason))
  }

  /** the undici pool of an http:// worker (an ajp:// worker has `ajp` instead) */
  get pool (): Pool {
    if (this.#http === null) throw new TypeError(`worker ${this.route} speaks AJP: it has no HTTP pool`)
    return this.#http
  }

  /** is this an ajp:// worker? */
  get isAjp (): boolean { return this.ajp !== null }

  /** a new pool for the current settings; returns the one it replaces (to drain), if any */
  #newPool (): { close: () => Promise<void> } | null {
    const old = this.ajp ?? this.#http
    this.ajp = null
    this.#http = null
    if (this.url.startsWith('ajp:')) {
      const u = new URL(this.url)
      this.ajp = new AjpPool({
        route: this.route,
        host: u.hostname,
        port: Number(u.port),
        packetSize: this.packetSize,
        connections: this.connectionLimit,
        connectTimeout: this.#pool.connectTimeout,
        headersTimeout: this.#pool.headersTimeout,
        bodyTimeout: this.#pool.bodyTimeout,
        idleTimeout: this.#pool.keepAliveTimeout,
        logger: this.#pool.logger
      })
      return old
    }
    this.#http = new Pool(this.url, {
      connections: this.connectionLimit === 0 ? null : this.connectionLimit,
      pipelining: 1,
      keepAliveTimeout: this.#pool.keepAliveTimeout,
      keepAliveMaxTimeout: this.#pool.keepAliveTimeout,
      headersTimeout: this.#pool.headersTimeout,
      bodyTimeout: this.#pool.bodyTimeout,
      connect: { timeout: this.#pool.connectTimeout }
    })
    return old
  }

  /** a new in-flight limit (a reload): a new pool with that many connections; the old one drains */
  setConnectionLimit (limit: number): void {
    if (limit === this.connectionLimit) return
    this.connectionLimit = limit
    void this.#newPool()?.close().catch(() => {})
  }

  /** point the worker at a new address (a member came back elsewhere); the old pool drains */
  setUrl (url: string): void {
    if (url === this.url) return
    this.url = url
    void this.#newPool()?.close().catch(() => {})
  }

  /** new AJP settings (a reload); the old pool drains */
  setAjpSettings (secret: string | undefined, packetSize = AJP_DEFAULT_PACKET_SIZE): void {
    if (secret === this.secret && packetSize === this.packetSize) return
    this.secret = secret
    this.packetSize = packetSize
    if (this.ajp !== null) void this.#newPool()?.close().catch(() => {})
  }

  setLbfactor (lbfactor: number): void {
    this.#lbfactor = lbfactor
    this.#mult = 1 / lbfactor
  }

  get lbfactor (): number { return this.#lbfactor }
  /** 1/lbfactor: what one request adds to lbValue */
  get mult (): number { return this.#mult }
  /** balancing counter (requests method): weighted requests chosen, halved each maintain interval */
  get lbValue (): number { return this.#lbValue }
  /** requests (and WebSocket tunnels) on this worker now */
  get inFlight (): number { return this.#inFlight }
  get requests (): number { return this.#requests }
  get errors (): number { return this.#errors }
  /** requests that arrived carrying this worker's route and were served by it */
  get sessionsRouted (): number { return this.#sessionsRouted }
  get lastError (): LastError | null { return this.#lastError }

  atLimit (): boolean {
    return this.connectionLimit !== 0 && this.#inFlight >= this.connectionLimit
  }

  /** the chooser picked this worker for a request: its balancing counter grows by one weighted request */
  chosen (): void {
    this.#lbValue += this.#mult
  }

  /** halve the balancing counter so old load fades (mod_jk's maintenance decay) */
  decayLbValue (): void {
    this.#lbValue /= 2
  }

  /** raise the balancing counter to at least `value` (a newcomer or a worker back from ERROR catches up) */
  raiseLbValue (value: number): void {
    if (value > this.#lbValue) this.#lbValue = value
  }

  /** a try of a request starts on this worker; `sticky`: the request carried this worker's route */
  startRequest (sticky: boolean): void {
    this.#inFlight++
    this.#requests++
    if (sticky) this.#sessionsRouted++
  }

  /** a try started with startRequest is over, whatever its outcome */
  endRequest (): void {
    this.#inFlight--
  }

  recordError (code: string): void {
    this.#errors++
    this.#lastError = { code, at: Date.now() }
  }

  status (now = Date.now()): WorkerStatus {
    return {
      route: this.route,
      address: this.url,
      lbfactor: this.lbfactor,
      activation: this.activation,
      state: this.health.state(now),
      redirect: this.redirect ?? null,
      domain: this.domain ?? null,
      source: this.isStatic ? (this.memberId !== null ? 'static+discovered' : 'static') : 'discovered',
      inFlight: this.#inFlight,
      requests: this.#requests,
      errors: this.#errors,
      sessionsRouted: this.#sessionsRouted,
      lastError: this.#lastError === null ? null : { code: this.#lastError.code, at: new Date(this.#lastError.at).toISOString() },
      connectionLimit: this.connectionLimit
    }
  }

  async close (): Promise<void> {
    await (this.ajp ?? this.#http)?.close().catch(() => {})
  }

  /** close at once, failing requests still running (shutdown after the grace period) */
  async destroy (): Promise<void> {
    await (this.ajp ?? this.#http)?.destroy().catch(() => {})
  }
}
