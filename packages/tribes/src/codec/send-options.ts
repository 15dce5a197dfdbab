/**
 * Tribes send-option bits (Channel.SEND_OPTIONS_*) and nodecat's three send modes.
 * nodecat messages are always bytes, so every frame nodecat sends carries BYTE_MESSAGE.
 */
import { TribesOptionError } from '../errors.js'
import type { SendMode } from '../types.js'

export const SEND_OPTIONS = {
  BYTE_MESSAGE: 0x0001,
  USE_ACK: 0x0002,
  SYNCHRONIZED_ACK: 0x0004,
  ASYNCHRONOUS: 0x0008,
  SECURE: 0x0010,
  UDP: 0x0020,
  MULTICAST: 0x0040
} as const

/** config-string names (Channel.parseSendOptions) to bits */
const NAMES: Record<string, number> = {
  byte_message: SEND_OPTIONS.BYTE_MESSAGE,
  byte: SEND_OPTIONS.BYTE_MESSAGE,
  use_ack: SEND_OPTIONS.USE_ACK,
  synchronized_ack: SEND_OPTIONS.SYNCHRONIZED_ACK,
  sync: SEND_OPTIONS.SYNCHRONIZED_ACK,
  asynchronous: SEND_OPTIONS.ASYNCHRONOUS,
  async: SEND_OPTIONS.ASYNCHRONOUS,
  secure: SEND_OPTIONS.SECURE,
  udp: SEND_OPTIONS.UDP,
  multicast: SEND_OPTIONS.MULTICAST
}

/** Tribes option value of each mode: async 8, ack 2, sync 6 (BYTE_MESSAGE not included). */
export const MODE_OPTIONS: Readonly<Record<SendMode, number>> = { async: 8, ack: 2, sync: 6 }

/**
 * Parse an option value as Tomcat's config does: an integer, or a comma-separated list of names
 * ("use_ack,sync" = 6). Throws TRIBES_ERR_INVALID_OPTION naming `name` for anything else.
 */
export function parseSendOptions (value: string | number, name = 'sendOptions'): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0 || value > 0x7fffffff) throw new TribesOptionError(`${name} must be a non-negative integer, got ${value}`)
    return value
  }
  const s = value.trim()
  if (/^\d+$/.test(s)) return parseSendOptions(Number(s), name)
  let bits = 0
  for (const part of s.split(',')) {
    const bit = NAMES[part.trim().toLowerCase()]
    if (bit === undefined) throw new TribesOptionError(`${name}: unknown send option ${JSON.stringify(part.trim())} (known: ${Object.keys(NAMES).join(', ')})`)
    bits |= bit
  }
  return bits
}

/** Render bits as names ("use_ack,synchronized_ack"), for logs. */
export function sendOptionsToString (options: number): string {
  const out: string[] = []
  for (const [k, bit] of Object.entries(SEND_OPTIONS)) if ((options & bit) !== 0) out.push(k.toLowerCase())
  return out.join(',')
}

/** Wire options nodecat uses for a mode: the mode's bits plus BYTE_MESSAGE. */
export function modeToOptions (mode: SendMode): number {
  return MODE_OPTIONS[mode] | SEND_OPTIONS.BYTE_MESSAGE
}

/** The mode a received frame asks for: sync needs an ack after processing, ack one before. */
export function optionsToMode (options: number): SendMode {
  if ((options & SEND_OPTIONS.USE_ACK) === 0) return 'async'
  return (options & SEND_OPTIONS.SYNCHRONIZED_ACK) !== 0 ? 'sync' : 'ack'
}

export function wantsAck (options: number): boolean {
  return (options & SEND_OPTIONS.USE_ACK) !== 0
}

export function isByteMessage (options: number): boolean {
  return (options & SEND_OPTIONS.BYTE_MESSAGE) !== 0
}
