/**
 * A small hand-written SVG bar chart: one horizontal bar per label, the median as the bar, the
 * min–max spread as a whisker, and the value written at the end. No chart library needed.
 */

export interface Bar {
  label: string
  value: number
  low?: number
  high?: number
  /** text shown after the bar; default: the value */
  text?: string
  /** drawn grey: the reference the other bars are compared with */
  baseline?: boolean
}

export interface Chart {
  title: string
  /** axis caption, e.g. "requests/s (median, whisker = min–max)" */
  unit: string
  bars: Bar[]
  /** small print under the chart (machine, date) */
  footer?: string
}

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

export function barChartSvg (chart: Chart): string {
  const labelW = Math.min(300, 24 + 7.5 * Math.max(8, ...chart.bars.map((b) => b.label.length)))
  const plotW = 420
  const textW = 170
  const rowH = 26
  const top = 46
  const width = labelW + plotW + textW
  const height = top + rowH * chart.bars.length + 44
  const finite = chart.bars.flatMap((b) => [b.value, b.high ?? b.value]).filter((v) => Number.isFinite(v))
  const max = Math.max(1e-12, ...finite)
  const x = (v: number): number => labelW + (Number.isFinite(v) ? Math.max(0, v) / max : 0) * plotW
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
    `<text x="10" y="37" fill="#555">${esc(chart.unit)}</text>`
  ]
  chart.bars.forEach((b, i) => {
    const y = top + i * rowH
    const ok = Number.isFinite(b.value)
    out.push(`<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(b.label)}</text>`)
    if (ok) {
      out.push(`<rect x="${labelW}" y="${y + 4}" width="${(x(b.value) - labelW).toFixed(1)}" height="${rowH - 8}" fill="${b.baseline === true ? '#8a8a8a' : '#3b78c4'}"/>`)
      if (b.low !== undefined && b.high !== undefined && Number.isFinite(b.low) && Number.isFinite(b.high)) {
        const yc = y + rowH / 2
        out.push(`<path d="M${x(b.low).toFixed(1)} ${yc}H${x(b.high).toFixed(1)}M${x(b.low).toFixed(1)} ${yc - 5}V${yc + 5}M${x(b.high).toFixed(1)} ${yc - 5}V${yc + 5}" stroke="#222" stroke-width="1.2" fill="none"/>`)
      }
    }
    const text = b.text ?? (ok ? String(b.value) : 'not available')
    out.push(`<text x="${Math.max(x(b.high ?? b.value), x(b.value)) + 6}" y="${y + 16}" fill="${ok ? '#000' : '#a00'}">${esc(text)}</text>`)
  })
  const axisY = top + rowH * chart.bars.length + 2
  out.push(`<line x1="${labelW}" y1="${top}" x2="${labelW}" y2="${axisY}" stroke="#000"/>`)
  if (chart.footer) out.push(`<text x="10" y="${height - 10}" fill="#777" font-size="10">${esc(chart.footer)}</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
