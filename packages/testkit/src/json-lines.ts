/**
 * A child's stdout as JSON lines: text chunks go in, each complete line is parsed (a line that is
 * not JSON is kept as `{ msg: line }`) and kept, and waitFor() resolves with the first line, past
 * or future, that matches. close() ends the stream: waiting stops with an error that says why.
 */
export type LogLine = Record<string, any>
export type LineMatch = (line: LogLine) => boolean

interface Waiter { match: LineMatch, what: string, resolve: (line: LogLine) => void, reject: (err: Error) => void }

export interface JsonLinesOptions {
  /** names the source in errors, e.g. "pid 1234" */
  label?: string
  /** more to say in an error (e.g. the tail of stderr) */
  context?: () => string
  /** keep only the newest lines (default: all); a long soak logs a lot */
  maxLines?: number
}

export class JsonLines {
  /** the lines so far, oldest first */
  readonly lines: LogLine[] = []
  readonly #waiters = new Set<Waiter>()
  readonly #label: string
  readonly #context: () => string
  readonly #maxLines: number
  #buf = ''
  #closed: string | null = null

  constructor ({ label = 'stream', context = () => '', maxLines = Infinity }: JsonLinesOptions = {}) {
    this.#label = label
    this.#context = context
    this.#maxLines = maxLines
  }

  /** a chunk of text; complete lines are parsed and matched */
  push (chunk: string): void {
    this.#buf += chunk
    let i
    while ((i = this.#buf.indexOf('\n')) >= 0) {
      const text = this.#buf.slice(0, i)
      this.#buf = this.#buf.slice(i + 1)
      if (text.trim() !== '') this.#add(text)
    }
  }

  #add (text: string): void {
    let line: LogLine
    try { line = JSON.parse(text) } catch { line = { msg: text } }
    // why: JSON.parse('3') is not an object; keep every line an object
    if (typeof line !== 'object' || line === null) line = { msg: text }
    this.lines.push(line)
    // why: drop in batches, not one shift per line
    if (this.lines.length > this.#maxLines * 1.25) this.lines.splice(0, this.lines.length - this.#maxLines)
    for (const w of this.#waiters) if (w.match(line)) { this.#waiters.delete(w); w.resolve(line) }
  }

  /** no more lines will come (`why`, e.g. "exited (code 1, signal null)"): pending waits fail with it */
  close (why: string): void {
    if (this.#closed !== null) return
    if (this.#buf.trim() !== '') this.#add(this.#buf)
    this.#buf = ''
    this.#closed = why
    for (const w of this.#waiters) w.reject(new Error(`${this.#label} ${why} before ${w.what}; ${this.#context()}`))
    this.#waiters.clear()
  }

  /** the first line (past or future) for which match() is true; rejects after timeoutMs or at close() */
  async waitFor (match: LineMatch, timeoutMs = 15_000, what = 'a matching log line'): Promise<LogLine> {
    const found = this.lines.find(match)
    if (found !== undefined) return found
    if (this.#closed !== null) throw new Error(`${this.#label} ${this.#closed} before ${what}; ${this.#context()}`)
    return await new Promise((resolve, reject) => {
      const w: Waiter = {
        match,
        what,
        resolve: (line) => { clearTimeout(timer); resolve(line) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(w)
        reject(new Error(`${this.#label}: no ${what} within ${timeoutMs} ms; ${this.#context()}; last lines: ${JSON.stringify(this.lines.slice(-5))}`))
      }, timeoutMs)
      this.#waiters.add(w)
    })
  }
}
