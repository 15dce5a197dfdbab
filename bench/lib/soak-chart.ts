/**
 * The soak's picture: one panel per measure (heap after GC, RSS, open fds, sessions held) over the run's time,
 * one line per process instance (a restarted node is a new line in its node's colour), and a
 * dashed mark at every fault. Hand-written SVG, like svg-chart.ts.
 */
import type { ProcessSample } from './soak-sampler.js'
import type { FaultEvent } from './soak-faults.js'

const COLOURS: Record<string, string> = { balancer: '#222222', n1: '#3b78c4', n2: '#d9822b', n3: '#3a9a4a', n4: '#a03ab0', n5: '#b03a3a' }

interface Panel { title: string, value: (s: ProcessSample) => number | null }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function soakChartSvg (title: string, samples: readonly ProcessSample[], faults: readonly FaultEvent[], footer: string): string {
  const panels: Panel[] = [
    { title: 'heap used after GC, MB', value: (s) => s.heapUsed === null ? null : s.heapUsed / 2 ** 20 },
    { title: 'RSS, MB', value: (s) => s.rss / 2 ** 20 },
    { title: 'open file descriptors', value: (s) => s.fds },
    { title: 'sessions held (nodes)', value: (s) => s.sessions }
  ]
  const left = 60; const plotW = 760; const panelH = 150; const gap = 44; const top = 60
  const width = left + plotW + 110
  const height = top + panels.length * (panelH + gap) + 20
  const tMax = Math.max(1, ...samples.map((s) => s.t)) / 1000
  const x = (ms: number): number => left + (ms / 1000 / tMax) * plotW
  const byName = new Map<string, ProcessSample[]>()
  for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s])
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    '<text x="10" y="38" fill="#555">one line per process (a restarted node continues in its colour); dashed: a fault (k=SIGKILL, t=SIGTERM, q=SIGKILL + restart at once)</text>'
  ]
  panels.forEach((p, i) => {
    const y0 = top + i * (panelH + gap)
    const values = samples.map(p.value).filter((v): v is number => v !== null)
    const vMax = Math.max(1e-9, ...values) * 1.1
    const y = (v: number): number => y0 + panelH - (v / vMax) * panelH
    out.push(`<text x="${left}" y="${y0 - 6}" font-weight="bold">${esc(p.title)}</text>`)
    out.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${panelH}" fill="none" stroke="#bbb"/>`)
    for (const f of [0, 0.5, 1]) out.push(`<text x="${left - 6}" y="${(y(vMax * f) + 4).toFixed(1)}" text-anchor="end" fill="#555">${(vMax * f).toFixed(vMax < 10 ? 1 : 0)}</text>`)
    for (const f of faults) {
      const fx = x(f.at).toFixed(1)
      out.push(`<line x1="${fx}" y1="${y0}" x2="${fx}" y2="${y0 + panelH}" stroke="#c33" stroke-dasharray="3,3"/>`)
      if (i === 0) out.push(`<text x="${fx}" y="${y0 + 10}" fill="#c33" font-size="9">${f.kind[0]}${f.node.slice(1)}</text>`)
    }
    for (const [name, list] of byName) {
      const pts = list.map((s) => [s.t, p.value(s)] as const).filter((pt): pt is readonly [number, number] => pt[1] !== null)
      if (pts.length === 0) continue
      const colour = COLOURS[name.split('#')[0]!] ?? '#777'
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.4" points="${pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`)
    }
    out.push(`<text x="${left + plotW}" y="${y0 + panelH + 14}" text-anchor="end" fill="#555">${tMax.toFixed(0)} s</text>`)
    out.push(`<text x="${left}" y="${y0 + panelH + 14}" fill="#555">0 s</text>`)
  })
  const names = [...new Set([...byName.keys()].map((n) => n.split('#')[0]!))]
  names.forEach((n, i) => {
    out.push(`<line x1="${left + plotW + 14}" y1="${top + 10 + i * 16}" x2="${left + plotW + 34}" y2="${top + 10 + i * 16}" stroke="${COLOURS[n] ?? '#777'}" stroke-width="2"/>`)
    out.push(`<text x="${left + plotW + 40}" y="${top + 14 + i * 16}">${esc(n)}</text>`)
  })
  out.push(`<text x="10" y="${height - 6}" fill="#777" font-size="10">${esc(footer)}</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
