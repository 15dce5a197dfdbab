#!/usr/bin/env bash
# The one test command (README, CI): build, typecheck sources and tests, lint, run every tap test,
# and end with the plain line "N passed, N failed" (tap prints no such line; we count its summary).
set -uo pipefail
cd "$(dirname "$0")/.."
# what eslint checks (package.json's lint script lists the same paths)
LINT_PATHS="packages/*/src packages/*/test test bench demo scripts"
echo "== build (tsc -b)"
npx tsc -b || { echo "0 passed, 1 failed"; exit 1; }
echo "== typecheck sources and tests"
npx tsc -p tsconfig.check.json || { echo "0 passed, 1 failed"; exit 1; }
echo "== lint (eslint: neostandard with TypeScript, eslint.config.js)"
npx eslint $LINT_PATHS || { echo "0 passed, 1 failed"; exit 1; }
echo "== tests"
out=$(mktemp)
npx tap --reporter=tap "$@" 2>&1 | tee "$out"; rc=${PIPESTATUS[0]}
node -e '
  const s = require("fs").readFileSync(process.argv[1], "utf8")
  const m = [...s.matchAll(/^# \{ total: \d+(.*) \}$/gm)].pop()
  const get = k => Number((m?.[1].match(new RegExp(k + ": (\\d+)")) ?? [])[1] ?? 0)
  const skip = get("skip") + get("todo")
  if (!m) { console.log("0 passed, 1 failed"); process.exit(0) }
  console.log(`${get("pass")} passed, ${get("fail")} failed` + (skip ? `, ${skip} skipped` : ""))' "$out"
rm -f "$out"
exit $rc
