/**
 * Before the session manager asks for the cluster's sessions it must know who is there: the
 * channel starts without waiting for heartbeats. A node must never start empty merely because a
 * heartbeat has not arrived yet, so what it waits for depends on what it can know:
 *
 * - Static membership: the peers are known by address. The node waits until every listed peer is
 *   either a member (its heartbeat arrived) or found down: its receiver refuses the connection or
 *   does not accept one within the connect timeout, or accepts but does not answer a probe for
 *   dropTime (a frozen process). A listed peer whose receiver answers is alive: its heartbeat is
 *   coming, and the node waits for it, for as long as membership itself would keep such a silent
 *   member (dropTime + suspectFactor × dropTime) when no other node is known; when another node
 *   is, at most dropTime (the late one is reconciled when it appears).
 * - Multicast: the peers cannot be known in advance. Tomcat's McastService sleeps about two
 *   heartbeat periods at start; here every member answers a member it hears for the first time
 *   with its heartbeat at once (tribes' MembershipService), so the group is known within a round
 *   trip: the node waits until no node was heard for SETTLE_MS after the last one it heard, or,
 *   when no node answers at all, for a first window of FIRST_WINDOW_MS (a joiner says hello
 *   twice in it), and never longer than the old two heartbeat periods. A member heard later (a
 *   lost answer, an old version that does not answer) is reconciled with (the session manager
 *   exchanges digests with it), and a request for a session this node lacks fetches it from the
 *   peers first, so this guess loses nothing.
 */
import type { Channel, ReceiverState } from '@nodecat/tribes'
import { MEMBERSHIP_DEFAULTS } from '@nodecat/tribes'
import type { ResolvedNodeOptions } from './options.js'

export interface InitialMembers {
  /** members known when the wait ended */
  members: number
  /** listed peers found down (static) */
  down: string[]
  /** listed peers that answer but were not heard before the wait gave up on them (static) */
  unheard: string[]
  /**
   * why the wait ended: every listed peer a member or down (static); no node answered within
   * the first window, or the nodes that answered settled (multicast); the wait's upper limit;
   * the node is stopping
   */
  ended: 'accounted' | 'first-window' | 'settled' | 'limit' | 'stopping'
  /** ms the wait took */
  waitedMs: number
}

interface PeerWatch { address: string, host: string, port: number, state: ReceiverState | 'member', since: number }

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export async function awaitInitialMembers (channel: Channel, m: ResolvedNodeOptions['membership'], isStopping: () => boolean = () => false): Promise<InitialMembers> {
  if (m.type !== 'static') return await awaitAnswers(channel, Math.min(m.dropTime, 2 * m.frequency + 100), isStopping)
  const start = performance.now()
  const silentLimit = m.dropTime
  const answeringLimit = m.dropTime * (1 + MEMBERSHIP_DEFAULTS.suspectFactor)
  const peers: PeerWatch[] = channel.listedPeers().map((p) => ({ address: `${p.host}:${p.port}`, host: p.host, port: p.port, state: 'down', since: start }))
  const isMember = (p: PeerWatch): boolean => channel.members().some((x) => x.host === p.host && x.port === p.port)
  const nodeKnown = (): boolean => channel.members().some((x) => x.meta?.role === 'node')

  while (!isStopping()) {
    const now = performance.now()
    const open: PeerWatch[] = []
    await Promise.all(peers.map(async (p) => {
      if (isMember(p)) { p.state = 'member'; return }
      const state = await channel.probe(p)
      if (isMember(p)) { p.state = 'member'; return }
      if (state !== p.state) { p.state = state; p.since = now }
    }))
    for (const p of peers) {
      if (p.state === 'member' || p.state === 'down') continue
      if (p.state === 'silent' && performance.now() - p.since >= silentLimit) continue // frozen or not a receiver: down
      if (p.state === 'answering' && performance.now() - p.since >= (nodeKnown() ? silentLimit : answeringLimit)) continue
      open.push(p)
    }
    if (open.length === 0) break
    await Promise.race([sleep(Math.min(m.frequency, 250)), memberAdded(channel)])
  }
  return {
    ended: isStopping() ? 'stopping' : 'accounted',
    waitedMs: Math.round(performance.now() - start),
    members: channel.members().length,
    down: peers.filter((p) => p.state === 'down' || (p.state === 'silent' && !isMember(p))).map((p) => p.address),
    unheard: peers.filter((p) => p.state === 'answering' && !isMember(p)).map((p) => p.address)
  }
}

/** ms a multicast start waits when no node answers (the node's own start takes longer than this) */
export const FIRST_WINDOW_MS = 300
/** ms a multicast start waits after the last node it heard, for the others' answers */
export const SETTLE_MS = 100

async function awaitAnswers (channel: Channel, limit: number, isStopping: () => boolean): Promise<InitialMembers> {
  const start = performance.now()
  const nodes = (): number => channel.members().filter((x) => x.meta?.role === 'node').length
  let heard = nodes()
  let lastHeardAt = start
  let ended: InitialMembers['ended'] = 'stopping'
  while (!isStopping()) {
    const now = performance.now()
    const n = nodes()
    if (n !== heard) { heard = n; lastHeardAt = now }
    const own = heard === 0 ? start + FIRST_WINDOW_MS : lastHeardAt + SETTLE_MS
    if (now >= start + limit) { ended = 'limit'; break }
    if (now >= own) { ended = heard === 0 ? 'first-window' : 'settled'; break }
    await Promise.race([sleep(Math.min(own, start + limit) - now), memberAdded(channel)])
  }
  return { ended, waitedMs: Math.round(performance.now() - start), members: channel.members().length, down: [], unheard: [] }
}

/** resolves at the next memberAdded (the listener is removed after a while either way) */
async function memberAdded (channel: Channel): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); channel.off('memberAdded', done); resolve() }
    const timer = setTimeout(done, 1000)
    channel.on('memberAdded', done)
  })
}
