#!/usr/bin/env node
// Launcher for the built CLI (run `pnpm build` / `npx tsc -b` first).
import { run } from '../dist/cli.js'
await run()
