/**
 * One request's view of its session (`RequestSession` + the `SessionApi` the app sees).
 *
 * Change tracking: values read with get() are decoded copies of the stored bytes, kept for the
 * request; at end() every value that was read is encoded again and compared with the bytes it was
 * read from. So a change made inside a value (a push into a cart array, a field of a nested
 * object, a Map/Set entry) is replicated without the app calling set() again.
 * Why snapshot-and-compare rather than Proxies: it sees every kind of change (Map, Set, Date,
 * Buffer, nested arrays, values passed to other code) without Proxy identity or `this` pitfalls,
 * concurrent requests on one node never see each other's half-done changes, and a request whose
 * changes are refused (size limit) leaves the stored session untouched. Its cost is one extra
 * encode per value read, and one decode per value read (values are copies, so changing an object
 * after end() changes nothing stored).
 * Writes are kept in the request too and only the last change per name becomes the delta.
 * A primitive (number, string, boolean, null, bigint) cannot change in place: the bytes set()
 * encoded are the delta's, and one that was only read is not encoded again.
 * Why classes and not an object of closures: the view is made for every request, and an object
 * literal with accessors and closures costs a hidden class per request (and keeps the request
 * alive through scavenges); a class's methods are shared.
 */
import { newSessionId, parseSessionId } from '@nodecat/protocol'
import type { CookieAction, RequestSession, SessionApi } from './types.js'
import type { DeltaAction, SessionRecord } from './record.js'
import { decodeValue, encodeValue, sameBytes } from './codec.js'
import { InvalidAttributeNameError, InvalidSessionArgumentError, RequestEndedError, TooManyAttributesError } from './errors.js'

/**
 * Bounds on one session that every node enforces alike. why maxAttributes: a peer refuses a
 * replication message of more than 10 000 entries (manager/validate.ts), so a session with more
 * attributes than that would live on this node only and be lost at failover; many tiny
 * attributes fit maxSessionBytes easily, so the byte limit alone does not prevent it.
 */
export const SESSION_LIMITS: Readonly<{ maxAttributes: number }> = Object.freeze({
  maxAttributes: 1000
})

/** What the manager gives a request. */
export interface RequestHost {
  readonly route: string
  readonly defaultMaxInactiveInterval: number
  record (base: string): SessionRecord | undefined
  /** throws WAS_ERR_TOO_MANY_SESSIONS when one more session would exceed maxActiveSessions */
  checkCanCreate (): void
  /** counts a value refused as not serializable */
  rejectedNotSerializable (): void
  /** the cookie action at once when nothing is waited for (async send mode), else a promise; throws a limit error */
  commit (outcome: RequestOutcome): CookieAction | Promise<CookieAction>
}

/** What a request did, handed to the manager at end(). */
export interface RequestOutcome {
  /** base of the live session the request was opened with */
  openedBase: string | null
  /** the opened session was invalidated */
  invalidated: boolean
  /** the session alive at the end (the opened one, a regenerated one, or a new one) */
  session: { base: string, isNew: boolean, regeneratedFrom: string | null } | null
  actions: DeltaAction[]
  replicate: boolean
  /** the id the client sent for the opened session, as sent */
  clientId: string | null
  /** replication sends started during the request (binder rename), awaited in sync mode */
  pending: Array<Promise<unknown>>
}

/** one attribute as this request sees it */
interface Local {
  value: unknown
  present: boolean
  /** written by this request (set or delete), not just read */
  explicit: boolean
  /** the stored bytes it was read from, if any */
  original: Uint8Array | undefined
  /** the bytes of a primitive value (final: a primitive cannot change in place) */
  bytes: Uint8Array | undefined
}

function checkName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new InvalidAttributeNameError(name)
}

/** a value that cannot change after it was encoded */
function isPrimitive (value: unknown): boolean {
  return typeof value !== 'object' || value === null
}

// why shared: most requests have no actions (a read) or no pending sends; they need no arrays of their own
const NO_ACTIONS: DeltaAction[] = Object.freeze([]) as unknown as DeltaAction[]
const NOTHING_PENDING: Array<Promise<unknown>> = Object.freeze([]) as unknown as Array<Promise<unknown>>

/** One request's state: what the view reads and writes, and what end() turns into the outcome. */
class RequestState {
  readonly host: RequestHost
  readonly requestedId: string | null
  readonly pending: Array<Promise<unknown>>
  openedBase: string | null
  base: string | null
  isNew = false
  regeneratedFrom: string | null = null
  invalidated = false
  ended = false
  readonly local = new Map<string, Local>()
  max: number | undefined = undefined
  principal: { value: unknown, original?: Uint8Array } | undefined = undefined
  principalSet = false

  constructor (host: RequestHost, opened: { base: string, clientId: string, pending: Array<Promise<unknown>> } | null) {
    this.host = host
    this.openedBase = opened?.base ?? null
    this.base = this.openedBase
    this.requestedId = opened?.clientId ?? null
    this.pending = opened?.pending ?? NOTHING_PENDING
  }

  record (): SessionRecord | undefined {
    if (this.base === null || this.isNew) return undefined
    return this.host.record(this.regeneratedFrom ?? this.base)
  }

  live (): void {
    if (this.ended) throw new RequestEndedError()
  }

  /** first write of a request without a session: mint a fresh id (never the client's) */
  ensure (): void {
    this.live()
    if (this.base !== null) return
    this.host.checkCanCreate()
    this.base = parseSessionId(newSessionId(this.host.route))!.base
    this.isNew = true
  }

  read (name: string): Local | undefined {
    const seen = this.local.get(name)
    if (seen !== undefined) return seen
    const bytes = this.record()?.attributes.get(name)
    if (!bytes) return undefined
    const entry: Local = { value: decodeValue(bytes), present: true, explicit: false, original: bytes, bytes: undefined }
    this.local.set(name, entry)
    return entry
  }

  /** attributes the session holds with this request's changes */
  count (): number {
    const stored = this.record()?.attributes
    let n = stored?.size ?? 0
    for (const [name, e] of this.local) {
      const had = stored?.has(name) ?? false
      if (e.present && !had) n++
      else if (!e.present && had) n--
    }
    return n
  }

  encode (name: string, value: unknown): Uint8Array {
    try {
      return encodeValue(name, value)
    } catch (err) {
      this.host.rejectedNotSerializable()
      throw err
    }
  }

  /** the delta: explicit writes, plus values read and changed in place */
  actions (): DeltaAction[] {
    const actions: DeltaAction[] = []
    for (const [name, e] of this.local) {
      if (e.explicit) {
        if (e.present) actions.push({ kind: 'set', name, bytes: e.bytes ?? encodeValue(name, e.value) })
        else if (e.original || !this.isNew) actions.push({ kind: 'delete', name })
      } else if (e.present && !isPrimitive(e.value)) {
        const bytes = encodeValue(name, e.value)
        if (!e.original || !sameBytes(bytes, e.original)) actions.push({ kind: 'set', name, bytes })
      }
    }
    if (this.max !== undefined) actions.push({ kind: 'maxInactiveInterval', seconds: this.max })
    if (this.principalSet) {
      const v = this.principal?.value
      actions.push({ kind: 'principal', bytes: v === null || v === undefined ? null : encodeValue('principal', v) })
    } else if (this.principal?.original && !isPrimitive(this.principal.value)) {
      const bytes = encodeValue('principal', this.principal.value) // why: a principal changed in place
      if (!sameBytes(bytes, this.principal.original)) actions.push({ kind: 'principal', bytes })
    }
    return actions
  }

  end (replicate: boolean): CookieAction | Promise<CookieAction> {
    this.live()
    this.ended = true
    const outcome: RequestOutcome = {
      openedBase: this.openedBase,
      invalidated: this.invalidated,
      session: this.base === null ? null : { base: this.base, isNew: this.isNew, regeneratedFrom: this.regeneratedFrom },
      actions: NO_ACTIONS,
      replicate,
      clientId: this.requestedId,
      pending: this.pending
    }
    if (this.base !== null) {
      try {
        outcome.actions = this.actions()
      } catch (err) {
        this.host.rejectedNotSerializable()
        throw err
      }
    }
    return this.host.commit(outcome)
  }
}

/** What the app sees: the SessionApi over one request's state. */
class SessionView implements SessionApi {
  readonly #s: RequestState

  constructor (state: RequestState) {
    this.#s = state
  }

  get id (): string | null {
    const s = this.#s
    if (s.base === null) return null
    return `${s.base}.${s.isNew ? s.host.route : (s.record()?.route ?? s.host.route)}`
  }

  get isNew (): boolean { return this.#s.isNew }

  get<T = unknown> (name: string): T | undefined {
    checkName(name)
    const e = this.#s.read(name)
    return (e?.present === true ? e.value : undefined) as T | undefined
  }

  set (name: string, value: unknown): void {
    checkName(name)
    const s = this.#s
    s.live()
    const bytes = s.encode(name, value) // why: refuse a value peers could not decode now, where the app can see it
    s.ensure()
    const old = s.read(name)
    if (old?.present !== true && s.count() >= SESSION_LIMITS.maxAttributes) throw new TooManyAttributesError(SESSION_LIMITS.maxAttributes)
    s.local.delete(name)
    s.local.set(name, { value, present: true, explicit: true, original: old?.original, bytes: isPrimitive(value) ? bytes : undefined })
  }

  delete (name: string): void {
    checkName(name)
    const s = this.#s
    s.live()
    const old = s.read(name)
    if (!old?.present && !old?.explicit) return
    s.local.delete(name)
    s.local.set(name, { value: undefined, present: false, explicit: true, original: old.original, bytes: undefined })
  }

  has (name: string): boolean {
    checkName(name)
    return this.#s.read(name)?.present ?? false
  }

  keys (): string[] {
    const s = this.#s
    const out = new Set<string>(s.record()?.attributes.keys() ?? [])
    for (const [name, e] of s.local) { if (e.present) out.add(name); else out.delete(name) }
    return [...out]
  }

  get maxInactiveInterval (): number {
    const s = this.#s
    return s.max ?? s.record()?.maxInactiveInterval ?? s.host.defaultMaxInactiveInterval
  }

  set maxInactiveInterval (seconds: number) {
    if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || Math.abs(seconds) > 2_000_000_000) throw new InvalidSessionArgumentError(`maxInactiveInterval must be an integer number of seconds, got ${String(seconds)}`)
    const s = this.#s
    s.ensure()
    s.max = seconds
  }

  get principal (): unknown {
    const s = this.#s
    if (s.principal) return s.principal.value
    const bytes = s.record()?.principal
    if (!bytes) return null
    s.principal = { value: decodeValue(bytes), original: bytes }
    return s.principal.value
  }

  set principal (value: unknown) {
    const s = this.#s
    s.encode('principal', value)
    s.ensure()
    s.principal = { value }
    s.principalSet = true
  }

  regenerate (): void {
    const s = this.#s
    s.live()
    if (s.base === null) return
    const fresh = parseSessionId(newSessionId(s.host.route))!.base
    if (!s.isNew && s.regeneratedFrom === null) s.regeneratedFrom = s.base
    s.base = fresh
  }

  invalidate (): void {
    const s = this.#s
    s.live()
    if (s.openedBase !== null && !s.invalidated && (s.regeneratedFrom !== null || !s.isNew)) s.invalidated = true
    s.base = null
    s.isNew = false
    s.regeneratedFrom = null
    s.local.clear()
    s.max = undefined
    s.principal = undefined
    s.principalSet = false
  }
}

export class RequestSessionImpl implements RequestSession {
  readonly session: SessionApi
  readonly requestedId: string | null
  readonly rebound: boolean
  readonly #state: RequestState

  constructor (host: RequestHost, opened: { base: string, clientId: string, rebound: boolean, pending: Array<Promise<unknown>> } | null) {
    const state = this.#state = new RequestState(host, opened)
    this.requestedId = state.requestedId
    this.rebound = opened?.rebound ?? false
    this.session = new SessionView(state)
  }

  async end (options: { replicate: boolean }): Promise<CookieAction> {
    return await this.#state.end(options?.replicate !== false)
  }

  endNow (options: { replicate: boolean }): CookieAction | Promise<CookieAction> {
    return this.#state.end(options?.replicate !== false)
  }
}
