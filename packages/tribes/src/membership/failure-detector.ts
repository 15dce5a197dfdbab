/**
 * TcpFailureDetector semantics: before a member is given up, check its receiver over TCP.
 * A refused or timed-out connect means the process is gone. An accepted connect is not enough: the
 * kernel accepts connections for a frozen (SIGSTOPped, swapped-out, wedged) process too, so the
 * default probe also sends Tomcat's TCP_FAIL_DETECT message with USE_ACK and requires the ACK,
 * which only a running receiver writes (Tomcat's performReadTest). Receivers swallow the message.
 */
import net from 'node:net'
import type { ReceiverState } from '../types.js'
import { randomBytes } from 'node:crypto'
import { encodeChannelDataFrame } from '../codec/channel-data.js'
import { FrameParser, isAck } from '../codec/frame.js'
import { SEND_OPTIONS } from '../codec/send-options.js'
import { TCP_FAIL_DETECT } from '../codec/envelope.js'

/** Resolve true when host:port accepts a TCP connection within timeoutMs. Never rejects. */
export type Probe = (host: string, port: number, timeoutMs: number) => Promise<boolean>

/**
 * What a probe found at a receiver address: `answering` (a running receiver acknowledged),
 * `silent` (the connect was accepted but nothing answered: a frozen process, or not a receiver),
 * `down` (refused, or no connect within the timeout).
 */
export type { ReceiverState } from '../types.js'

/**
 * Connect to host:port within timeoutMs, then let `connected` decide: it calls `finish(true)` for
 * an answer and may re-arm the timer with `wait(ms)`. The socket is always destroyed; never rejects.
 */
async function connectProbe (host: string, port: number, timeoutMs: number,
  connected: (socket: net.Socket, finish: (answered: boolean) => void, wait: (ms: number) => void) => void): Promise<ReceiverState> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host, port })
    let done = false
    let isConnected = false
    let timer: NodeJS.Timeout
    const finish = (answered: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(answered ? 'answering' : isConnected ? 'silent' : 'down')
    }
    const wait = (ms: number): void => { clearTimeout(timer); timer = setTimeout(() => finish(false), ms) }
    wait(timeoutMs)
    socket.once('connect', () => { isConnected = true; connected(socket, finish, wait) })
    socket.once('error', () => finish(false))
    socket.once('close', () => finish(false))
  })
}

/** The connect-only probe: connect, then close at once (Tomcat's performReadTest=false). */
export const tcpProbe: Probe = async (host, port, timeoutMs) => await connectProbe(host, port, timeoutMs, (_socket, finish) => finish(true)) === 'answering'

/**
 * Connect within timeoutMs, send TCP_FAIL_DETECT (BYTE_MESSAGE|USE_ACK) as `sender` (our member
 * blob), and say whether an ACK came back within ackTimeoutMs.
 */
export async function probeReceiver (host: string, port: number, timeoutMs: number, sender: Buffer, ackTimeoutMs = 2000): Promise<ReceiverState> {
  return await connectProbe(host, port, timeoutMs, (socket, finish, wait) => {
    wait(ackTimeoutMs)
    const parser = new FrameParser({ maxFrameSize: 64 })
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[]
      try { bodies = parser.push(chunk) } catch { finish(false); return }
      if (bodies.length > 0) finish(isAck(bodies[0]!))
    })
    socket.setNoDelay(true)
    socket.write(encodeChannelDataFrame({
      options: SEND_OPTIONS.BYTE_MESSAGE | SEND_OPTIONS.USE_ACK,
      timestamp: Date.now(),
      uniqueId: randomBytes(16),
      sender,
      message: TCP_FAIL_DETECT
    }))
  })
}

/** The answering probe: true only when a running receiver acknowledged ({@link probeReceiver}). */
export function ackProbe (sender: () => Buffer, ackTimeoutMs = 2000): Probe {
  return async (host, port, timeoutMs) => await probeReceiver(host, port, timeoutMs, sender(), ackTimeoutMs) === 'answering'
}

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
