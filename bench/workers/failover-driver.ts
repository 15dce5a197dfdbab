/**
 * The simulated users of bench:failover --profile, run inside the front's network namespace
 * (the benchmark process on the host cannot reach the emulated nodes' addresses). Runs the users
 * through the balancer, names the victim after the warm-up, and once the host has signalled it,
 * watches a survivor's membership and the balancer's view. Talks JSON lines:
 *   argv[2]  {frontUrl, adminUrl, urls: [[route, url], ...], users, warmMs, afterMs, logFile}
 *   out      {"event":"victim", route}            → the host signals it, then answers on stdin
 *   in       {"cmd":"signalled", hrUs}             the host's process.hrtime at the signal (µs)
 *   out      {"event":"done", killOffsetMs, gone, balancerStateBefore}; the request log in logFile
 * process.hrtime is CLOCK_MONOTONIC, shared by every process of the machine, namespaces included.
 */
import { writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { startSessionClients, busiestRoute } from '../lib/session-clients.js'
import { watchGone, isOk } from '../lib/membership-watch.js'
import { getJson } from '../lib/http-json.js'
import { sleep } from '@nodecat/testkit'

interface Config { frontUrl: string, adminUrl: string, urls: Array<[string, string]>, users: number, warmMs: number, afterMs: number, logFile: string }
const c = JSON.parse(process.argv[2] ?? '{}') as Config
const say = (o: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(o) + '\n') }
const hrUs = (): number => Number(process.hrtime.bigint() / 1000n)

const signalled = new Promise<number>((resolve) => {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const m = JSON.parse(line) as { cmd: string, hrUs: number }
    if (m.cmd === 'signalled') resolve(m.hrUs)
  })
})

const routes = c.urls.map(([r]) => r)
const clients = startSessionClients({ url: c.frontUrl, users: c.users, thinkMs: 50, durationMs: c.warmMs + c.afterMs, maxRequests: 200_000 })
await sleep(c.warmMs)
const victim = busiestRoute(clients.logs, routes)
const before = await getJson(`${c.adminUrl}/status`, 2000).catch(() => null)
const flagged = (before?.workers as Array<{ route: string, state: string }> | undefined)?.find((w) => w.route === victim)?.state
say({ event: 'victim', route: victim })
const at = await signalled
// why: the signal's time on this process's performance clock
const killT = performance.now() - (hrUs() - at) / 1000
const survivor = c.urls.find(([r]) => r !== victim)![1]
const watch = watchGone({ survivorUrl: survivor, adminUrl: c.adminUrl, route: victim, since: killT, untilMs: c.afterMs + 5000 })
await clients.done
const gone = await watch.stop()
// why: the request log is large; a file (same filesystem in every namespace) is safer than one huge stdout line
writeFileSync(c.logFile, JSON.stringify(clients.logs))
// why: stdin (the host's commands) would keep this process alive; exit once the line is written
process.stdout.write(JSON.stringify({ event: 'done', victim, killOffsetMs: killT - clients.startedAt, gone, balancerStateBefore: flagged !== undefined && !isOk(flagged) ? flagged : undefined }) + '\n', () => process.exit(0))
