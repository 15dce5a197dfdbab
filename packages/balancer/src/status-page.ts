/** The human status page at the admin listener's "/": server-rendered HTML+CSS that refreshes itself. */
import type { BalancerStatus } from './status.js'

function esc (value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.state-ok{background:#dff5df;color:#135d13;font-weight:bold}
.state-error{background:#c62828;color:#fff;font-weight:bold}
.state-recovering{background:#fff3c4;color:#7a5b00;font-weight:bold}
.act-disabled{color:#7a5b00}.act-stopped{color:#888;text-decoration:line-through}
small{color:#666}`

export function renderStatusPage (s: BalancerStatus, refreshSeconds: number): string {
  const b = s.balancer
  const rows = s.workers.map((w) => `<tr class="worker" data-route="${esc(w.route)}">
<td>${esc(w.route)}</td><td>${esc(w.address)}</td><td class="act-${esc(w.activation)}">${esc(w.activation)}</td>
<td class="state-${esc(w.state.toLowerCase())}">${esc(w.state)}</td><td class="num">${w.lbfactor}</td>
<td class="num">${w.inFlight}</td><td class="num">${w.requests}</td><td class="num">${w.sessionsRouted}</td>
<td class="num">${w.errors}</td><td>${w.lastError === null ? '' : `${esc(w.lastError.code)} <small>${esc(w.lastError.at)}</small>`}</td>
<td>${esc(w.source)}</td></tr>`).join('\n')
  const answered = Object.entries(b.answered).map(([k, n]) => `${esc(k)}: ${n}`).join(', ') || 'none'
  const refused = Object.entries(b.adminRefused ?? {}).map(([k, n]) => `${esc(k)}: ${n}`).join(', ') || 'none'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${refreshSeconds}">
<title>nodecat balancer</title><style>${CSS}</style></head><body>
<h1>nodecat balancer</h1>
<p>Listening on ${esc(b.listen ?? '-')} &middot; up ${Math.round(b.uptimeSeconds)} s &middot; method ${esc(b.method)} &middot;
sticky ${b.stickySession ? 'on' : 'off'}${b.stickySessionForce ? ' (forced)' : ''} &middot;
workers ${b.workers.ok} OK, ${b.workers.recovering} recovering, ${b.workers.error} in ERROR of ${b.workers.total}</p>
<table><thead><tr><th>Route</th><th>Address</th><th>Activation</th><th>State</th><th>Factor</th><th>In flight</th>
<th>Requests</th><th>Sessions routed</th><th>Errors</th><th>Last error</th><th>Source</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="11">no workers</td></tr>'}
</tbody></table>
<p>Requests ${b.requests} &middot; in flight ${b.inFlight} &middot; retries ${b.retries} &middot; WebSockets ${b.websockets} &middot;
malformed requests ${b.clientErrors} &middot; connections refused (per IP) ${b.connectionsRefused?.perIp ?? 0} &middot; balancer answers: ${answered} &middot; admin requests refused: ${refused}</p>
<p><small>Refreshes every ${refreshSeconds} s. JSON at <a href="status">/status</a>, Prometheus at <a href="metrics">/metrics</a>.</small></p>
</body></html>
`
}
