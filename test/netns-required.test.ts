/**
 * CI fails closed: where network namespaces are required (NODECAT_REQUIRE_NETNS=1, which .ci/run
 * sets when it runs as root), a namespace test that cannot run (no root, no `ip`, not Linux) fails
 * instead of skipping; elsewhere it skips with the reason. The host is injected, so this runs
 * anywhere.
 */
import t from 'tap'
import { labNetUnavailable } from '@nodecat/testkit'
import { netnsGate, netnsSkipReason, REQUIRE_NETNS_ENV } from './lib/netns.js'

const rootWithIp = { platform: 'linux' as const, uid: 0, hasIp: () => true }
const rootWithoutIp = { ...rootWithIp, hasIp: () => false }
const required = { [REQUIRE_NETNS_ENV]: '1' }

t.test('what makes namespaces unavailable', async (t) => {
  t.equal(labNetUnavailable(rootWithIp), null, 'root on Linux with ip: available')
  t.match(labNetUnavailable(rootWithoutIp), /needs iproute2/, 'no ip command')
  t.match(labNetUnavailable({ ...rootWithIp, uid: 1000 }), /needs root/, 'not root')
  t.match(labNetUnavailable({ ...rootWithIp, platform: 'darwin' }), /needs Linux/, 'not Linux')
})

t.test('without the variable a missing ip is a skip with the reason', async (t) => {
  const gate = netnsGate(labNetUnavailable(rootWithoutIp), {})
  t.equal(gate.fail, false)
  t.match(gate.skip, /needs iproute2.*run as root/)
  const failures: string[] = []
  t.equal(netnsSkipReason(gate, (r) => failures.push(r)), gate.skip, 'the tests are skipped')
  t.same(failures, [], 'nothing fails')
})

t.test('with NODECAT_REQUIRE_NETNS=1 a missing ip fails the test file', async (t) => {
  const gate = netnsGate(labNetUnavailable(rootWithoutIp), required)
  t.equal(gate.skip, false, 'not a skip')
  t.match(gate.fail, new RegExp(`${REQUIRE_NETNS_ENV}=1.*needs iproute2`), 'a failure naming the variable and the cause')
  const failures: string[] = []
  const skip = netnsSkipReason(gate, (r) => failures.push(r))
  t.same(failures, [gate.fail], 'one failed assertion, with the reason')
  t.equal(skip, gate.fail, 'and the bodies that cannot run are not run')
})

t.test('with NODECAT_REQUIRE_NETNS=1 a non-root run fails too', async (t) => {
  t.match(netnsGate(labNetUnavailable({ ...rootWithIp, uid: 1000 }), required).fail, /needs root/)
})

t.test('where namespaces are available the tests run, required or not', async (t) => {
  for (const env of [{}, required, { [REQUIRE_NETNS_ENV]: '0' }]) {
    const failures: string[] = []
    t.equal(netnsSkipReason(netnsGate(null, env), (r) => failures.push(r)), false, JSON.stringify(env))
    t.same(failures, [])
  }
})
