/** /metrics in the Prometheus text exposition format (version 0.0.4). */
import type { BalancerStatus } from './status.js'

function label (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

class Writer {
  text = ''
  family (name: string, type: 'counter' | 'gauge', help: string): void {
    this.text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`
  }

  sample (name: string, labels: Record<string, string> | null, value: number): void {
    let l = ''
    if (labels !== null) l = '{' + Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',') + '}'
    this.text += `${name}${l} ${Number.isFinite(value) ? value : 0}\n`
  }
}

const STATES = ['OK', 'ERROR', 'RECOVERING'] as const
const ACTIVATIONS = ['active', 'disabled', 'stopped'] as const

export function renderMetrics (s: BalancerStatus): string {
  const w = new Writer()
  const b = s.balancer
  w.family('nodecat_balancer_requests_total', 'counter', 'Client requests received (including WebSocket upgrades).')
  w.sample('nodecat_balancer_requests_total', null, b.requests)
  w.family('nodecat_balancer_in_flight', 'gauge', 'Client requests being served now.')
  w.sample('nodecat_balancer_in_flight', null, b.inFlight)
  w.family('nodecat_balancer_retries_total', 'counter', 'Requests tried again after a worker failure.')
  w.sample('nodecat_balancer_retries_total', null, b.retries)
  w.family('nodecat_balancer_hedges_total', 'counter', 'Idempotent requests sent once more to another worker after theirs stayed silent (hedge).')
  w.sample('nodecat_balancer_hedges_total', null, b.hedges?.sent ?? 0)
  w.family('nodecat_balancer_hedge_wins_total', 'counter', 'Hedge races by the try that answered first (hedge: the second worker; original: the first).')
  w.sample('nodecat_balancer_hedge_wins_total', { winner: 'hedge' }, b.hedges?.wonByHedge ?? 0)
  w.sample('nodecat_balancer_hedge_wins_total', { winner: 'original' }, b.hedges?.wonByOriginal ?? 0)
  w.family('nodecat_balancer_websockets_total', 'counter', 'WebSocket connections established through the balancer.')
  w.sample('nodecat_balancer_websockets_total', null, b.websockets)
  w.family('nodecat_balancer_client_errors_total', 'counter', 'Malformed client requests rejected before reaching a worker.')
  w.sample('nodecat_balancer_client_errors_total', null, b.clientErrors)
  w.family('nodecat_balancer_connections_refused_total', 'counter', 'Client connections closed at accept, by reason (per-ip: over maxConnsPerIp from one address).')
  w.sample('nodecat_balancer_connections_refused_total', { reason: 'per-ip' }, b.connectionsRefused?.perIp ?? 0)
  w.family('nodecat_balancer_answers_total', 'counter', 'Responses the balancer produced itself, by error code.')
  for (const [code, n] of Object.entries(b.answered)) w.sample('nodecat_balancer_answers_total', { code }, n)
  w.family('nodecat_balancer_admin_refused_total', 'counter', 'Admin requests refused (Host not this listener, forgeable or cross-site change), by error code.')
  for (const [code, n] of Object.entries(b.adminRefused ?? {})) w.sample('nodecat_balancer_admin_refused_total', { code }, n)
  w.family('nodecat_balancer_uptime_seconds', 'gauge', 'Seconds since the balancer started.')
  w.sample('nodecat_balancer_uptime_seconds', null, b.uptimeSeconds)
  if (b.processes !== undefined) {
    w.family('nodecat_balancer_process_up', 'gauge', '1 when the serving process (--workers n) runs.')
    for (const p of b.processes) w.sample('nodecat_balancer_process_up', { proc: String(p.proc) }, p.pid === null ? 0 : 1)
    w.family('nodecat_balancer_process_restarts_total', 'counter', 'Times a serving process was restarted after it died.')
    for (const p of b.processes) w.sample('nodecat_balancer_process_restarts_total', { proc: String(p.proc) }, p.restarts)
  }
  w.family('nodecat_balancer_worker_requests_total', 'counter', 'Requests sent to a worker.')
  for (const x of s.workers) w.sample('nodecat_balancer_worker_requests_total', { route: x.route }, x.requests)
  w.family('nodecat_balancer_worker_errors_total', 'counter', 'Failed requests and connects per worker.')
  for (const x of s.workers) w.sample('nodecat_balancer_worker_errors_total', { route: x.route }, x.errors)
  w.family('nodecat_balancer_worker_sessions_routed_total', 'counter', 'Requests routed to a worker by their session route (sticky hits).')
  for (const x of s.workers) w.sample('nodecat_balancer_worker_sessions_routed_total', { route: x.route }, x.sessionsRouted)
  w.family('nodecat_balancer_worker_in_flight', 'gauge', 'Requests in flight per worker.')
  for (const x of s.workers) w.sample('nodecat_balancer_worker_in_flight', { route: x.route }, x.inFlight)
  w.family('nodecat_balancer_worker_up', 'gauge', '1 when the worker state is OK.')
  for (const x of s.workers) w.sample('nodecat_balancer_worker_up', { route: x.route }, x.state === 'OK' ? 1 : 0)
  w.family('nodecat_balancer_worker_state', 'gauge', 'Worker state (1 for the current one).')
  for (const x of s.workers) for (const st of STATES) w.sample('nodecat_balancer_worker_state', { route: x.route, state: st }, x.state === st ? 1 : 0)
  w.family('nodecat_balancer_worker_activation', 'gauge', 'Worker activation (1 for the current one).')
  for (const x of s.workers) for (const a of ACTIVATIONS) w.sample('nodecat_balancer_worker_activation', { route: x.route, activation: a }, x.activation === a ? 1 : 0)
  return w.text
}
