/**
 * nodecat's metadata inside the Tribes member payload field, and the cluster-key tag that
 * authenticates a whole membership datagram.
 *
 *   "NCAT" | version (1) | tagLength (1) | tag (tagLength) | msgpackr(MemberMeta)
 *
 * The tag is `auth.mac(datagram with the tag bytes zeroed)`, so it covers every field of the
 * blob: aliveTime, host, port, uniqueId, domain, command and the metadata. A payload that does
 * not start with the magic is a foreign member (a Tomcat sends an empty payload).
 */
import { Packr } from 'msgpackr'
import { errors, type TribesError } from '../errors.js'
import type { MemberMeta, MemberRole } from '../types.js'
import { encodeMember, payloadOffsetOf, type MemberFields } from './member.js'

export { payloadOffsetOf }

export const PAYLOAD_MAGIC = Buffer.from('NCAT', 'latin1')
/** Layout version of the payload header; a reader drops versions it does not know. */
export const PAYLOAD_VERSION = 1
/** nodecat protocol version advertised in MemberMeta.protocol by this build. */
export const PROTOCOL_VERSION = 1
const HEADER = PAYLOAD_MAGIC.length + 2
const ROLES: readonly MemberRole[] = ['node', 'balancer', 'tool']

/**
 * What the cluster keyring offers membership: a MAC over bytes and its constant-time check.
 * The tag length is whatever `mac` returns (16..64 bytes).
 */
export interface MemberAuth {
  mac (data: Buffer): Buffer
  verifyMac (data: Buffer, tag: Buffer): boolean
}

// why: plain maps, no record extension, so any msgpack reader can decode the metadata
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false })

export type PayloadKind =
  | { kind: 'foreign' }
  | { kind: 'nodecat', meta: MemberMeta, tag: Buffer | null, tagOffset: number }

function payloadError (why: string): TribesError {
  return errors.memberPayload(why)
}

/** True when a payload starts with nodecat's magic. */
export function isNodecatPayload (payload: Uint8Array): boolean {
  if (payload.length < PAYLOAD_MAGIC.length) return false
  for (let i = 0; i < PAYLOAD_MAGIC.length; i++) if (payload[i] !== PAYLOAD_MAGIC[i]) return false
  return true
}

const PROP_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/
const MAX_PROPS = 16
const MAX_PROP_VALUE = 128

function validateProps (value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw payloadError('props is not a map')
  const entries = Object.entries(value)
  if (entries.length > MAX_PROPS) throw payloadError(`props has ${entries.length} entries, at most ${MAX_PROPS} are allowed`)
  // names start with a letter (PROP_NAME), so "__proto__" cannot be one
  const out: Record<string, string> = {}
  for (const [k, x] of entries) {
    if (!PROP_NAME.test(k)) throw payloadError(`props name ${JSON.stringify(k).slice(0, 40)} is not 1..32 letters, digits, _ or -`)
    if (typeof x !== 'string' || x.length > MAX_PROP_VALUE) throw payloadError(`props.${k} is not a string of at most ${MAX_PROP_VALUE} characters`)
    out[k] = x
  }
  return out
}

/** Check the metadata shape; unknown extra keys are ignored (newer members may add some). */
export function validateMeta (value: unknown): MemberMeta {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw payloadError('metadata is not a map')
  const v = value as Record<string, unknown>
  if (typeof v.protocol !== 'number' || !Number.isSafeInteger(v.protocol) || v.protocol < 0) throw payloadError('protocol is not a non-negative integer')
  if (typeof v.role !== 'string' || !(ROLES as readonly string[]).includes(v.role)) throw payloadError(`role ${JSON.stringify(v.role)} is not one of ${ROLES.join(', ')}`)
  const meta: MemberMeta = { protocol: v.protocol, role: v.role as MemberRole }
  if (v.route !== undefined && v.route !== null) {
    if (typeof v.route !== 'string' || v.route.length > 255) throw payloadError('route is not a string of at most 255 characters')
    meta.route = v.route
  }
  if (v.http !== undefined && v.http !== null) {
    if (typeof v.http !== 'string' || v.http.length > 1024) throw payloadError('http is not a string of at most 1024 characters')
    meta.http = v.http
  }
  if (v.host !== undefined && v.host !== null) {
    if (typeof v.host !== 'string' || v.host.length === 0 || v.host.length > 255) throw payloadError('host is not a string of 1..255 characters')
    meta.host = v.host
  }
  if (v.props !== undefined && v.props !== null) meta.props = validateProps(v.props)
  return meta
}

/** Payload bytes for `meta`, with `tagLength` zero bytes reserved for the tag. */
export function encodePayload (meta: MemberMeta, tagLength = 0): Buffer {
  if (tagLength < 0 || tagLength > 255) throw payloadError(`tag length ${tagLength} is outside 0..255`)
  const body = packr.pack({ ...validateMeta(meta) }) as Buffer
  const out = Buffer.alloc(HEADER + tagLength + body.length)
  PAYLOAD_MAGIC.copy(out, 0)
  out[PAYLOAD_MAGIC.length] = PAYLOAD_VERSION
  out[PAYLOAD_MAGIC.length + 1] = tagLength
  body.copy(out, HEADER + tagLength)
  return out
}

/**
 * Read a member payload. `payloadOffset` is where the payload starts inside its datagram, so the
 * returned `tagOffset` is absolute (for verifyMemberTag). Throws TRIBES_ERR_MEMBER_PAYLOAD for a
 * nodecat payload that does not parse, TRIBES_ERR_MEMBER_PAYLOAD_VERSION for an unknown version.
 */
export function decodePayload (payload: Buffer, payloadOffset = 0): PayloadKind {
  if (!isNodecatPayload(payload)) return { kind: 'foreign' }
  if (payload.length < HEADER) throw payloadError('header truncated')
  const version = payload[PAYLOAD_MAGIC.length]!
  if (version !== PAYLOAD_VERSION) {
    throw errors.memberPayloadVersion(version, PAYLOAD_VERSION)
  }
  const tagLength = payload[PAYLOAD_MAGIC.length + 1]!
  if (HEADER + tagLength > payload.length) throw payloadError(`tag of ${tagLength} bytes overruns the payload`)
  const tag = tagLength === 0 ? null : Buffer.from(payload.subarray(HEADER, HEADER + tagLength))
  let raw: unknown
  try {
    raw = packr.unpack(payload.subarray(HEADER + tagLength))
  } catch (err) {
    throw payloadError(`metadata does not decode (${(err as Error).message})`)
  }
  return { kind: 'nodecat', meta: validateMeta(raw), tag, tagOffset: payloadOffset + HEADER }
}

/** Encode a member blob and, with `auth`, write its tag (the payload must reserve the tag bytes). */
export function encodeSignedMember (fields: MemberFields, auth?: MemberAuth): Buffer {
  const blob = encodeMember(fields)
  if (auth === undefined) return blob
  const tagLength = fields.payload[PAYLOAD_MAGIC.length + 1] ?? 0
  if (!isNodecatPayload(fields.payload) || tagLength === 0) throw payloadError('a signed member needs a nodecat payload with room for the tag')
  const tagOffset = payloadOffsetOf(fields) + HEADER
  blob.fill(0, tagOffset, tagOffset + tagLength)
  const tag = auth.mac(blob)
  if (tag.length !== tagLength) throw payloadError(`the keyring returned a ${tag.length}-byte tag, ${tagLength} bytes were reserved`)
  tag.copy(blob, tagOffset)
  return blob
}

/** Check a datagram's tag: recompute the MAC with the tag zeroed. Never throws. */
export function verifyMemberTag (blob: Buffer, tag: Buffer, tagOffset: number, auth: MemberAuth): boolean {
  if (tagOffset < 0 || tagOffset + tag.length > blob.length) return false
  const copy = Buffer.from(blob)
  copy.fill(0, tagOffset, tagOffset + tag.length)
  try {
    return auth.verifyMac(copy, tag)
  } catch {
    return false
  }
}

/** Length of the tags an `auth` produces (asks it once for the MAC of nothing). */
export function tagLengthOf (auth: MemberAuth): number {
  const n = auth.mac(Buffer.alloc(0)).length
  if (n < 16 || n > 64) throw payloadError(`the keyring's MAC is ${n} bytes; 16..64 are supported`)
  return n
}
