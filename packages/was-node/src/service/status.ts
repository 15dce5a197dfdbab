/**
 * GET /_nodecat/status: what this node knows of the cluster, as JSON. Members (nodecat and
 * foreign), session counts, replication counters and lag, state-transfer state. Never a session
 * id or a session's contents. `?replicas=1` adds session references, stamps and a digest of every
 * copy held, to check that replicas converged. A worker of `nodecat-was --workers n` adds `worker`:
 * its index, its pid, and its machine's other workers (from the supervisor's NODECAT_WORKER_SIBLINGS)
 * with whether this worker currently has each one as a cluster member.
 */
import type { FastifyInstance } from 'fastify'
import type { Channel, Member } from '@nodecat/tribes'
import type { SessionManagerStats } from '../manager/stats.js'
import type { TomcatNeighbourStats } from '@nodecat/protocol'
import { statusPage } from './status-page.js'
import { workerSiblings, type WorkerSiblings } from './worker-plan.js'
import type { AjpStats } from './ajp/listener.js'

export const STATUS_PATH = '/_nodecat/status'

export interface StatusSource {
  jvmRoute: string
  httpUrl: () => string
  startedAt: number
  channel: () => Channel | null
  sessions: () => SessionManagerStats | null
  /** session references, stamps and one digest of every copy held (`?replicas=1`), if the manager has them */
  replicas?: () => unknown
  /** requests to /_nodecat/* refused (Host not this node's), by code */
  pagesRefused?: () => Partial<Record<string, number>>
  /** answers to Tomcats on the group and their messages dropped (src/neighbour), null before the channel */
  tomcatNeighbour?: () => TomcatNeighbourStats | null
  /** the AJP listener's counters (--ajp), null when it is off */
  ajp?: () => AjpStats | null
  /** this worker's siblings (default: read once from NODECAT_WORKER_SIBLINGS; null when not a worker) */
  workerSiblings?: () => WorkerSiblings | null
}

let fromEnv: { value: WorkerSiblings | null } | null = null
const envSiblings = (): WorkerSiblings | null => (fromEnv ??= { value: workerSiblings(process.env) }).value

/** the `worker` part: null for a node that is no worker of a --workers supervisor */
function workerPart (source: StatusSource, channel: Channel | null): Record<string, unknown> | null {
  const w = (source.workerSiblings ?? envSiblings)()
  if (w === null) return null
  let members: Member[] = []
  try { members = channel?.members() ?? [] } catch {}
  return {
    index: w.index,
    count: w.count,
    pid: process.pid,
    siblings: w.siblings.map((s) => {
      const m = members.find((x) => x.meta?.route === s.route)
      return { route: s.route, http: m?.meta?.http ?? s.http, member: m !== undefined }
    })
  }
}

function member (m: Member) {
  return {
    id: m.id,
    host: m.host,
    port: m.port,
    domain: m.domain,
    aliveTime: m.aliveTime,
    role: m.meta?.role ?? null,
    route: m.meta?.route ?? null,
    http: m.meta?.http ?? null
  }
}

const sum = (counts: Partial<Record<string, number>>): number => Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0)

/** The status document (exported for tests and the CLI). */
export function statusDocument (source: StatusSource): Record<string, unknown> {
  const channel = source.channel()
  const s = source.sessions()
  const c = channel?.stats()
  return {
    jvmRoute: source.jvmRoute,
    http: source.httpUrl(),
    worker: workerPart(source, channel),
    uptime: Math.round((Date.now() - source.startedAt) / 1000),
    member: channel === null ? null : (() => { try { return member(channel.local) } catch { return null } })(),
    members: channel?.members().map(member) ?? [],
    foreignMembers: channel?.foreignMembers().map(member) ?? [],
    // why: what this node said to the Tomcats on its group, and what of theirs it dropped unread
    tomcatNeighbour: source.tomcatNeighbour?.() ?? null,
    sessions: s === null ? null : { count: s.sessions, primary: s.primary, backup: s.backup, expired: s.expired, rejected: s.rejected, manager: s.manager, rebalance: s.rebalance },
    replication: {
      sent: s === null ? 0 : sum(s.sent),
      sentByType: s?.sent ?? {},
      received: s === null ? 0 : sum(s.received),
      failed: s?.sendFailures ?? 0,
      queued: c?.queued ?? 0,
      bytes: { sent: c?.bytesSent ?? 0, received: c?.bytesReceived ?? 0, queued: c?.queuedBytes ?? 0 },
      deltasApplied: s?.deltasApplied ?? 0,
      conflicts: s?.conflicts ?? 0,
      gaps: { recovered: s?.gapsRecovered ?? 0, unrecoverable: s?.gapsUnrecoverable ?? 0 },
      lag: s?.lag ?? { lastMs: 0, maxMs: 0 },
      lastSyncWaitMs: s?.lastSyncWaitMs ?? 0,
      fetch: s?.fetch ?? null,
      reconcile: s?.reconcile ?? null,
      dropped: { channel: c?.dropped ?? {}, sessions: s?.dropped ?? {} }
    },
    pages: { refused: source.pagesRefused?.() ?? {} },
    stateTransfer: s?.transfer ?? null,
    ready: s?.ready ?? false
  }
}

export function registerStatus (app: FastifyInstance, source: StatusSource): void {
  app.get(STATUS_PATH, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    const doc = statusDocument(source)
    // why: on demand only (it hashes every session): lets an operator or a test check that replicas converged
    if ((request.query as { replicas?: string }).replicas === '1') doc.replicas = source.replicas?.() ?? null
    // why: JSON unless a browser asks for a page (and did not ask for JSON explicitly)
    const wantsPage = (request.headers.accept ?? '').includes('text/html') && (request.query as { format?: string }).format !== 'json'
    if (wantsPage) return reply.type('text/html; charset=utf-8').send(statusPage(doc))
    return doc
  })
}
