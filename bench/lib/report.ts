/**
 * The results of one benchmark run: written to bench/results/<name>-<timestamp>.json (everything,
 * raw samples included), <name>.md (the latest summary as Markdown tables, with the machine) and
 * <name>.svg (a bar chart), and printed as plain tables at the end of the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Table from 'cli-table3'
import { describeMachine, type MachineInfo } from './machine.js'
import { barChartSvg, type Bar, type Chart } from './svg-chart.js'
import { summarize, pairedRatio, formatNumber } from './stats.js'
import { startNoiseMeter, describeNoise, type NoiseReport } from './noise.js'
import { isAborted } from './cleanup.js'

// why: started when the benchmark module loads, read when the report is written
const noiseMeter = startNoiseMeter()

export interface ReportTable {
  title: string
  columns: string[]
  rows: string[][]
}

export interface Report {
  /** file name stem: "balancer" → results/balancer.md */
  name: string
  title: string
  /** the command that produced it */
  command: string
  machine: MachineInfo
  /** plain sentences printed above the tables: what was measured, how to read it, caveats */
  notes: string[]
  tables: ReportTable[]
  chart?: Chart
  /** raw samples and settings, JSON file only */
  raw: unknown
  /** filled in by writeReport: what other jobs used meanwhile */
  noise?: NoiseReport
}

/** bench/results (from bench/dist/lib at run time); BENCH_RESULTS_DIR elsewhere (smoke tests write to a temp dir). */
export const resultsDir = process.env.BENCH_RESULTS_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'results')

function markdownTable (t: ReportTable): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|')
  return [
    `### ${t.title}`,
    '',
    `| ${t.columns.map(cell).join(' | ')} |`,
    `| ${t.columns.map(() => '---').join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    ''
  ].join('\n')
}

export function reportMarkdown (r: Report): string {
  return [
    `# ${r.title}`,
    '',
    `Command: \`${r.command}\`  `,
    `Date: ${r.machine.date}  `,
    `Machine: ${describeMachine(r.machine)}`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    ...r.tables.map(markdownTable),
    r.chart ? `![${r.chart.title}](${r.name}.svg)\n` : ''
  ].join('\n')
}

export function printReport (r: Report): void {
  const lines: string[] = ['', `== ${r.title}`, `machine: ${describeMachine(r.machine)}`, ...r.notes.map((n) => `* ${n}`)]
  for (const t of r.tables) {
    // why: cli-table3 colours head and border even without a TTY; plain style keeps CI logs clean
    const table = new Table({ head: t.columns, style: { head: [], border: [] } })
    for (const row of t.rows) table.push(row)
    lines.push('', t.title, table.toString())
  }
  process.stdout.write(lines.join('\n') + '\n')
}

/** Write the three files and print the tables; returns the paths written. */
export function writeReport (r: Report): string[] {
  if (isAborted()) { process.stderr.write('interrupted: no results written\n'); return [] }
  r.noise = noiseMeter()
  r.notes = [describeNoise(r.noise), ...r.notes]
  mkdirSync(resultsDir, { recursive: true })
  const stamp = r.machine.date.replace(/[:.]/g, '-')
  const json = path.join(resultsDir, `${r.name}-${stamp}.json`)
  const md = path.join(resultsDir, `${r.name}.md`)
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n')
  writeFileSync(md, reportMarkdown(r))
  const written = [json, md]
  if (r.chart) {
    const svg = path.join(resultsDir, `${r.name}.svg`)
    writeFileSync(svg, barChartSvg({ ...r.chart, footer: r.chart.footer ?? `${r.machine.date} · ${r.machine.cpuModel}, ${r.machine.cores} cores, Node ${r.machine.node}, profile ${r.machine.profile}, load ${r.machine.loadavg[0]} at start` }))
    written.push(svg)
  }
  printReport(r)
  process.stdout.write(`\nwritten: ${written.map((p) => path.relative(process.cwd(), p)).join(', ')}\n`)
  return written
}

/**
 * Bars of requests/s, one per variant (median, whisker min–max, the first the baseline), each
 * labelled with its paired ratio to `against` (per repetition) and `suffix`; none on the first.
 */
export function rpsBars (outcomes: ReadonlyArray<{ name: string, unavailable?: string }>, rps: number[][], against: number[], suffix = '×'): Bar[] {
  return outcomes.map((o, i) => {
    const s = summarize(rps[i]!)
    const ratio = i === 0 ? '' : ` (${pairedRatio(rps[i]!, against).median.toFixed(2)}${suffix})`
    return { label: o.name, baseline: i === 0, value: o.unavailable !== undefined ? NaN : s.median, low: s.min, high: s.max, text: o.unavailable !== undefined ? 'not available' : `${formatNumber(s.median)} req/s${ratio}` }
  })
}
