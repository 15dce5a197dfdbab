/**
 * The status document as a small HTML page, for a person with a browser (GET /_nodecat/status with
 * Accept: text/html). Same content as the JSON; everything shown is escaped.
 */
const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

interface MemberRow { id: string, route: string | null, http: string | null, role: string | null, aliveTime: number, domain: string }

function table (rows: MemberRow[], empty: string): string {
  if (rows.length === 0) return `<p>${esc(empty)}</p>`
  return `<table><tr><th>route</th><th>HTTP</th><th>role</th><th>member</th><th>alive</th></tr>${rows.map((m) =>
    `<tr><td>${esc(m.route ?? '-')}</td><td>${esc(m.http ?? '-')}</td><td>${esc(m.role ?? 'foreign')}</td><td><code>${esc(m.id)}</code></td><td>${esc(Math.round(m.aliveTime / 1000))} s</td></tr>`).join('')}</table>`
}

export function statusPage (doc: Record<string, any>): string {
  const r = doc.replication ?? {}
  const s = doc.sessions ?? {}
  const xfer = doc.stateTransfer ?? {}
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>nodecat ${esc(doc.jvmRoute)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:1.5rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left}
code{font-size:.85em}.ok{color:#16794c}.wait{color:#a35c00}</style></head><body>
<h1>node ${esc(doc.jvmRoute)} <small class="${doc.ready ? 'ok' : 'wait'}">${doc.ready ? 'ready' : 'starting'}</small></h1>
<p>HTTP ${esc(doc.http)} · up ${esc(doc.uptime)} s · state transfer: ${esc(xfer.state ?? '-')}</p>
<h2>Members</h2>${table(doc.members ?? [], 'no other nodecat members')}
${(doc.foreignMembers ?? []).length > 0 ? `<h2>Foreign members</h2>${table(doc.foreignMembers, '')}` : ''}
<h2>Sessions</h2><p>${esc(s.count ?? 0)} held (${esc(s.primary ?? 0)} primary, ${esc(s.backup ?? 0)} backup) · ${esc(s.expired ?? 0)} expired</p>
<h2>Replication</h2><table>
<tr><td>messages sent / received</td><td>${esc(r.sent)} / ${esc(r.received)}</td></tr>
<tr><td>send failures</td><td>${esc(r.failed)}</td></tr>
<tr><td>queued</td><td>${esc(r.queued)} messages, ${esc(r.bytes?.queued)} bytes</td></tr>
<tr><td>bytes sent / received</td><td>${esc(r.bytes?.sent)} / ${esc(r.bytes?.received)}</td></tr>
<tr><td>lag last / max</td><td>${esc(r.lag?.lastMs)} ms / ${esc(r.lag?.maxMs)} ms</td></tr>
<tr><td>conflicts</td><td>${esc(r.conflicts)}</td></tr></table>
<p><a href="?format=json">JSON</a> · <a href="metrics">Prometheus metrics</a></p>
</body></html>
`
}
