/**
 * When does the cluster notice that a member is gone? Polls a surviving node's /_nodecat/status
 * (its tribes membership) and, when given, the balancer's admin /status (its view of the worker)
 * every `everyMs` after a kill, and records the first time each stops showing the victim as live.
 * Bounded by `untilMs`; the poll interval is the resolution of both figures.
 */
import { getJson } from './http-json.js'
import { sleep } from '@nodecat/testkit'

export interface GoneTimes {
  /** ms from the kill until the survivor's membership no longer lists the victim; null = not within the run */
  membershipMs: number | null
  /** ms from the kill until the balancer reports the victim's worker not ok; null = not within the run (or no balancer view) */
  balancerMs: number | null
}

/** The balancer's worker states are OK / ERROR / RECOVERING. */
export const isOk = (state: string | undefined): boolean => state?.toUpperCase() === 'OK'

export interface WatchOptions {
  /** a surviving node's base URL */
  survivorUrl: string
  /** the balancer's admin base URL (its /status), if any */
  adminUrl?: string
  route: string
  /** performance.now() of the kill */
  since: number
  untilMs: number
  everyMs?: number
}

export function watchGone (o: WatchOptions): { stop (): Promise<GoneTimes> } {
  const times: GoneTimes = { membershipMs: null, balancerMs: null }
  let stopped = false
  const every = o.everyMs ?? 50
  const done = (async () => {
    while (!stopped && performance.now() - o.since < o.untilMs && (times.membershipMs === null || (o.adminUrl !== undefined && times.balancerMs === null))) {
      const t0 = performance.now()
      await Promise.all([
        times.membershipMs === null
          ? getJson(`${o.survivorUrl}/_nodecat/status`, 2000).then((s) => {
            const live = (s.members as Array<{ route: string | null }>).some((m) => m.route === o.route)
            if (!live && times.membershipMs === null) times.membershipMs = performance.now() - o.since
          }, () => {})
          : undefined,
        o.adminUrl !== undefined && times.balancerMs === null
          ? getJson(`${o.adminUrl}/status`, 2000).then((s) => {
            const w = (s.workers as Array<{ route: string, state: string }>).find((x) => x.route === o.route)
            if (w !== undefined && !isOk(w.state) && times.balancerMs === null) times.balancerMs = performance.now() - o.since
          }, () => {})
          : undefined
      ])
      await sleep(Math.max(0, every - (performance.now() - t0)))
    }
  })()
  return { stop: async () => { stopped = true; await done; return times } }
}
