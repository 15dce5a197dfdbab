/**
 * Read one received membership blob: decode, tell nodecat from foreign, check the domain and the
 * cluster-key tag. The answer is a member or the reason to drop it; it never throws. The decoding
 * half (decodeMemberBlob) is also how a TCP message's sender blob is read (inbound.ts).
 */
import type { Member, MemberMeta } from '../types.js'
import type { TribesError } from '../errors.js'
import { decodeMember, isShutdownCommand, payloadOffsetOf, type MemberFields } from '../codec/member.js'
import { decodePayload, verifyMemberTag, type MemberAuth, type PayloadKind } from '../codec/member-payload.js'
import { toMember } from './membership.js'

export type DatagramDrop = 'malformed' | 'version' | 'domain' | 'auth'

export type DatagramResult =
  | { ok: true, member: Member, shutdown: boolean }
  | { ok: false, reason: DatagramDrop, detail: string, /** the member, when the blob decoded */ member?: Member }

/** A member blob read whole: its fields, its payload, and the member it describes. */
export interface MemberBlob {
  fields: MemberFields
  payload: PayloadKind
  member: Member
}

/**
 * Decode a member blob and its payload. Throws TRIBES_ERR_MEMBER_MALFORMED (the blob),
 * TRIBES_ERR_MEMBER_PAYLOAD or TRIBES_ERR_MEMBER_PAYLOAD_VERSION (nodecat's metadata in it).
 */
export function decodeMemberBlob (blob: Buffer): MemberBlob {
  const fields = decodeMember(blob)
  const payload = decodePayload(fields.payload, payloadOffsetOf(fields))
  const meta: MemberMeta | null = payload.kind === 'nodecat' ? payload.meta : null
  return { fields, payload, member: toMember(fields, meta) }
}

/**
 * `domain`: this member's domain (others are dropped). `auth`: the cluster key, if any. Without
 * a key, a tagged nodecat datagram is dropped too: a keyed cluster and a keyless member must not
 * half-see each other.
 */
export function readMemberDatagram (blob: Buffer, domain: string, auth: MemberAuth | undefined): DatagramResult {
  let read: MemberBlob
  try {
    read = decodeMemberBlob(blob)
  } catch (err) {
    const reason = (err as TribesError).code === 'TRIBES_ERR_MEMBER_PAYLOAD_VERSION' ? 'version' : 'malformed'
    return { ok: false, reason, detail: (err as Error).message }
  }
  const { fields, payload, member } = read
  if (member.domain !== domain) return { ok: false, reason: 'domain', detail: `member ${member.id} is in domain ${JSON.stringify(member.domain)}`, member }
  if (payload.kind === 'nodecat') {
    if (auth === undefined) {
      if (payload.tag !== null) return { ok: false, reason: 'auth', detail: `member ${member.id} is tagged with a cluster key and this member has none`, member }
    } else {
      if (payload.tag === null) return { ok: false, reason: 'auth', detail: `member ${member.id} has no cluster-key tag`, member }
      if (!verifyMemberTag(blob, payload.tag, payload.tagOffset, auth)) return { ok: false, reason: 'auth', detail: `member ${member.id}: cluster-key tag does not verify (another key?)`, member }
    }
  }
  return { ok: true, member, shutdown: isShutdownCommand(fields.command) }
}
