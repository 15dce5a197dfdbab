/**
 * The session manager's listener events (events.ts), fired in one place: a listener that throws
 * is logged and never breaks replication, and a change that came from a peer fires only with
 * notifyListenersOnReplication.
 */
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { AttributeChange } from '../session/record.js'
import type { DestroyReason, SessionManagerEvents } from './events.js'
import { decodeValue } from '../session/codec.js'

export class SessionListeners {
  readonly #emitter: EventEmitter<SessionManagerEvents>
  readonly #log: Logger
  readonly #notifyOnReplication: boolean

  constructor (emitter: EventEmitter<SessionManagerEvents>, log: Logger, notifyOnReplication: boolean) {
    this.#emitter = emitter
    this.#log = log
    this.#notifyOnReplication = notifyOnReplication
  }

  created (id: string, replicated: boolean): void {
    if (this.#fires(replicated)) this.#safeEmit('sessionCreated', { id, replicated })
  }

  destroyed (id: string, reason: DestroyReason, replicated: boolean): void {
    if (this.#fires(replicated)) this.#safeEmit('sessionDestroyed', { id, reason, replicated })
  }

  idChanged (oldId: string, newId: string, replicated: boolean): void {
    if (this.#fires(replicated)) this.#safeEmit('sessionIdChanged', { oldId, newId, replicated })
  }

  /** attributeAdded / attributeReplaced / attributeRemoved, values decoded only for events someone listens to */
  changes (id: string, changes: AttributeChange[], replicated: boolean): void {
    if (!this.#fires(replicated)) return
    const decode = (b: Uint8Array | undefined): unknown => {
      if (!b) return undefined
      try { return decodeValue(b) } catch { return undefined }
    }
    for (const c of changes) {
      const event = c.kind === 'added' ? 'attributeAdded' : c.kind === 'replaced' ? 'attributeReplaced' : 'attributeRemoved'
      if (this.#emitter.listenerCount(event) === 0) continue
      this.#safeEmit(event, { id, name: c.name, value: decode(c.bytes), oldValue: decode(c.oldBytes), replicated })
    }
  }

  #fires (replicated: boolean): boolean {
    return !replicated || this.#notifyOnReplication
  }

  #safeEmit<K extends keyof SessionManagerEvents> (name: K, ...args: SessionManagerEvents[K]): void {
    try {
      (this.#emitter.emit as (n: string, ...a: unknown[]) => boolean).call(this.#emitter, name, ...args)
    } catch (err) {
      this.#log.error({ event: name, err: (err as Error).message }, 'a session listener threw')
    }
  }
}
