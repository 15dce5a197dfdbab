/**
 * The soak's faults: one node at a time, rotating over the nodes and over the kinds of fault,
 * every `periodMs`: SIGKILL it (kill) or stop it gracefully (term), leave it down `downMs`, or
 * SIGKILL it and start it again at once (quick: back before the others drop it). Each fault ends
 * only when the node is back, has its sessions (state transfer done) and the balancer sees it OK.
 */
import type { SoakCluster } from './soak-cluster.js'
import { sleep } from '@nodecat/testkit'

export type FaultKind = 'kill' | 'term' | 'quick'
export const FAULT_KINDS: FaultKind[] = ['kill', 'term', 'quick']

export interface FaultEvent {
  /** the fault's number, from 0 */
  k: number
  node: string
  kind: FaultKind
  pid: number
  /** ms since the soak started: signal sent */
  at: number
  exit: { code: number | null, signal: string | null } | null
  /** ms since the soak started: new process started */
  restartedAt: number | null
  /** ms from the restart to its state transfer being done (`node-ready`) */
  readyMs: number | null
  /** ms since the soak started: the balancer sees the worker OK again */
  okAt: number | null
  error: string | null
}

export interface FaultPlan {
  kinds: FaultKind[]
  periodMs: number
  downMs: number
  /** no fault starts after this (Date.now() value) */
  lastStart: number
  /** at most this many */
  maxFaults: number
  t0: number
  stopped: () => boolean
  onEvent?: (e: FaultEvent, phase: 'signalled' | 'restarted' | 'done') => void
}

/** which node and kind the k-th fault uses: every node meets every kind */
export function faultAt (k: number, nodes: number, kinds: readonly FaultKind[]): { node: number, kind: FaultKind } {
  return { node: k % nodes, kind: kinds[(k + Math.floor(k / nodes)) % kinds.length]! }
}

const sleepUntil = async (when: number, stopped: () => boolean): Promise<void> => {
  while (Date.now() < when && !stopped()) await sleep(Math.min(250, when - Date.now()))
}

export async function runFaults (cluster: SoakCluster, plan: FaultPlan): Promise<FaultEvent[]> {
  const events: FaultEvent[] = []
  if (plan.kinds.length === 0) return events
  let next = Date.now() + plan.periodMs
  for (let k = 0; k < plan.maxFaults; k++) {
    await sleepUntil(next, plan.stopped)
    if (plan.stopped() || Date.now() > plan.lastStart) break
    const { node: index, kind } = faultAt(k, cluster.nodes.length, plan.kinds)
    const node = cluster.nodes[index]!
    const e: FaultEvent = { k, node: node.route, kind, pid: node.current!.proc.pid, at: Date.now() - plan.t0, exit: null, restartedAt: null, readyMs: null, okAt: null, error: null }
    events.push(e)
    try {
      const exit = node.stop(kind === 'term' ? 'SIGTERM' : 'SIGKILL')
      plan.onEvent?.(e, 'signalled')
      e.exit = await exit
      if (kind !== 'quick') await sleepUntil(Date.now() + plan.downMs, () => false)
      e.restartedAt = Date.now() - plan.t0
      plan.onEvent?.(e, 'restarted')
      e.readyMs = await node.start()
      await cluster.waitWorkerOk(node.route)
      e.okAt = Date.now() - plan.t0
    } catch (err) {
      e.error = (err as Error).message
      // why: a node that did not come back is a finding, not a reason to stop the soak; try once more
      if (!node.up) { try { await node.start(); await cluster.waitWorkerOk(node.route) } catch {} }
    }
    plan.onEvent?.(e, 'done')
    next = Math.max(next + plan.periodMs, Date.now() + 1000)
  }
  return events
}
