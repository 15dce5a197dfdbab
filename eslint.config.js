// ESLint for nodecat: neostandard (the `standard` style: no semicolons, a space before function
// parentheses, single quotes) with its TypeScript support. scripts/test.sh (the README's test
// command) runs it over the source, test, bench, demo and script folders; `pnpm lint` does the same.
import neostandard from 'neostandard'

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/results/**', 'coverage/**', '.tap/**'] },
  ...neostandard({ ts: true, noJsx: true }),
  {
    rules: {
      // why: `void promise` is how this code marks a promise it deliberately does not await
      // (timers, heartbeats, closing a replaced pool); the statement form stays allowed, as in
      // standard's TypeScript config, and `void` inside expressions is still an error.
      'no-void': ['error', { allowAsStatement: true }],
      // why: load loops, drains and waits here stop on a flag or counter that another task
      // changes while the loop awaits (a timer's `stopped = true`, a send's `inflight--` in a
      // callback); the rule cannot see writes made in closures, so it reports every such loop.
      'no-unmodified-loop-condition': 'off'
    }
  }
]
