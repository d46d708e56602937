// htu normalisation (lib/dpop/htu.ts): RFC 3986 §6.2.2 and §6.2.3 on both sides, query and
// fragment dropped, and a request side that cannot be laundered through Host.
import t from 'tap'
import { normaliseHtu, requestHtu } from '../../lib/dpop/htu.js'

t.test('normaliseHtu: case, default ports, percent-encoding, dot segments, empty path', async t => {
  const cases: Array<[string, string]> = [
    ['https://api.test/items', 'https://api.test/items'],
    ['HTTPS://Api.Test/items', 'https://api.test/items'],
    ['https://api.test:443/items', 'https://api.test/items'],
    ['http://api.test:80/items', 'http://api.test/items'],
    ['http://api.test:443/items', 'http://api.test:443/items'],
    ['https://api.test:0443/items', 'https://api.test/items'],
    ['https://api.test:8443/items', 'https://api.test:8443/items'],
    ['https://api.test:/items', 'https://api.test/items'],
    ['https://api.test', 'https://api.test/'],
    ['https://api.test?x=1', 'https://api.test/'],
    ['https://api.test/items?x=1&y=2#top', 'https://api.test/items'],
    ['https://api.test/items#a?b', 'https://api.test/items'],
    ['https://api.test/%7Euser/%41%2d%5F%2E', 'https://api.test/~user/A-_.'],
    ['https://api.test/a%2fb', 'https://api.test/a%2Fb'],
    ['https://api.test/a%3a%40', 'https://api.test/a%3A%40'],
    ['https://api.test/a|b{c}"d\\e^f`g<h> i', 'https://api.test/a%7Cb%7Bc%7D%22d%5Ce%5Ef%60g%3Ch%3E%20i'],
    ["https://api.test/!$&'()*+,;=:@", "https://api.test/!$&'()*+,;=:@"],
    ['https://api.test/caf\u00e9', 'https://api.test/caf%C3%A9'],
    ['https://api.test/\u{1F600}', 'https://api.test/%F0%9F%98%80'],
    ['https://api.test/a/b/../c', 'https://api.test/a/c'],
    ['https://api.test/a/./b', 'https://api.test/a/b'],
    ['https://api.test/a/b/.', 'https://api.test/a/b/'],
    ['https://api.test/a/b/..', 'https://api.test/a/'],
    ['https://api.test/..', 'https://api.test/'],
    ['https://api.test/../../x', 'https://api.test/x'],
    ['https://api.test/a//../b', 'https://api.test/a/b'],
    ['https://api.test/a/%2E%2E/b', 'https://api.test/b'],
    ['https://api.test/a/.../b', 'https://api.test/a/.../b'],
    ['https://api.test//x', 'https://api.test//x'],
    ['https://[::1]:8443/x', 'https://[::1]:8443/x'],
    ['https://[2001:DB8::1]/x', 'https://[2001:db8::1]/x'],
    ['https://127.0.0.1:443/x', 'https://127.0.0.1/x']
  ]
  for (const [input, out] of cases) t.equal(normaliseHtu(input), out, input)
})

t.test('normaliseHtu: anything but an absolute http(s) URI with a plain host is undefined', async t => {
  for (const input of [
    '', '/items', 'api.test/items', '//api.test/items', 'https:/api.test/items', 'https:api.test',
    'ftp://api.test/x', 'wss://api.test/x', 'javascript://api.test/x',
    'https://user@api.test/x', 'https://user:pw@api.test/x', 'https:///x', 'https://:443/x',
    'https://api.test:65536/x', 'https://api.test:123456/x', 'https://api.test:8a/x', 'https://api.test:-1/x',
    'https://api%2Etest/x', 'https://api_test!/x', 'https://[v1.fe]/x', 'https://[::1/x', 'https://a:b:c/x',
    'https://api.test/a\u0000b', 'https://api.test/a\tb', 'https://api.test/a\u007fb', 'https://api.test/%zz', 'https://api.test/%4',
    'https://api.test/\ud800'
  ]) {
    t.equal(normaliseHtu(input), undefined, JSON.stringify(input))
  }
})

t.test('requestHtu: the request as Fastify decided it', async t => {
  t.equal(requestHtu('https', 'api.test', '/items?page=2'), 'https://api.test/items')
  t.equal(requestHtu('HTTP', 'API.test:80', '/items'), 'http://api.test/items')
  t.equal(requestHtu('https', 'api.test:8443', '/it%65ms#x'), 'https://api.test:8443/items')
  t.equal(requestHtu('https', '[::1]:3000', '/'), 'https://[::1]:3000/')
  t.equal(requestHtu('https', 'api.test', '/a|b'), 'https://api.test/a%7Cb', 'characters Node lets through, escaped as clients escape them')
  t.equal(requestHtu('https', 'api.test', '/caf\u00c3\u00a9'), 'https://api.test/caf%C3%A9', 'raw octets (latin1) of a UTF-8 target')
  t.equal(requestHtu('https', 'api.test', '/a/../b'), 'https://api.test/a/../b', 'dot segments kept: they cannot match a normalised htu')
  t.equal(requestHtu('https', 'api.test', '/a#b?c'), 'https://api.test/a')
  for (const [scheme, host, target] of [
    ['ftp', 'api.test', '/'],
    ['https', 'api.test/x?', '/'],
    ['https', 'api.test#', '/'],
    ['https', 'user@api.test', '/'],
    ['https', '', '/'],
    ['https', 'api.test', ''],
    ['https', 'api.test', 'x'],
    ['https', 'api.test', '*'],
    ['https', 'api.test', 'https://api.test/'],
    ['https', 'api.test', '/\u0100'],
    ['https', 'api.test', '/%g0'],
    ['https', 'api.test', '/\r\n']
  ] as const) {
    t.equal(requestHtu(scheme, host, target), undefined, JSON.stringify([scheme, host, target]))
  }
})

t.test('a stolen proof cannot be moved to another path through Host (PR #244)', async t => {
  const proofFor = normaliseHtu('https://api.test/intended')
  // Host carrying the intended path, target elsewhere: refused outright, never "laundered".
  t.equal(requestHtu('https', 'api.test/intended?', '/admin'), undefined)
  t.equal(requestHtu('https', 'api.test/intended#', '/admin'), undefined)
  t.not(requestHtu('https', 'api.test', '/admin'), proofFor)
  t.not(requestHtu('https', 'api.test', '/admin/../intended'), proofFor)
  t.equal(requestHtu('https', 'api.test', '/intended?from=/admin'), proofFor)
})
