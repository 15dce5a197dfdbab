/**
 * Counters shared by the transport parts of one channel; `Channel.stats()` reads them.
 * Drops are counted by reason ('frame-too-large', 'decrypt', 'replay', 'foreign-message', …).
 */
export class TransportCounters {
  messagesSent = 0
  messagesReceived = 0
  bytesSent = 0
  bytesReceived = 0
  sendFailures = 0
  queueDropped = 0
  readonly dropped: Record<string, number> = {}

  /** count one drop; returns how many of this reason so far (callers log the first, then rarely) */
  drop (reason: string): number {
    const n = (this.dropped[reason] ?? 0) + 1
    this.dropped[reason] = n
    return n
  }
}

/** log the 1st, then every 1000th of a repeating event (a hostile sender repeats forever) */
export function worthLogging (count: number): boolean {
  return count === 1 || count % 1000 === 0
}
