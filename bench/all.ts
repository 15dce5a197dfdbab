/**
 * pnpm bench — the whole set, one after the other (never in parallel: they would measure each
 * other): baseline, balancer, replication, failover, transfer, memory. `--long` is passed to each. A benchmark
 * that fails is reported at the end; the others still run.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { onCleanup, runMain } from './lib/cleanup.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const SET = ['baseline', 'balancer', 'replication', 'failover', 'transfer', 'memory']

function runOne (name: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(here, `${name}.js`), ...args], { stdio: 'inherit' })
    // why: Ctrl-C reaches the child through the terminal too; this covers SIGTERM and crashes
    const undo = onCleanup(`stop bench ${name} (pid ${child.pid})`, () => { try { process.kill(child.pid!, 'SIGTERM') } catch {} })
    child.on('exit', (code, signal) => { void undo(); resolve(code ?? (signal ? 1 : 0)) })
  })
}

async function main (): Promise<void> {
  const args = process.argv.includes('--long') ? ['--long'] : []
  const results: string[] = []
  for (const name of SET) {
    process.stdout.write(`\n######## bench:${name} ${args.join(' ')}\n`)
    const code = await runOne(name, args)
    results.push(`${name}: ${code === 0 ? 'done' : `exited with ${code}`}`)
  }
  process.stdout.write(`\n######## summary\n${results.join('\n')}\nresults: bench/results/*.md, *.svg, *-<timestamp>.json\n`)
}

await runMain(main)
