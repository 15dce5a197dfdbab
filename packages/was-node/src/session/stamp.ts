/**
 * Version stamps and the conflict rule.
 *
 * Every committed change of a session (one request's delta) gets a stamp
 * `{ version, at, route }`: version = previous version + 1, `at` = the writer's clock when the
 * request ended, `route` = the writer's jvmRoute. A delta names the stamp it was built on (`base`)
 * and the stamp it produces.
 *
 * Order (total, the same on every node): higher version wins; equal versions → later `at` wins;
 * equal `at` → the greater route string wins. Two stamps are the same change only if all three
 * fields are equal.
 *
 * A receiver holding stamp S, given a delta (base B, stamp D):
 *  - B equals S                    → apply; S becomes D.
 *  - D equals S or is in S's recent history → duplicate: ignored.
 *  - D orders before S (and is not history) → a losing concurrent write (two nodes wrote the same
 *    session after a failover): ignored, logged and counted as a conflict, and our (winning) copy
 *    is pushed to every node, since the loser and whoever applied its write do not know they lost.
 *  - D orders after S, B.version > S.version → a gap (a delta missed or still on its way): held;
 *    if the gap is not closed shortly, the whole session is requested (sender first).
 *  - D orders after S, otherwise (B is not S: another lineage) → our copy lost: logged and counted
 *    as a conflict, and the whole session is requested from the sender, whose copy replaces ours.
 * A whole session (state transfer, session-full, created) replaces a copy whose stamp orders before.
 * So every node converges on the copy with the greatest stamp, and every losing write is counted.
 */
export interface Stamp {
  version: number
  at: number
  route: string
}

export const ZERO_STAMP: Readonly<Stamp> = Object.freeze({ version: 0, at: 0, route: '' })

/** <0 when a orders before b, 0 when the same change, >0 after. */
export function compareStamps (a: Stamp, b: Stamp): number {
  if (a.version !== b.version) return a.version - b.version
  if (a.at !== b.at) return a.at - b.at
  return a.route < b.route ? -1 : a.route > b.route ? 1 : 0
}

export function sameStamp (a: Stamp, b: Stamp): boolean {
  return a.version === b.version && a.at === b.at && a.route === b.route
}

export function formatStamp (s: Stamp): string {
  return `v${s.version}@${s.route || '-'}:${s.at}`
}
