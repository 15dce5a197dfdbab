/**
 * Session donation through `;jsessionid=` (issue 12 §2), through the balancer, 2 nodes on
 * 127.0.0.1. An attacker logs in and sends a victim a link ending in `;jsessionid=<attacker's id>`;
 * the attacker's id names the other node, so the balancer (which routes on the path parameter
 * first, as mod_jk does) sends the victim there.
 *
 * - default `--session-tracking cookie`: the link's id is ignored; the victim stays in their own
 *   session, and their cookie is never replaced by the attacker's;
 * - `--session-tracking cookie,url`: a live cookie wins over the link; when the victim's cookie
 *   names a session that is gone, the link's session serves that one request, but no Set-Cookie
 *   replaces the victim's cookie, so the next request is not in the attacker's session.
 */
import t, { type Test } from 'tap'
import { startCluster, ShopClient, type Cluster } from './lib/cluster.js'

async function attackerAndVictim (t: Test, c: Cluster): Promise<{ attacker: ShopClient, victim: ShopClient }> {
  const attacker = new ShopClient(c.balancerUrl)
  await attacker.request('POST', '/login', { user: 'mallory' }, c.nodes[1]!.url)
  await attacker.addToCart('bait')
  const victim = new ShopClient(c.balancerUrl)
  await victim.request('POST', '/login', { user: 'victim' }, c.nodes[0]!.url)
  await victim.addToCart('own')
  t.equal(attacker.route, 'n2')
  t.equal(victim.route, 'n1')
  return { attacker, victim }
}

t.test('default (cookie): a ;jsessionid= link never hands a user someone else\'s session', async (t) => {
  const c = await startCluster(t, { nodes: 2, mode: 'sync' })
  const { attacker, victim } = await attackerAndVictim(t, c)
  const victimCookie = victim.cookie!
  const a = await victim.request('GET', `/api/state;jsessionid=${attacker.cookie!}`)
  t.equal(a.status, 200)
  t.equal(a.state?.user, 'victim', 'the victim is served their own session')
  t.same(a.state?.cart, ['own'])
  t.equal(victim.cookie?.split('.')[0], victimCookie.split('.')[0], 'their cookie still names their own session')
  const after = await victim.state()
  t.equal(after.state?.user, 'victim', 'and stays so on the next request')
  const anon = new ShopClient(c.balancerUrl)
  const bare = await anon.request('GET', `/api/state;jsessionid=${attacker.cookie!}`)
  t.equal(bare.state?.user, null, 'a visitor without a cookie is not put into the attacker\'s session either')
  t.equal(anon.cookie, null, 'and gets no cookie for it')
})

t.test('cookie,url: the cookie wins; an id from the URL never replaces a cookie naming another session', async (t) => {
  const c = await startCluster(t, { nodes: 2, mode: 'sync', nodeArgs: ['--session-tracking', 'cookie,url'] })
  const { attacker, victim } = await attackerAndVictim(t, c)
  const live = await victim.request('GET', `/api/state;jsessionid=${attacker.cookie!}`)
  t.equal(live.state?.user, 'victim', 'a live cookie wins over the link')

  // the victim's cookie names a session that is gone (logged out elsewhere), then the link
  const stale = new ShopClient(c.balancerUrl)
  await stale.request('POST', '/login', { user: 'gone' }, c.nodes[0]!.url)
  const goneCookie = stale.cookie!
  const logout = new ShopClient(c.balancerUrl); logout.cookie = goneCookie
  await logout.request('POST', '/logout')
  const followed = await stale.request('GET', `/api/state;jsessionid=${attacker.cookie!}`)
  t.equal(followed.status, 200)
  t.equal(followed.state?.user, 'mallory', 'URL tracking: the link\'s session serves this request')
  t.equal(stale.cookie, goneCookie, 'but the victim\'s cookie is not replaced')
  const next = await stale.state()
  t.not(next.state?.user, 'mallory', 'so the next request is not in the attacker\'s session')
  const withoutCookie = new ShopClient(c.balancerUrl)
  const url = await withoutCookie.request('GET', `/api/state;jsessionid=${attacker.cookie!}`)
  t.equal(url.state?.user, 'mallory', 'a client without cookies uses URL tracking as configured')
})
