/**
 * The classic setup's configuration files (test/fixtures/classic-setup: two Tomcats' server.xml,
 * mod_jk's workers.properties and the httpd JkMount lines), for the config-import tests of both
 * packages, with what those tests share: a scratch directory and the line of a piece of text.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const CLASSIC_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'classic-setup')

/** a fixture file's text: was1-server.xml, was2-server.xml, workers.properties, httpd-jk.conf */
export function classicFile (name: string): string {
  return readFileSync(path.join(CLASSIC_FIXTURES, name), 'utf8')
}

/** the first line of text holding `needle` (1-based) */
export function lineOf (text: string, needle: string): number {
  const i = text.indexOf(needle)
  if (i < 0) throw new Error(`${needle} not in the text`)
  return text.slice(0, i).split('\n').length
}

/** a temp dir removed when the test ends */
export function scratchDir (t: { teardown: (fn: () => void) => void }, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
