/**
 * @nodecat/testkit: what nodecat's tests (test/lib), benchmarks (bench/lib) and demo launcher need,
 * in one place: free TCP ports, sleeping and bounded waits for a condition, child processes whose
 * stdout is read as JSON lines that can be waited for, stopped by their PID, and private networks of
 * namespaces. Private to the repository, never published.
 */
export { freePort, freePorts, freePortRange } from './ports.js'
export { sleep, waitUntil, becomes, type WaitOptions } from './wait.js'
export { JsonLines, type LogLine, type LineMatch } from './json-lines.js'
export { spawnWatched, livePids, type WatchedProcess, type WatchedOptions, type Exit } from './watched-process.js'
export { probeNodeArgs, probeEnv, probeStdio, readProbe, lastSample, PROBE_FD } from './probe-args.js'
export type { ProbeSample } from './process-probe.js'
export { procMemory, openFds, type ProcMemory } from './proc-stats.js'
export { createLabNet, labNetUnavailable, type LabNet, type LabNetOptions, type LabHost, type LabNetHostProbe } from './lab-net.js'
export { seededRandom } from './prng.js'
export { ensureModJk, startModJkFront, MOD_JK_SO, MOD_JK_PACKAGES, APACHE_MODULES, type ModJkSoftware, type ModJkFront, type ModJkFrontOptions } from './mod-jk.js'
export { which, isRoot, aptGet, aptInstall } from './debian.js'
export {
  ensureTomcat, ensureClassicSoftware, classicInstalled, CATALINA_HOME, MOD_JK, STOCK_CONF_FILES, TOMCAT_PACKAGES,
  type TomcatSoftware, type ClassicSoftware
} from './tomcat-install.js'
export { writeCatalinaBase, catalinaRun } from './tomcat-base.js'
