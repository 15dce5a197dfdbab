/**
 * Messages that reach a node between its channel joining and its session manager listening (the
 * node waits for its members in between) would find no handler and be lost: a peer's request for
 * all sessions among them, which would leave that peer waiting for stateTransferTimeout. This
 * wrapper listens from the start and hands the held messages, in order, to the first handler that
 * registers (the manager). Bounded: beyond `limit` held messages the rest are dropped and counted.
 */
import type { Channel, Member, MessageHandler } from '@nodecat/tribes'

interface Held { message: unknown, sender: Member, resolve: () => void, reject: (err: unknown) => void }

export interface EarlyMessageChannel {
  /** the channel to give the manager (same object API; onMessage replays what was held) */
  channel: Channel
  /** messages dropped because the hold was full */
  dropped: () => number
}

export function holdEarlyMessages (channel: Channel, limit = 10_000): EarlyMessageChannel {
  const handlers = new Set<MessageHandler>()
  let held: Held[] = []
  let dropped = 0

  channel.onMessage((message, sender) => {
    if (handlers.size > 0) return deliver(message, sender)
    if (held.length >= limit) { dropped++; return }
    // why a promise: in sync mode the sender's ack must wait until the manager really applied it
    return new Promise<void>((resolve, reject) => { held.push({ message, sender, resolve, reject }) })
  })

  async function deliver (message: unknown, sender: Member): Promise<void> {
    for (const handler of handlers) await handler(message, sender)
  }

  function onMessage (handler: MessageHandler): () => void {
    handlers.add(handler)
    const backlog = held
    held = []
    // replay in arrival order, each after the previous settled (per-sender order is preserved)
    void (async () => {
      for (const h of backlog) {
        try { await deliver(h.message, h.sender); h.resolve() } catch (err) { h.reject(err) }
      }
    })()
    return () => { handlers.delete(handler) }
  }

  const proxy = new Proxy(channel, {
    get (target, prop) {
      if (prop === 'onMessage') return onMessage
      // why bind: the channel keeps #private state, reachable only with the real object as `this`
      const value = Reflect.get(target, prop, target) as unknown
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    }
  })
  return { channel: proxy, dropped: () => dropped }
}
