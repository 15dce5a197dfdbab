/**
 * A real-peer test that is about to install Debian packages (root, packages missing: a clean CI
 * machine) tells tap's runner of a longer bound first: a cold apt-get of Tomcat and its Java
 * runtime takes minutes, past tap's 180 s per-file timeout, and the tests that need the same
 * packages wait for the one installing them (testkit's aptInstall takes one lock).
 */
import { isRoot, sleep } from '@nodecat/testkit'

export async function longerBoundToInstall (t: { setTimeout: (ms: number) => void }, installed: boolean): Promise<void> {
  if (installed || !isRoot()) return
  t.setTimeout(900_000)
  // why: the new bound reaches the runner before the synchronous install blocks this process
  await sleep(200)
}
