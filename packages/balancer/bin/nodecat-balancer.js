#!/usr/bin/env node
// Launcher for the built CLI (packages/balancer/dist/cli.js): run, then exit with its code.
import { main } from '../dist/cli.js'

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  process.stderr.write(`nodecat-balancer: ${err?.stack ?? err}\n`)
  process.exit(1)
})
