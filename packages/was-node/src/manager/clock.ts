/**
 * The session manager's clocks, in one place.
 *
 * - `now()`: the wall clock (ms since the epoch). Used only for what travels or is shown as a
 *   time of day: a change's stamp `at` (a tie-break between concurrent writes with the same
 *   version, never the order of one session's changes: that is the version) and a session's
 *   creation time.
 * - `monotonic()`: ms on a clock that never steps (process start + performance.now()). Used for
 *   everything this node measures itself: idle time and expiry, tombstones, when a member was
 *   lost. A session's idle time travels as a duration (`idle` ms), never as a time of day, and
 *   each node measures it from when it last saw the session used, so a skewed or stepping wall
 *   clock (a Raspberry Pi without an RTC boots with a stale clock and NTP steps it later) neither
 *   expires sessions early nor keeps them late.
 *
 * Test hook: NODECAT_TEST_CLOCK_OFFSET_MS offsets this process's wall clock, to simulate a skewed
 * node in whole-cluster tests. "600000" or "-600000": skewed from the start; "600000@5000": the
 * clock steps by +10 minutes 5 s after the session manager was created (as NTP would);
 * "600000@SIGUSR2": it steps when the process receives SIGUSR2 (so a test steps it when its
 * sessions are in place, however long the start took; later SIGUSR2s do nothing);
 * "n2=600000,n3=-600000@5000": per jvmRoute (nodes not named keep the true clock), so one
 * environment can skew several nodes differently. The monotonic clock is not affected, as a real
 * one would not be. Not for production use: it only makes the clock wrong.
 */

/** Time source for stamps and expiry; tests inject a fake one (monotonic defaults to now). */
export interface Clock {
  now (): number
  monotonic? (): number
}

export const CLOCK_OFFSET_ENV = 'NODECAT_TEST_CLOCK_OFFSET_MS'

const ONE = /^\s*([+-]?\d{1,12})(?:@(\d{1,9}|SIGUSR2))?\s*$/

/** when the offset applies: ms after the clock was made, or when the process receives SIGUSR2 */
export type ClockStep = number | 'SIGUSR2'

/** parse the test hook for one route: "<offset>[@<after ms>|@SIGUSR2]" or "<route>=<offset>[@…],…"; null when unset, malformed or not naming it */
export function parseClockOffset (text: string | undefined, route = ''): { offset: number, after: ClockStep } | null {
  if (text === undefined || text.trim() === '') return null
  let spec: string | undefined = text
  if (text.includes('=')) {
    spec = text.split(',').map((part) => part.split('=')).find(([r]) => r?.trim() === route)?.[1]
    if (spec === undefined) return null
  }
  const m = ONE.exec(spec)
  if (m === null) return null
  const after = m[2] === undefined ? 0 : m[2] === 'SIGUSR2' ? 'SIGUSR2' : Number(m[2])
  return { offset: Number(m[1]), after }
}

/** whole ms since the epoch as of process start, advanced by performance.now(): never steps */
const monotonic = (): number => Math.floor(performance.timeOrigin + performance.now())

/** The real clocks, with the test offset from the environment applied to the wall clock. */
export function systemClock (route = '', env: NodeJS.ProcessEnv = process.env): Required<Clock> & { offset: { offset: number, after: ClockStep } | null } {
  const offset = parseClockOffset(env[CLOCK_OFFSET_ENV], route)
  if (offset === null) return { now: () => Date.now(), monotonic, offset: null }
  if (offset.after === 'SIGUSR2') {
    let stepped = false
    process.on('SIGUSR2', () => { stepped = true })
    return { now: () => Date.now() + (stepped ? offset.offset : 0), monotonic, offset }
  }
  const after = offset.after
  const start = performance.now()
  return {
    now: () => Date.now() + (performance.now() - start >= after ? offset.offset : 0),
    monotonic,
    offset
  }
}
