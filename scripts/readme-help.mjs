#!/usr/bin/env node
// Regenerate the command reference in README.md from each command's own --help (run after a build).
// `node scripts/readme-help.mjs --check` exits 1 when README.md is out of date (used by a test).
import { readFileSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const readmePath = path.join(root, 'README.md')

export function helpOf (pkg) {
  const cli = path.join(root, 'packages', pkg, 'dist', 'cli.js')
  return execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }).trimEnd()
}

export function render (readme) {
  return readme.replace(/<!-- help:([\w-]+) -->[\s\S]*?<!-- \/help -->/g, (_, pkg) =>
    `<!-- help:${pkg} -->\n\`\`\`text\n${helpOf(pkg)}\n\`\`\`\n<!-- /help -->`)
}

const readme = readFileSync(readmePath, 'utf8')
const next = render(readme)
if (process.argv.includes('--check')) {
  if (next !== readme) { console.error('README.md command reference is out of date: run node scripts/readme-help.mjs'); process.exit(1) }
} else {
  writeFileSync(readmePath, next)
}
