/**
 * TcpFailureDetector semantics: before a member is given up, try a TCP connect to its receiver.
 * A refused or timed-out connect means the process is gone; an accepted one means it is alive
 * (the heartbeats may just be lost). The probe connects and closes; it sends nothing.
 */
import net from 'node:net'

/** Resolve true when host:port accepts a TCP connection within timeoutMs. Never rejects. */
export type Probe = (host: string, port: number, timeoutMs: number) => Promise<boolean>

/** The default probe: connect, then close at once. */
export const tcpProbe: Probe = async (host, port, timeoutMs) => await new Promise((resolve) => {
  const socket = net.connect({ host, port })
  let done = false
  const finish = (alive: boolean): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    socket.destroy()
    resolve(alive)
  }
  const timer = setTimeout(() => finish(false), timeoutMs)
  socket.once('connect', () => finish(true))
  socket.once('error', () => finish(false))
})

export interface FailureDetectorOptions {
  connectTimeout: number
  probe?: Probe
}

export class FailureDetector {
  readonly #probe: Probe
  readonly #timeout: number
  /** one probe in flight per member id; callers asking meanwhile share its answer */
  readonly #inFlight = new Map<string, Promise<boolean>>()
  #probes = 0

  constructor (options: FailureDetectorOptions) {
    this.#probe = options.probe ?? tcpProbe
    this.#timeout = options.connectTimeout
  }

  /** Is the receiver of this member there? */
  async check (member: { id: string, host: string, port: number }): Promise<boolean> {
    const running = this.#inFlight.get(member.id)
    if (running !== undefined) return await running
    this.#probes++
    const p = this.#probe(member.host, member.port, this.#timeout)
      .catch(() => false)
      .finally(() => this.#inFlight.delete(member.id))
    this.#inFlight.set(member.id, p)
    return await p
  }

  checking (id: string): boolean {
    return this.#inFlight.has(id)
  }

  /** probes started so far */
  get probes (): number { return this.#probes }

  /** resolves when every probe in flight has finished */
  async idle (): Promise<void> {
    await Promise.all([...this.#inFlight.values()])
  }
}
