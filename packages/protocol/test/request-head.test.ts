import t from 'tap'
import { duplicateHost, screenHead } from '../src/index.js'

t.test('duplicateHost: a second Host field in any case; a header merely ending in host is not one', async (t) => {
  t.equal(duplicateHost(['Host', 'a', 'X', '1']), false)
  t.equal(duplicateHost([]), false)
  t.equal(duplicateHost(['Host', 'a', 'host', 'b']), true)
  t.equal(duplicateHost(['HOST', 'a', 'X-Host', 'h', 'hoSt', 'a']), true, 'even with the same value')
  t.equal(duplicateHost(['X-Host', 'a', 'Host', 'b']), false)
})

t.test('screenHead: another major version first, then two Hosts', async (t) => {
  t.equal(screenHead({ httpVersionMajor: 1, rawHeaders: ['Host', 'a'] }), null)
  t.equal(screenHead({ httpVersionMajor: 1, rawHeaders: ['Host', 'a', 'Host', 'a'] }), 'duplicate-host')
  t.equal(screenHead({ httpVersionMajor: 2, rawHeaders: ['Host', 'a'] }), 'http-version')
  t.equal(screenHead({ httpVersionMajor: 0, rawHeaders: ['Host', 'a', 'Host', 'a'] }), 'http-version', 'the version is checked first')
})
