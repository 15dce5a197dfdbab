/**
 * docs/ERRORS.md is the catalogue of every error code: each package's code list (the one its
 * `code` type is made from) and the document name the same codes, the source uses no code that
 * no list has, and no coded error is built inline outside a package's errors files.
 */
import t from 'tap'
import path from 'node:path'
import { readFileSync, readdirSync } from 'node:fs'
import { TRIBES_ERROR_CODES, NodecatError, TribesError } from '@nodecat/tribes'
// why the errors files and not the packages: this test needs no server code to load
import { WAS_ERROR_CODES, WasError } from '../packages/was-node/src/errors.js'
import { BALANCER_ERROR_CODES, CLIENT_ERRORS, BalancerError } from '../packages/balancer/src/errors.js'
import { AJP_ERROR_CODES } from '../packages/protocol/src/ajp/errors.js'
import { repoRoot } from './lib/proc.js'

const PACKAGES = [
  { name: '@nodecat/tribes', prefix: 'TRIBES_ERR_', codes: TRIBES_ERROR_CODES as readonly string[] },
  { name: '@nodecat/was-node', prefix: 'WAS_ERR_', codes: WAS_ERROR_CODES as readonly string[] },
  { name: '@nodecat/balancer', prefix: 'LB_ERR_', codes: BALANCER_ERROR_CODES as readonly string[] },
  { name: '@nodecat/protocol', prefix: 'AJP_ERR_', codes: AJP_ERROR_CODES as readonly string[] }
]
const KNOWN = new Set(PACKAGES.flatMap((p) => p.codes))
/** a code-shaped word; a word ending in "_" is a prefix in prose (LB_ERR_ADMIN_*), not a code */
const CODE_WORD = /\b(?:TRIBES|WAS|LB|AJP)_ERR_[A-Z0-9_]*/g

const doc = readFileSync(path.join(repoRoot, 'docs', 'ERRORS.md'), 'utf8')

/** The doc's "## <package>" sections, each with the first cells of its table rows. */
function documented (): Map<string, Array<{ code: string, cells: string[] }>> {
  const sections = new Map<string, Array<{ code: string, cells: string[] }>>()
  let rows: Array<{ code: string, cells: string[] }> | null = null
  for (const line of doc.split('\n')) {
    const heading = /^## (@nodecat\/[\w-]+)/.exec(line)
    if (heading !== null) {
      rows = []
      sections.set(heading[1]!, rows)
      continue
    }
    const row = /^\| `([A-Z0-9_]+)` \|(.*)\|$/.exec(line)
    if (row !== null && rows !== null) rows.push({ code: row[1]!, cells: row[2]!.split('|').map((c) => c.trim()) })
  }
  return sections
}

function sourceFiles (): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith('.ts')) files.push(full)
    }
  }
  const packages = path.join(repoRoot, 'packages')
  for (const pkg of readdirSync(packages)) {
    try { walk(path.join(packages, pkg, 'src')) } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err }
  }
  return files
}

t.test('each package\'s code list is well formed', async (t) => {
  for (const { name, prefix, codes } of PACKAGES) {
    t.ok(codes.length > 0, `${name} lists codes`)
    t.same(codes.filter((c) => !c.startsWith(prefix) || !/^[A-Z0-9_]+[A-Z0-9]$/.test(c)), [], `${name}: every code is ${prefix}<NAME>`)
    t.equal(new Set(codes).size, codes.length, `${name}: no code listed twice`)
  }
})

t.test('docs/ERRORS.md lists exactly the codes of each package, in its own section', async (t) => {
  const sections = documented()
  t.same([...sections.keys()].sort(), PACKAGES.map((p) => p.name).sort(), 'one section per package')
  for (const { name, codes } of PACKAGES) {
    const rows = (sections.get(name) ?? []).map((r) => r.code)
    t.same(codes.filter((c) => !rows.includes(c)), [], `${name}: no code is missing from docs/ERRORS.md`)
    t.same(rows.filter((c) => !codes.includes(c)), [], `${name}: docs/ERRORS.md lists no code the package does not have`)
    t.equal(new Set(rows).size, rows.length, `${name}: no code documented twice`)
  }
  const mentioned = [...doc.matchAll(CODE_WORD)].map((m) => m[0]).filter((w) => !w.endsWith('_'))
  t.same([...new Set(mentioned.filter((w) => !KNOWN.has(w)))], [], 'the prose names no code that does not exist')
})

t.test('every documented entry says what it means and what to do', async (t) => {
  for (const [name, rows] of documented()) {
    for (const { code, cells } of rows) {
      const [meaning, todo] = cells.slice(-2)
      t.ok(meaning !== undefined && meaning.length > 10 && todo !== undefined && todo.length > 3, `${name} ${code}`)
    }
  }
})

t.test('the statuses the balancer answers with are the documented ones', async (t) => {
  const rows = new Map((documented().get('@nodecat/balancer') ?? []).map((r) => [r.code, r.cells[0]]))
  for (const [code, { status }] of Object.entries(CLIENT_ERRORS)) t.equal(rows.get(code), String(status), code)
})

t.test('the source uses no code that is not in a package\'s list', async (t) => {
  const unknown: string[] = []
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(CODE_WORD)) {
      if (m[0].endsWith('_') || KNOWN.has(m[0])) continue
      const line = text.slice(0, m.index).split('\n').length
      unknown.push(`${path.relative(repoRoot, file)}:${line} ${m[0]}`)
    }
  }
  t.same(unknown, [], 'codes found in packages/*/src that no code list has (add them to the package\'s errors.ts and to docs/ERRORS.md)')
})

t.test('coded errors are built only in errors files', async (t) => {
  const inline: string[] = []
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8')
    const patterns = [
      // a base class constructed with a code outside the file that holds the builders
      ...(path.basename(file).endsWith('errors.ts') ? [] : [/new (?:NodecatError|TribesError|WasError|BalancerError)\(/g]),
      // a plain Error dressed up with one of our codes
      /Object\.assign\(new Error\([^)]*\), \{ code: '(?:TRIBES|WAS|LB)_ERR_/g
    ]
    for (const re of patterns) {
      for (const m of text.matchAll(re)) inline.push(`${path.relative(repoRoot, file)}:${text.slice(0, m.index).split('\n').length}`)
    }
  }
  t.same(inline, [], 'use (or add) a builder in the package\'s errors file')
})

t.test('one base: every package\'s errors are NodecatErrors with the package\'s codes', async (t) => {
  const tribes = new TribesError('TRIBES_ERR_CLOSED', 'x')
  const was = new WasError('WAS_ERR_NOT_READY', 'x', { statusCode: 503 })
  const lb = new BalancerError('LB_ERR_NO_WORKER', 'x', { statusCode: 503 })
  for (const err of [tribes, was, lb]) t.ok(err instanceof NodecatError, err.name)
  t.equal(tribes.statusCode, undefined, 'tribes errors never reach an HTTP client')
  t.equal(was.statusCode, 503)
  t.equal(new WasError('WAS_ERR_APP', 'x').statusCode, 500, 'a node error is a 500 unless said otherwise')
  t.equal(new BalancerError('LB_ERR_WORKER_FAILED', 'x').statusCode, 502, 'a balancer error is a 502 unless said otherwise')
  const cause = new Error('below')
  t.equal(new TribesError('TRIBES_ERR_CONNECT', 'x', { cause }).cause, cause)
})
