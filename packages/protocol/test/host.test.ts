import t from 'tap'
import os from 'node:os'
import { checkHostHeader, hostName, HOST_NAME_PATTERN, listenerHostNames } from '../src/index.js'

t.test('hostName: the name of a Host header, lower case, without port, brackets or a final dot', async (t) => {
  t.equal(hostName('Example.COM:8080'), 'example.com')
  t.equal(hostName('example.com.'), 'example.com')
  t.equal(hostName(' 127.0.0.1 '), '127.0.0.1')
  t.equal(hostName('[::1]:80'), '::1')
  t.equal(hostName('[FE80::1]'), 'fe80::1')
  for (const bad of ['', '.', '[nothex]', '[1.2.3.4]', 'a b', 'a:b:c', 'x:123456', 'evil.example/x', 'a@b']) t.equal(hostName(bad), null, JSON.stringify(bad))
})

t.test('listenerHostNames: the address, localhost on loopback or the host name off it, every interface on a wildcard, advertised and configured names', async (t) => {
  t.same([...listenerHostNames('127.0.0.1')].sort(), ['127.0.0.1', 'localhost'])
  t.same([...listenerHostNames('localhost')].sort(), ['127.0.0.1', '::1', 'localhost'])
  t.same([...listenerHostNames('[::1]')].sort(), ['::1', 'localhost'])
  t.same([...listenerHostNames('192.168.1.11', ['PI1:80', 'bad name'])].sort(), ['192.168.1.11', os.hostname().toLowerCase(), 'pi1'].sort(), 'configured names: the name only; a malformed one is left out')
  t.same([...listenerHostNames('127.0.0.1', [], 'http://node1.lan:8080')].sort(), ['127.0.0.1', 'localhost', 'node1.lan'], 'the advertised URL\'s host')
  t.same([...listenerHostNames('127.0.0.1', [], 'not a url')].sort(), ['127.0.0.1', 'localhost'])
  for (const wildcard of ['0.0.0.0', '::', '[::]']) {
    const names = listenerHostNames(wildcard)
    for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) t.ok(names.has(i.address.toLowerCase()), `${wildcard}: ${i.address}`)
    t.ok(names.has('localhost') && names.has(os.hostname().toLowerCase()), `${wildcard}: localhost and the host name`)
  }
})

t.test('checkHostHeader: exactly one Host, which parses and is one of the names', async (t) => {
  const names = new Set(['127.0.0.1', 'localhost'])
  t.equal(checkHostHeader(['Host', 'localhost:8080'], 'localhost:8080', names), null)
  t.equal(checkHostHeader(['host', '127.0.0.1'], '127.0.0.1', names), null)
  t.equal(checkHostHeader(['Host', 'evil.example'], 'evil.example', names), 'foreign')
  t.equal(checkHostHeader([], undefined, names), 'missing')
  t.equal(checkHostHeader(['Host', 'localhost', 'HOST', 'localhost'], 'localhost', names), 'missing', 'two Host headers, even the same')
  t.equal(checkHostHeader(['Host', 'a b'], 'a b', names), 'missing', 'one that does not parse')
})

t.test('HOST_NAME_PATTERN: dot-separated labels, no port, no wildcard', async (t) => {
  for (const ok of ['pi1', 'pi1.local', 'a_b.example.com.', 'x'.repeat(63)]) t.ok(HOST_NAME_PATTERN.test(ok), ok)
  for (const bad of ['', 'evil.example:80', '*', 'a b', 'http://x', '-a', 'a..b', 'x'.repeat(254)]) t.notOk(HOST_NAME_PATTERN.test(bad), bad)
})
