/**
 * A progress bar for long benchmark runs. In a terminal it redraws in place; in CI logs (no TTY)
 * cli-progress would print nothing, so noTTYOutput makes it print one line per tick instead.
 */
import cliProgress from 'cli-progress'

export interface Progress {
  /** one step done; `what` names the step just finished (shown after the bar) */
  tick (what?: string): void
  /** the step about to run, shown without advancing */
  status (what: string): void
  stop (): void
}

export function createProgress (title: string, total: number): Progress {
  const bar = new cliProgress.SingleBar({
    format: `${title} {bar} {percentage}% | {value}/{total} | {what}`,
    barsize: 20,
    hideCursor: process.stdout.isTTY === true,
    noTTYOutput: true,
    // why: one line per 5 s keeps CI logs short; ticks still print at stop()
    notTTYSchedule: 5000,
    stream: process.stdout
  }, cliProgress.Presets.shades_classic)
  bar.start(total, 0, { what: 'starting' })
  let done = 0
  return {
    tick (what = '') { done++; bar.update(done, { what }) },
    status (what) { bar.update(done, { what }) },
    stop () { bar.stop() }
  }
}
