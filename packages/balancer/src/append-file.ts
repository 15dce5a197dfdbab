/** The access log file of `--access-log-file`: appended to, reopened on SIGHUP (after logrotate moved it). */
import { createWriteStream, openSync, type WriteStream } from 'node:fs'
import type { Logger } from 'pino'
import { UsageError } from './cli-args.js'

/** An append-only log file that can be reopened (after logrotate moved it); lines written while it reopens are kept in order. */
export class AppendFile {
  readonly #path: string
  readonly #logger: Logger
  #stream: WriteStream

  constructor (path: string, logger: Logger) {
    this.#path = path
    this.#logger = logger
    this.#stream = this.#open()
  }

  #open (): WriteStream {
    // why openSync: a path we cannot write is a start-up error, not a silent loss of every line
    let fd: number
    try { fd = openSync(this.#path, 'a', 0o640) } catch (err) { throw new UsageError(`--access-log-file ${JSON.stringify(this.#path)}: ${(err as Error).message}`) }
    const s = createWriteStream('', { fd })
    s.on('error', (err) => this.#logger.error({ err, file: this.#path }, 'access log write failed'))
    return s
  }

  write (text: string): void { this.#stream.write(text) }

  reopen (): void {
    let next: WriteStream
    try { next = this.#open() } catch (err) {
      this.#logger.error({ err, file: this.#path }, 'access log reopen failed; still writing to the old file')
      return
    }
    this.#stream.end()
    this.#stream = next
    this.#logger.info({ file: this.#path }, 'access log reopened')
  }

  close (): void { this.#stream.end() }
}
