/**
 * Deploy messages on the cluster channel (sealed with the cluster key like every message there):
 * a request `{ k: 'nodecat.deploy', op, rid, … }` sent with ack to one member, and its answer
 * `{ op: 'reply', rid, ok, value | code + error }` sent back the same way once the work is done
 * (storing a bundle, loading a version and switching to it take longer than a channel ack may).
 * A request that gets no answer in time fails with WAS_ERR_DEPLOY_TIMEOUT; a reply nobody waits
 * for is dropped. The session manager ignores these messages (their `k` is not its own).
 */
import crypto from 'node:crypto'
import type { Channel, Member } from '@nodecat/tribes'
import { serviceErrors } from '../service/errors.js'
import { deployErrors } from './errors.js'

export const DEPLOY_KIND = 'nodecat.deploy'

export type DeployOp = 'store' | 'switch' | 'status' | 'current' | 'fetch'
export const DEPLOY_OPS: readonly DeployOp[] = ['store', 'switch', 'status', 'current', 'fetch']

export interface DeployRequest { k: typeof DEPLOY_KIND, op: DeployOp, rid: string, [field: string]: unknown }
interface DeployReply { k: typeof DEPLOY_KIND, op: 'reply', rid: string, ok: boolean, value?: unknown, code?: string, error?: string }

/** An answer that is an error: the code and message of the member's WasError */
export class RemoteDeployError extends Error {
  readonly code: string
  constructor (code: string, message: string) { super(message); this.code = code; this.name = 'RemoteDeployError' }
}

export type RequestHandler = (req: DeployRequest, from: Member) => Promise<unknown>

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)

export class DeployRpc {
  readonly #channel: Channel
  readonly #pending = new Map<string, { resolve: (v: unknown) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }>()
  readonly #onRequest: RequestHandler
  readonly #onDrop: (reason: string, from: Member) => void
  readonly #off: () => void

  constructor (channel: Channel, onRequest: RequestHandler, onDrop: (reason: string, from: Member) => void) {
    this.#channel = channel
    this.#onRequest = onRequest
    this.#onDrop = onDrop
    this.#off = channel.onMessage((raw, from) => { this.#receive(raw, from) })
  }

  close (): void {
    this.#off()
    for (const [rid, p] of this.#pending) { clearTimeout(p.timer); p.reject(serviceErrors.stopping()); this.#pending.delete(rid) }
  }

  /** Send a request to one member and wait (at most timeoutMs) for its answer. */
  async request (to: Member, op: DeployOp, fields: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    const rid = crypto.randomBytes(12).toString('hex')
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(rid); reject(deployErrors.timeout(to.meta?.route ?? to.id, op, timeoutMs)) }, timeoutMs)
      this.#pending.set(rid, { resolve, reject, timer })
    })
    const sent = await this.#channel.send({ ...fields, k: DEPLOY_KIND, op, rid }, { to, mode: 'ack' }).catch((err: Error) => ({ delivered: [], failed: [{ member: to, error: err }] }))
    if (sent.failed.length > 0) {
      const p = this.#pending.get(rid)
      if (p !== undefined) { clearTimeout(p.timer); this.#pending.delete(rid) }
      throw deployErrors.failed(to.meta?.route ?? to.id, op, `the message did not reach it (${sent.failed[0]!.error.message})`)
    }
    return await answer
  }

  #receive (raw: unknown, from: Member): void {
    if (!isObj(raw) || raw.k !== DEPLOY_KIND) return
    if (typeof raw.rid !== 'string' || raw.rid.length > 64) { this.#onDrop('deploy-malformed', from); return }
    if (raw.op === 'reply') {
      const p = this.#pending.get(raw.rid)
      if (p === undefined) { this.#onDrop('deploy-unexpected-reply', from); return }
      clearTimeout(p.timer)
      this.#pending.delete(raw.rid)
      const r = raw as unknown as DeployReply
      if (r.ok) p.resolve(r.value)
      else p.reject(new RemoteDeployError(typeof r.code === 'string' ? r.code : 'WAS_ERR_DEPLOY_FAILED', typeof r.error === 'string' ? r.error : 'failed'))
      return
    }
    if (!DEPLOY_OPS.includes(raw.op as DeployOp)) { this.#onDrop('deploy-unknown-op', from); return }
    const req = raw as DeployRequest
    void this.#onRequest(req, from).then(
      (value) => this.#reply(from, { k: DEPLOY_KIND, op: 'reply', rid: req.rid, ok: true, value }),
      (err: unknown) => this.#reply(from, { k: DEPLOY_KIND, op: 'reply', rid: req.rid, ok: false, code: (err as { code?: string }).code ?? 'WAS_ERR_DEPLOY_FAILED', error: (err as Error).message ?? String(err) })
    )
  }

  #reply (to: Member, reply: DeployReply): void {
    this.#channel.send(reply, { to, mode: 'ack' }).catch(() => {})
  }
}
