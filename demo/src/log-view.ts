/**
 * The demo's merged log: every child writes pino JSON lines; we print one readable line each,
 * prefixed with the time and the process's name, in its colour (colours only on a terminal).
 */
const COLOURS = [36, 33, 35, 32, 34, 31, 96, 93, 95]
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v', 'name', 'component', 'event'])

export class LogView {
  readonly #tty: boolean
  readonly #json: boolean
  readonly #width: number
  constructor (options: { tty: boolean, json: boolean, names: string[] }) {
    this.#tty = options.tty
    this.#json = options.json
    this.#width = Math.max(...options.names.map((n) => n.length), 8)
  }

  #paint (code: number, text: string): string {
    return this.#tty ? `\x1b[${code}m${text}\x1b[0m` : text
  }

  /** a line from the launcher itself */
  say (text: string): void {
    process.stdout.write(`${this.#paint(1, text)}\n`)
  }

  /** a line a child process wrote (JSON or not) */
  line (name: string, colour: number, text: string): void {
    if (this.#json) { process.stdout.write(`${text}\n`); return }
    let rec: Record<string, unknown>
    try { rec = JSON.parse(text) } catch { process.stdout.write(`${this.#prefix(name, colour, Date.now())} ${text}\n`); return }
    const level = typeof rec.level === 'number' ? rec.level : 30
    const extras = Object.entries(rec)
      .filter(([k, v]) => !SKIP.has(k) && v !== null && v !== undefined && typeof v !== 'object')
      .slice(0, 6)
      .map(([k, v]) => `${k}=${String(v)}`)
    const levelText = level >= 50 ? this.#paint(31, LEVELS[level] ?? 'ERROR') : level >= 40 ? this.#paint(33, LEVELS[level] ?? 'WARN ') : LEVELS[level] ?? 'INFO '
    const time = typeof rec.time === 'number' ? rec.time : Date.now()
    const extra = extras.length > 0 ? ' ' + this.#paint(2, extras.join(' ')) : ''
    process.stdout.write(`${this.#prefix(name, colour, time)} ${levelText} ${String(rec.msg ?? '')}${extra}\n`)
  }

  colour (i: number): number { return COLOURS[i % COLOURS.length]! }

  #prefix (name: string, colour: number, time: number): string {
    const d = new Date(time)
    const hms = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.${String(d.getMilliseconds()).padStart(3, '0')}`
    return `${this.#paint(2, hms)} ${this.#paint(colour, name.padEnd(this.#width))}`
  }
}
