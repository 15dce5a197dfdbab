/**
 * A real browser through the cluster: headless Debian Chromium driven by playwright-core (never
 * Playwright's own downloaded browsers), a balancer and two nodes on 127.0.0.1 as in `pnpm demo`.
 * Log in and fill the cart with the shop's own forms, SIGKILL the node named on the page, reload:
 * still logged in, same cart, and the page names the other node. Then the balancer's admin status
 * page marks the dead worker as failed (its row's state cell has class state-error).
 * Screenshots go to test/artifacts/ (gitignored).
 *
 * If /usr/bin/chromium is missing it is installed with apt-get (root only, as in CI); without
 * root and without chromium the test skips and says why.
 */
import t from 'tap'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import { startCluster } from './lib/cluster.js'
import { repoRoot } from './lib/proc.js'
import { aptInstall } from '@nodecat/testkit'
import { isRoot } from './lib/netns.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = path.join(repoRoot, 'test', 'artifacts')
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

const skip = !existsSync(CHROMIUM) && !isRoot()
  ? `needs ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or run as root, as CI does, so the test installs it`
  : false

t.test('browser: kill the node named on the page, reload, still logged in with the same cart', { skip }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.setTimeout(900_000) // a cold apt-get install of chromium takes minutes
    t.comment(`${CHROMIUM} is missing: installing Debian's chromium with apt-get`)
    const why = aptInstall(['chromium'], (line) => t.comment(line))
    if (why !== null) t.comment(why)
  }
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is there`)
  mkdirSync(ARTIFACTS, { recursive: true })
  const profile = mkdtempSync(path.join(tmpdir(), 'nodecat-chromium-'))
  t.teardown(() => rmSync(profile, { recursive: true, force: true }))

  const c = await startCluster(t, { nodes: 2, mode: 'sync' })
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 })
  t.teardown(async () => { await browser.close() })
  const page = browser.pages()[0] ?? await browser.newPage()
  page.setDefaultTimeout(30_000)
  const servedBy = async (): Promise<string> => (await page.locator('.node strong').textContent())?.trim() ?? ''
  const cart = async (): Promise<string[]> => (await page.locator('section li').allTextContents()).map((s) => s.trim())

  const first = await page.goto(c.balancerUrl + '/')
  t.equal(first?.status(), 200, 'the shop page through the balancer')
  await page.fill('input[name=user]', 'browser-user')
  await Promise.all([page.waitForURL(c.balancerUrl + '/'), page.click('form[action="/login"] button')])
  t.match(await page.locator('body').textContent(), /Logged in as browser-user/, 'logged in')
  for (const item of ['tea', 'milk']) {
    await page.fill('input[name=item]', item)
    await Promise.all([page.waitForLoadState('load'), page.click('form[action="/cart"] button')])
    await page.locator('section li', { hasText: item }).waitFor()
  }
  t.same(await cart(), ['tea', 'milk'], 'cart shows tea, milk')
  const victim = await servedBy()
  t.ok(c.nodes.some((n) => n.route === victim), `the page names node ${victim}`)
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser-1-before-kill.png'), fullPage: true })

  await c.node(victim).kill('SIGKILL')
  const reloaded = await page.reload()
  t.equal(reloaded?.status(), 200, 'reload after the kill succeeds')
  const survivor = c.others(victim)[0]!.route
  t.equal(await servedBy(), survivor, `the page now names ${survivor}`)
  t.match(await page.locator('body').textContent(), /Logged in as browser-user/, 'still logged in')
  t.same(await cart(), ['tea', 'milk'], 'same cart')
  const cookies = await browser.cookies(c.balancerUrl)
  t.ok(cookies.find((k) => k.name === 'JSESSIONID')?.value.endsWith(`.${survivor}`), 'the cookie names the survivor')
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser-2-after-kill.png'), fullPage: true })

  await c.waitWorkerState(victim, ['ERROR'], 30_000)
  const admin = await page.goto(c.adminUrl + '/')
  t.equal(admin?.status(), 200, 'the balancer status page')
  const row = page.locator(`tr.worker[data-route="${victim}"]`)
  t.equal(await row.locator('td.state-error').count(), 1, `the dead worker ${victim} is marked failed (state-error)`)
  t.equal((await row.locator('td.state-error').textContent())?.trim(), 'ERROR', 'and its state reads ERROR')
  t.equal(await page.locator(`tr.worker[data-route="${survivor}"] td.state-ok`).count(), 1, `${survivor} is marked OK`)
  await page.screenshot({ path: path.join(ARTIFACTS, 'browser-3-balancer-status.png'), fullPage: true })
})
