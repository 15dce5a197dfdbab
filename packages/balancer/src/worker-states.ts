/**
 * A worker's health: OK → ERROR (failures) → RECOVERING (after recoverTime) → OK or ERROR.
 * RECOVERING lets exactly one live request probe the worker (others avoid it); the active health
 * check may also bring an ERROR or RECOVERING worker back after `rise` good checks.
 */
export type WorkerState = 'OK' | 'ERROR' | 'RECOVERING'

export type StateChange = (from: WorkerState, to: WorkerState, reason: string) => void

export interface HealthRules {
  recoverTime: number
  failuresToError: number
  rise: number
  fall: number
}

export class WorkerHealth {
  #state: WorkerState = 'OK'
  #errorAt = 0
  #failures = 0
  #goodChecks = 0
  #badChecks = 0
  #probing = false
  readonly #rules: HealthRules
  readonly #onChange: StateChange

  constructor (rules: HealthRules, onChange: StateChange) {
    this.#rules = rules
    this.#onChange = onChange
  }

  /** current state, moving ERROR to RECOVERING once recoverTime has passed */
  state (now = Date.now()): WorkerState {
    if (this.#state === 'ERROR' && now - this.#errorAt >= this.#rules.recoverTime) this.#set('RECOVERING', 'recover time passed')
    return this.#state
  }

  /** ms timestamp of the last move to ERROR (0 = never) */
  get errorAt (): number { return this.#errorAt }
  get probing (): boolean { return this.#probing }

  /** may a request be sent now? OK always; RECOVERING only if nobody is probing it yet */
  usable (now = Date.now()): boolean {
    const s = this.state(now)
    return s === 'OK' || (s === 'RECOVERING' && !this.#probing)
  }

  /** this request is the probe of a RECOVERING (or, when nothing else is left, ERROR) worker */
  claimProbe (): void { this.#probing = true }
  releaseProbe (): void { this.#probing = false }

  /** a request that was sent at `startedAt` got a complete response */
  succeed (startedAt: number): void {
    this.#failures = 0
    // why: a slow request sent before the worker failed must not undo a newer ERROR
    if (this.#state === 'ERROR' && startedAt < this.#errorAt) return
    if (this.#state !== 'OK') this.#set('OK', 'request succeeded')
  }

  /** a request failed; `immediate` for failures that prove the worker down (connect, timeout) */
  fail (reason: string, immediate: boolean): void {
    this.#failures++
    if (this.#state === 'ERROR') { this.#errorAt = Date.now(); return }
    if (immediate || this.#state === 'RECOVERING' || this.#failures >= this.#rules.failuresToError) this.#toError(reason)
  }

  /** result of one active health check */
  check (ok: boolean, reason: string): void {
    if (ok) {
      this.#badChecks = 0
      this.#goodChecks++
      if (this.#state !== 'OK' && this.#goodChecks >= this.#rules.rise) {
        this.#failures = 0
        this.#set('OK', 'health check passed')
      }
      return
    }
    this.#goodChecks = 0
    this.#badChecks++
    if (this.#state === 'RECOVERING' || (this.#state === 'OK' && this.#badChecks >= this.#rules.fall)) this.#toError(`health check failed: ${reason}`)
  }

  /** tribes says the member is gone */
  gone (): void {
    if (this.#state !== 'ERROR') this.#toError('member disappeared')
    else this.#errorAt = Date.now()
  }

  /**
   * A worker whose readiness is unknown (just discovered, or a restarted member): it takes no
   * traffic until `rise` health checks pass (a live request may still probe it after
   * recoverTime, as for any ERROR worker).
   */
  awaitCheck (reason: string): void {
    this.#toError(reason)
  }

  /** tribes says the member is (back) in the group: let a probe decide */
  announced (): void {
    if (this.#state === 'ERROR') {
      this.#errorAt = 0
      this.#set('RECOVERING', 'member announced')
    }
  }

  /**
   * Take the state the state owner holds (`--workers n`: the primary runs the health checks and
   * hears every process's passive failures): `errorAt` is the owner's, so ERROR turns RECOVERING
   * here at the same moment as there. A probe in flight here is kept unless the owner says ERROR.
   */
  adopt (to: WorkerState, errorAt: number, reason: string): void {
    this.#errorAt = errorAt
    if (to === 'ERROR') {
      this.#goodChecks = 0
      this.#probing = false
    }
    if (to === 'OK') this.#failures = 0
    this.#set(to, reason)
  }

  #toError (reason: string): void {
    this.#errorAt = Date.now()
    this.#goodChecks = 0
    this.#probing = false
    if (this.#state !== 'ERROR') this.#set('ERROR', reason)
  }

  #set (to: WorkerState, reason: string): void {
    const from = this.#state
    this.#state = to
    if (to === 'OK') this.#probing = false
    if (from !== to) this.#onChange(from, to, reason)
  }
}
