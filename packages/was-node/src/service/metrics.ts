/**
 * GET /_nodecat/metrics: the status counters in the Prometheus text format (version 0.0.4), every
 * series labelled with this node's route. Like the status, it never names a session.
 */
import type { FastifyInstance } from 'fastify'
import type { StatusSource } from './status.js'

export const METRICS_PATH = '/_nodecat/metrics'

type Sample = [labels: Record<string, string>, value: number]

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function family (out: string[], name: string, type: 'gauge' | 'counter', help: string, samples: Sample[], route: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
  for (const [labels, value] of samples) {
    const all = { route, ...labels }
    const text = Object.entries(all).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
    out.push(`${name}{${text}} ${Number.isFinite(value) ? value : 0}`)
  }
}

/** The metrics text (exported for tests). */
export function metricsText (source: StatusSource): string {
  const route = source.jvmRoute
  const channel = source.channel()
  const s = source.sessions()
  const c = channel?.stats()
  const sum = (o: Partial<Record<string, number>> | undefined) => Object.values(o ?? {}).reduce<number>((a, b) => a + (b ?? 0), 0)
  const out: string[] = []
  family(out, 'nodecat_uptime_seconds', 'gauge', 'Seconds since the node started.', [[{}, Math.round((Date.now() - source.startedAt) / 1000)]], route)
  family(out, 'nodecat_members', 'gauge', 'Members currently seen, by kind.', [
    [{ kind: 'nodecat' }, channel?.members().length ?? 0],
    [{ kind: 'foreign' }, channel?.foreignMembers().length ?? 0]
  ], route)
  family(out, 'nodecat_sessions', 'gauge', 'Sessions held, by role.', [
    [{ role: 'primary' }, s?.primary ?? 0],
    [{ role: 'backup' }, s?.backup ?? 0]
  ], route)
  family(out, 'nodecat_sessions_expired_total', 'counter', 'Sessions expired on this node.', [[{}, s?.expired ?? 0]], route)
  family(out, 'nodecat_sessions_rejected_total', 'counter', 'Session changes refused, by reason.', [
    [{ reason: 'too_large' }, s?.rejected.tooLarge ?? 0],
    [{ reason: 'too_many' }, s?.rejected.tooMany ?? 0],
    [{ reason: 'not_serializable' }, s?.rejected.notSerializable ?? 0]
  ], route)
  family(out, 'nodecat_replication_messages_total', 'counter', 'Session replication messages, by direction.', [
    [{ direction: 'sent' }, sum(s?.sent)],
    [{ direction: 'received' }, sum(s?.received)]
  ], route)
  family(out, 'nodecat_replication_send_failures_total', 'counter', 'Replication messages a member did not get.', [[{}, s?.sendFailures ?? 0]], route)
  family(out, 'nodecat_replication_deltas_applied_total', 'counter', 'Deltas from peers applied here.', [[{}, s?.deltasApplied ?? 0]], route)
  family(out, 'nodecat_replication_conflicts_total', 'counter', 'Concurrent writes to one session resolved by dropping one.', [[{}, s?.conflicts ?? 0]], route)
  family(out, 'nodecat_replication_lag_milliseconds', 'gauge', 'Delay from a change on its writer to its apply here.', [
    [{ stat: 'last' }, s?.lag.lastMs ?? 0],
    [{ stat: 'max' }, s?.lag.maxMs ?? 0]
  ], route)
  family(out, 'nodecat_channel_queued_messages', 'gauge', 'Messages waiting in the async dispatch queue.', [[{}, c?.queued ?? 0]], route)
  family(out, 'nodecat_channel_bytes_total', 'counter', 'Cluster bytes, by direction.', [
    [{ direction: 'sent' }, c?.bytesSent ?? 0],
    [{ direction: 'received' }, c?.bytesReceived ?? 0]
  ], route)
  family(out, 'nodecat_channel_dropped_total', 'counter', 'Frames, datagrams and messages dropped, by reason.',
    Object.entries(c?.dropped ?? {}).map(([reason, n]) => [{ reason }, n] as Sample), route)
  family(out, 'nodecat_pages_refused_total', 'counter', 'Requests to /_nodecat/* refused because their Host does not name this node, by code.',
    Object.entries(source.pagesRefused?.() ?? {}).map(([code, n]) => [{ code }, n ?? 0] as Sample), route)
  const f = s?.fetch
  family(out, 'nodecat_session_fetches_total', 'counter', 'Sessions a request named that this node lacked, asked of the peers before the app ran, by outcome.', [
    [{ outcome: 'found' }, f?.found ?? 0],
    [{ outcome: 'not_found' }, f?.notFound ?? 0],
    [{ outcome: 'timed_out' }, f?.timedOut ?? 0],
    [{ outcome: 'remembered_miss' }, f?.remembered ?? 0],
    [{ outcome: 'busy' }, f?.busy ?? 0]
  ], route)
  family(out, 'nodecat_reconcile_digests_total', 'counter', 'Session digests exchanged with members not known at start, by direction.', [
    [{ direction: 'sent' }, s?.reconcile.digestsSent ?? 0],
    [{ direction: 'received' }, s?.reconcile.digestsReceived ?? 0]
  ], route)
  family(out, 'nodecat_reconcile_sessions_pushed_total', 'counter', 'Sessions sent to a member whose digest lacked them or held an older copy.', [[{}, s?.reconcile.sessionsPushed ?? 0]], route)
  const tn = source.tomcatNeighbour?.()
  family(out, 'nodecat_tomcat_answers_total', 'counter', 'Requests of a Tomcat on the group answered, by answer (no_context_manager: its GET_ALL_SESSIONS, so it does not wait for state nodecat never gives).', [
    [{ answer: 'no_context_manager' }, tn?.answeredNoContextManager ?? 0]
  ], route)
  family(out, 'nodecat_foreign_messages_dropped_total', 'counter', 'Messages of foreign members (Tomcats) dropped unanswered, by reason (other-event: their session traffic).',
    Object.entries(tn?.dropped ?? {}).map(([reason, n]) => [{ reason }, n] as Sample), route)
  const ajp = source.ajp?.()
  if (ajp != null) {
    family(out, 'nodecat_ajp_connections', 'gauge', 'Open AJP connections (a front end pools them).', [[{}, ajp.connections]], route)
    family(out, 'nodecat_ajp_requests_total', 'counter', 'AJP Forward Requests received.', [[{}, ajp.requests]], route)
    family(out, 'nodecat_ajp_cpings_total', 'counter', 'AJP CPings, by answer: cpong, or closed while the node was not ready.', [
      [{ answer: 'cpong' }, ajp.cpongs],
      [{ answer: 'closed' }, ajp.cpingsRefused]
    ], route)
    family(out, 'nodecat_ajp_refused_total', 'counter', 'AJP requests the app never saw, by reason: secret (403), not_processed (closed before any header so the front end retries another member).', [
      [{ reason: 'secret' }, ajp.secretRefused],
      [{ reason: 'not_processed' }, ajp.notProcessed]
    ], route)
    family(out, 'nodecat_ajp_errors_total', 'counter', 'AJP connections closed for an error, by code.',
      Object.entries(ajp.errors).map(([code, n]) => [{ code }, n] as Sample), route)
  }
  family(out, 'nodecat_ready', 'gauge', '1 once the initial session transfer is over.', [[{}, s?.ready === true ? 1 : 0]], route)
  return out.join('\n') + '\n'
}

export function registerMetrics (app: FastifyInstance, source: StatusSource): void {
  app.get(METRICS_PATH, async (_request, reply) => {
    reply.header('cache-control', 'no-store').type('text/plain; version=0.0.4; charset=utf-8')
    return metricsText(source)
  })
}
