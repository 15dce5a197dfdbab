/**
 * Waiting in tests and benchmarks: `sleep` for a fixed time, `waitUntil` to poll a condition with a
 * bounded timeout (it fails with a message naming what was awaited, never hangs), and `becomes` for
 * callers that assert the outcome themselves.
 */

/** Resolve after `ms` milliseconds. */
export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

export interface WaitOptions {
  /** give up after this long (default 20 s: generous, the test machines are shared) */
  timeoutMs?: number
  /** time between two checks (default 20 ms) */
  everyMs?: number
}

const DEFAULT_TIMEOUT_MS = 20_000
const DEFAULT_EVERY_MS = 20

const optionsOf = (o: WaitOptions | number | undefined): Required<WaitOptions> => {
  const given = typeof o === 'number' ? { timeoutMs: o } : (o ?? {})
  return { timeoutMs: given.timeoutMs ?? DEFAULT_TIMEOUT_MS, everyMs: given.everyMs ?? DEFAULT_EVERY_MS }
}

/**
 * Poll `check` until it returns a truthy value and resolve with that value. After `timeoutMs`
 * (a number is the timeout) reject with "timed out waiting for <what> (<timeoutMs> ms)".
 */
export async function waitUntil<T> (what: string, check: () => T | Promise<T>, options?: WaitOptions | number): Promise<T> {
  const { timeoutMs, everyMs } = optionsOf(options)
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`)
    await sleep(everyMs)
  }
}

/** Poll `check` until it is true or `timeoutMs` has passed; resolve with its last answer. */
export async function becomes (check: () => boolean, options?: WaitOptions | number): Promise<boolean> {
  const { timeoutMs, everyMs } = optionsOf(options)
  const end = Date.now() + timeoutMs
  while (!check() && Date.now() < end) await sleep(everyMs)
  return check()
}
