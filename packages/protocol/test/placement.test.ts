import t from 'tap'
import { buddiesOf, placementOf, type PlacedMember } from '../src/index.js'

const m = (route: string, host: string): PlacedMember => ({ route, host })
const routes = (list: PlacedMember[]) => list.map((x) => x.route)
// two Pis with two workers each
const two = [m('pi1-0', 'A'), m('pi1-1', 'A'), m('pi2-0', 'B'), m('pi2-1', 'B')]

t.test('buddies are on another host first, dealt host by host around the ring', async (t) => {
  // the ring: pi1-0, pi2-0, pi1-1, pi2-1
  t.same(routes(buddiesOf('pi1-0', 'A', two, 1)), ['pi2-0'])
  t.same(routes(buddiesOf('pi2-0', 'B', two, 1)), ['pi1-1'])
  t.same(routes(buddiesOf('pi1-1', 'A', two, 1)), ['pi2-1'])
  t.same(routes(buddiesOf('pi2-1', 'B', two, 1)), ['pi1-0'], 'the ring wraps around')
  t.same(routes(buddiesOf('pi1-0', 'A', two, 2)), ['pi2-0', 'pi2-1'], 'k = 2: both of the other host')
  t.same(routes(buddiesOf('pi1-0', 'A', two, 3)), ['pi2-0', 'pi2-1', 'pi1-1'], 'then the same host, when the other hosts are too few')
  t.same(routes(buddiesOf('pi1-0', 'A', [m('pi1-0', 'A'), m('pi1-1', 'A')], 1)), ['pi1-1'], 'one machine: a sibling')
  t.same(buddiesOf('pi1-0', 'A', [m('pi1-0', 'A')], 1), [], 'alone: nobody')
  t.same(routes(buddiesOf('n1', '', [m('n1', ''), m('n2', ''), m('n3', '')], 1)), ['n2'], 'unknown hosts: the next route')
  t.same(routes(buddiesOf('n3', '', [m('n1', ''), m('n2', ''), m('n3', '')], 1)), ['n1'])
})

t.test('the backups spread evenly: each member is the first buddy of exactly one member', async (t) => {
  for (const [hosts, perHost] of [[2, 2], [3, 4], [2, 3], [4, 1]] as const) {
    const members: PlacedMember[] = []
    for (let h = 0; h < hosts; h++) for (let w = 0; w < perHost; w++) members.push(m(`pi${h + 1}-${w}`, `H${h}`))
    const load = new Map<string, number>()
    for (const x of members) {
      const [b] = buddiesOf(x.route, x.host, members, 1)
      t.not(b!.host, x.host, `${x.route}'s buddy is on another machine`)
      load.set(b!.route, (load.get(b!.route) ?? 0) + 1)
    }
    t.same([...load.values()].sort(), members.map(() => 1), `${hosts} machines × ${perHost} workers: every member backs up exactly one`)
  }
})

t.test('the rule is the same wherever it runs: the order of the list does not matter', async (t) => {
  const shuffled = [two[3]!, two[1]!, two[0]!, two[2]!]
  for (const x of two) t.same(buddiesOf(x.route, x.host, shuffled, 2), buddiesOf(x.route, x.host, two, 2), x.route)
})

t.test('a gone route keeps its place on the ring: its first buddy adopts its sessions', async (t) => {
  const live = two.filter((x) => x.route !== 'pi1-0')
  const hostOf = (r: string) => r.startsWith('pi1') ? 'A' : 'B'
  t.same(routes(placementOf('pi1-0', two, 1, hostOf)), ['pi1-0', 'pi2-0'], 'live primary and its buddy')
  t.same(routes(placementOf('pi1-0', live, 1, hostOf)), ['pi2-0', 'pi1-1'], 'gone: the buddy that held the copy serves it, and backs it up on its own buddy')
  t.same(routes(buddiesOf('pi1-0', 'A', live, 1)), ['pi2-0'], 'the balancer computes the same adopter')
  // both workers of host A are gone: host B holds every session of A
  const onlyB = two.filter((x) => x.host === 'B')
  t.same(routes(placementOf('pi1-0', onlyB, 1, hostOf)), ['pi2-0', 'pi2-1'])
  t.same(routes(placementOf('pi1-1', onlyB, 1, hostOf)), ['pi2-0', 'pi2-1'])
  t.same(placementOf('x', [], 1), [], 'no member: nowhere')
})
