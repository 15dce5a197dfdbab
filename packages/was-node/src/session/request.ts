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
  commit (outcome: RequestOutcome): Promise<CookieAction>
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

interface Local { value: unknown, present: boolean, explicit: boolean, original: Uint8Array | undefined }

function checkName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw new InvalidAttributeNameError(name)
}

export class RequestSessionImpl implements RequestSession {
  readonly session: SessionApi
  readonly requestedId: string | null
  readonly rebound: boolean
  readonly #host: RequestHost
  readonly #pending: Array<Promise<unknown>>
  #openedBase: string | null
  #base: string | null
  #isNew = false
  #regeneratedFrom: string | null = null
  #invalidated = false
  #ended = false
  #local = new Map<string, Local>()
  #max: number | undefined
  #principal: { value: unknown, original?: Uint8Array } | undefined

  constructor (host: RequestHost, opened: { base: string, clientId: string, rebound: boolean, pending: Array<Promise<unknown>> } | null) {
    this.#host = host
    this.#openedBase = opened?.base ?? null
    this.#base = this.#openedBase
    this.requestedId = opened?.clientId ?? null
    this.rebound = opened?.rebound ?? false
    this.#pending = opened?.pending ?? []
    this.session = this.#view()
  }

  #record (): SessionRecord | undefined {
    if (this.#base === null || this.#isNew) return undefined
    return this.#host.record(this.#regeneratedFrom ?? this.#base)
  }

  #live (): void {
    if (this.#ended) throw new RequestEndedError()
  }

  /** first write of a request without a session: mint a fresh id (never the client's) */
  #ensure (): void {
    this.#live()
    if (this.#base !== null) return
    this.#host.checkCanCreate()
    this.#base = parseSessionId(newSessionId(this.#host.route))!.base
    this.#isNew = true
  }

  #read (name: string): Local | undefined {
    const seen = this.#local.get(name)
    if (seen) return seen
    const bytes = this.#record()?.attributes.get(name)
    if (!bytes) return undefined
    const entry: Local = { value: decodeValue(bytes), present: true, explicit: false, original: bytes }
    this.#local.set(name, entry)
    return entry
  }

  /** attributes the session holds with this request's changes */
  #count (): number {
    const stored = this.#record()?.attributes
    let n = stored?.size ?? 0
    for (const [name, e] of this.#local) {
      const had = stored?.has(name) ?? false
      if (e.present && !had) n++
      else if (!e.present && had) n--
    }
    return n
  }

  #view (): SessionApi {
    const self = this
    return {
      get id () { return self.#base === null ? null : `${self.#base}.${self.#isNew ? self.#host.route : (self.#record()?.route ?? self.#host.route)}` },
      get isNew () { return self.#isNew },
      get<T = unknown> (name: string): T | undefined {
        checkName(name)
        const e = self.#read(name)
        return (e?.present ? e.value : undefined) as T | undefined
      },
      set (name: string, value: unknown): void {
        checkName(name)
        self.#live()
        self.#encode(name, value) // why: refuse a value peers could not decode now, where the app can see it
        self.#ensure()
        const old = self.#read(name)
        if (old?.present !== true && self.#count() >= SESSION_LIMITS.maxAttributes) throw new TooManyAttributesError(SESSION_LIMITS.maxAttributes)
        self.#local.delete(name)
        self.#local.set(name, { value, present: true, explicit: true, original: old?.original })
      },
      delete (name: string): void {
        checkName(name)
        self.#live()
        const old = self.#read(name)
        if (!old?.present && !old?.explicit) return
        self.#local.delete(name)
        self.#local.set(name, { value: undefined, present: false, explicit: true, original: old.original })
      },
      has (name: string): boolean {
        checkName(name)
        return self.#read(name)?.present ?? false
      },
      keys (): string[] {
        const out = new Set<string>(self.#record()?.attributes.keys() ?? [])
        for (const [name, e] of self.#local) { if (e.present) out.add(name); else out.delete(name) }
        return [...out]
      },
      get maxInactiveInterval () {
        return self.#max ?? self.#record()?.maxInactiveInterval ?? self.#host.defaultMaxInactiveInterval
      },
      set maxInactiveInterval (seconds: number) {
        if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || Math.abs(seconds) > 2_000_000_000) throw new InvalidSessionArgumentError(`maxInactiveInterval must be an integer number of seconds, got ${String(seconds)}`)
        self.#ensure()
        self.#max = seconds
      },
      get principal () {
        if (self.#principal) return self.#principal.value
        const bytes = self.#record()?.principal
        if (!bytes) return null
        self.#principal = { value: decodeValue(bytes), original: bytes }
        return self.#principal.value
      },
      set principal (value: unknown) {
        self.#encode('principal', value)
        self.#ensure()
        self.#principal = { value }
        self.#principalSet = true
      },
      regenerate (): void {
        self.#live()
        if (self.#base === null) return
        const fresh = parseSessionId(newSessionId(self.#host.route))!.base
        if (!self.#isNew && self.#regeneratedFrom === null) self.#regeneratedFrom = self.#base
        self.#base = fresh
      },
      invalidate (): void {
        self.#live()
        if (self.#openedBase !== null && !self.#invalidated && (self.#regeneratedFrom !== null || !self.#isNew)) self.#invalidated = true
        self.#base = null
        self.#isNew = false
        self.#regeneratedFrom = null
        self.#local.clear()
        self.#max = undefined
        self.#principal = undefined
        self.#principalSet = false
      }
    }
  }

  #principalSet = false

  #encode (name: string, value: unknown): Uint8Array {
    try {
      return encodeValue(name, value)
    } catch (err) {
      this.#host.rejectedNotSerializable()
      throw err
    }
  }

  /** the delta: explicit writes, plus values read and changed in place */
  #actions (): DeltaAction[] {
    const actions: DeltaAction[] = []
    for (const [name, e] of this.#local) {
      if (e.explicit) {
        if (e.present) actions.push({ kind: 'set', name, bytes: encodeValue(name, e.value) })
        else if (e.original || !this.#isNew) actions.push({ kind: 'delete', name })
      } else if (e.present) {
        const bytes = encodeValue(name, e.value)
        if (!e.original || !sameBytes(bytes, e.original)) actions.push({ kind: 'set', name, bytes })
      }
    }
    if (this.#max !== undefined) actions.push({ kind: 'maxInactiveInterval', seconds: this.#max })
    if (this.#principalSet) {
      const v = this.#principal?.value
      actions.push({ kind: 'principal', bytes: v === null || v === undefined ? null : encodeValue('principal', v) })
    } else if (this.#principal?.original) {
      const bytes = encodeValue('principal', this.#principal.value) // why: a principal changed in place
      if (!sameBytes(bytes, this.#principal.original)) actions.push({ kind: 'principal', bytes })
    }
    return actions
  }

  async end (options: { replicate: boolean }): Promise<CookieAction> {
    this.#live()
    this.#ended = true
    const outcome: RequestOutcome = {
      openedBase: this.#openedBase,
      invalidated: this.#invalidated,
      session: this.#base === null ? null : { base: this.#base, isNew: this.#isNew, regeneratedFrom: this.#regeneratedFrom },
      actions: [],
      replicate: options?.replicate !== false,
      clientId: this.requestedId,
      pending: this.#pending
    }
    if (this.#base !== null) {
      try {
        outcome.actions = this.#actions()
      } catch (err) {
        this.#host.rejectedNotSerializable()
        throw err
      }
    }
    return await this.#host.commit(outcome)
  }
}
