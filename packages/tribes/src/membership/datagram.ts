/**
 * Read one received membership blob: decode, tell nodecat from foreign, check the domain and the
 * cluster-key tag. The answer is a member or the reason to drop it; it never throws.
 */
import type { Member, MemberMeta } from '../types.js'
import type { TribesError } from '../errors.js'
import { decodeMember, isShutdownCommand, type MemberFields } from '../codec/member.js'
import { decodePayload, payloadOffsetOf, verifyMemberTag, type MemberAuth, type PayloadKind } from '../codec/member-payload.js'
import { toMember } from './membership.js'

export type DatagramDrop = 'malformed' | 'version' | 'domain' | 'auth'

export type DatagramResult =
  | { ok: true, member: Member, shutdown: boolean }
  | { ok: false, reason: DatagramDrop, detail: string, /** the member, when the blob decoded */ member?: Member }

/**
 * `domain`: this member's domain (others are dropped). `auth`: the cluster key, if any. Without
 * a key, a tagged nodecat datagram is dropped too: a keyed cluster and a keyless member must not
 * half-see each other.
 */
export function readMemberDatagram (blob: Buffer, domain: string, auth: MemberAuth | undefined): DatagramResult {
  let fields: MemberFields
  try {
    fields = decodeMember(blob)
  } catch (err) {
    return { ok: false, reason: 'malformed', detail: (err as Error).message }
  }
  let payload: PayloadKind
  try {
    payload = decodePayload(fields.payload, payloadOffsetOf(fields))
  } catch (err) {
    const reason = (err as TribesError).code === 'TRIBES_ERR_MEMBER_PAYLOAD_VERSION' ? 'version' : 'malformed'
    return { ok: false, reason, detail: (err as Error).message }
  }
  const meta: MemberMeta | null = payload.kind === 'nodecat' ? payload.meta : null
  const member = toMember(fields, meta)
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
