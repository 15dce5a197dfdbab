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
 * - Multicast: the peers cannot be known in advance, so (like Tomcat's McastService, which sleeps
 *   about two heartbeat periods at start) the node waits two heartbeat periods. A member heard
 *   later is reconciled with (the session manager exchanges digests with it), and a request for a
 *   session this node lacks fetches it from the peers first, so this guess loses nothing.
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
}

interface PeerWatch { address: string, host: string, port: number, state: ReceiverState | 'member', since: number }

const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export async function awaitInitialMembers (channel: Channel, m: ResolvedNodeOptions['membership'], isStopping: () => boolean = () => false): Promise<InitialMembers> {
  if (m.type !== 'static') {
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(m.dropTime, 2 * m.frequency + 100)))
    return { members: channel.members().length, down: [], unheard: [] }
  }
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
    members: channel.members().length,
    down: peers.filter((p) => p.state === 'down' || (p.state === 'silent' && !isMember(p))).map((p) => p.address),
    unheard: peers.filter((p) => p.state === 'answering' && !isMember(p)).map((p) => p.address)
  }
}

/** resolves at the next memberAdded (the listener is removed after a while either way) */
async function memberAdded (channel: Channel): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => { clearTimeout(timer); channel.off('memberAdded', done); resolve() }
    const timer = setTimeout(done, 1000)
    channel.on('memberAdded', done)
  })
}
