/**
 * How to start a Node process with the process probe (process-probe.ts): the node flags, the
 * environment and the stdio layout, and a reader for its samples on the parent's side.
 */
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ChildProcess, StdioOptions } from 'node:child_process'
import { JsonLines } from './json-lines.js'
import type { ProbeSample } from './process-probe.js'

/** the probe's file descriptor in the child */
export const PROBE_FD = 3

// why: from src/ (tests, via the @nodecat/source condition) and from dist/ alike, the built probe is ../dist/
const probeFile = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'process-probe.js')

/** node flags that preload the probe, with a full GC before each sample */
export function probeNodeArgs (): string[] {
  return ['--expose-gc', '--import', pathToFileURL(probeFile).href]
}

/** environment for the child: where and how often to write */
export function probeEnv (everyMs: number): NodeJS.ProcessEnv {
  return { NODECAT_PROBE_FD: String(PROBE_FD), NODECAT_PROBE_MS: String(everyMs) }
}

/** stdio for spawn: stdin ignored, stdout and stderr piped, fd 3 the probe's pipe */
export const probeStdio: StdioOptions = ['ignore', 'pipe', 'pipe', 'pipe']

/** the samples the child's probe writes, as they come */
export function readProbe (child: ChildProcess, maxLines = 10_000): JsonLines {
  const lines = new JsonLines({ label: `probe of pid ${child.pid}`, maxLines })
  const pipe = child.stdio[PROBE_FD] as NodeJS.ReadableStream | null | undefined
  if (pipe == null) throw new Error(`pid ${child.pid} was not started with a pipe on fd ${PROBE_FD} (use probeStdio)`)
  pipe.setEncoding('utf8')
  pipe.on('data', (chunk: string) => lines.push(chunk))
  pipe.on('end', () => lines.close('probe pipe closed'))
  return lines
}

/** the newest sample, or null */
export function lastSample (probe: JsonLines): ProbeSample | null {
  const l = probe.lines.at(-1)
  return l?.probe === 1 ? l as ProbeSample : null
}
