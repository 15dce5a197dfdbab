/** A temp directory for generated configs and scripts, removed at the end of the run. */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { onCleanup } from './cleanup.js'

export function tempDir (prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `nodecat-bench-${prefix}-`))
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }))
  return dir
}
