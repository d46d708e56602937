// Authorization parsing and strict compact-JWS decoding (SPEC §5.1, §5.2), pure.
import t from 'tap'
import { AxiomsError } from '../lib/errors.js'
import { countAuthorization, decodeCompact, extractToken, MAX_TOKEN_BYTES } from '../lib/bearer.js'

const PROTO = '__proto__'
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url')

function reasonOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (err instanceof AxiomsError) return err.reason
    throw err
  }
  return undefined
}

t.test('extractToken', async t => {
  t.equal(extractToken('Bearer abc', 1), 'abc')
  t.equal(extractToken('bearer abc', 1), 'abc')
  t.equal(extractToken('BeArEr    abc   ', 1), 'abc')
  t.equal(extractToken('Bearer ' + 'a'.repeat(MAX_TOKEN_BYTES), 1), 'a'.repeat(MAX_TOKEN_BYTES), 'exactly 8 KiB is fine')
  const cases: Array<[string | string[] | undefined, number, string]> = [
    [undefined, 0, 'missing_header'],
    ['', 1, 'invalid_scheme'],
    ['Basic abc', 1, 'invalid_scheme'],
    ['Bearerabc', 1, 'invalid_scheme'],
    ['Bearer\tabc', 1, 'invalid_scheme'],
    [' Bearer abc', 1, 'invalid_scheme'],
    ['Bearer:abc', 1, 'invalid_scheme'],
    ['abc', 1, 'invalid_scheme'],
    ['Bearer', 1, 'empty_token'],
    ['bearer ', 1, 'empty_token'],
    ['Bearer      ', 1, 'empty_token'],
    ['Bearer a b', 1, 'duplicate_header'],
    ['Bearer abc', 2, 'duplicate_header'],
    [['Bearer a', 'Bearer b'], 1, 'duplicate_header'],
    ['Bearer ' + 'a'.repeat(MAX_TOKEN_BYTES + 1), 1, 'token_too_large']
  ]
  for (const [value, count, reason] of cases) {
    t.equal(reasonOf(() => extractToken(value, count)), reason, JSON.stringify(value)?.slice(0, 30) ?? 'undefined')
  }
})

t.test('countAuthorization', async t => {
  t.equal(countAuthorization([]), 0)
  t.equal(countAuthorization(['Host', 'x', 'Authorization', 'a']), 1)
  t.equal(countAuthorization(['authorization', 'a', 'AUTHORIZATION', 'b', 'x-authorization', 'c']), 2)
  t.equal(countAuthorization(['Host', 'Authorization']), 0, 'values at odd indexes are not names')
})

t.test('decodeCompact', async t => {
  const header = b64('{"alg":"RS256","kid":"k"}')
  const payload = b64('{"sub":"u"}')
  const sig = b64(Buffer.from([1, 2, 3]))
  const ok = decodeCompact(`${header}.${payload}.${sig}`)
  t.same(ok.header, { alg: 'RS256', kid: 'k' })
  t.same(ok.payload, { sub: 'u' })
  t.equal(ok.signingInput, `${header}.${payload}`)
  t.same([...ok.signature], [1, 2, 3])
  const malformed = [
    '',
    'a',
    'a.b',
    `${header}.${payload}`,
    `${header}.${payload}.${sig}.`,
    `${header}.${payload}.${sig}.x.y`,
    `${header}..${sig}`,
    `.${payload}.${sig}`,
    `${header}.${payload}.`,
    `${header}=.${payload}.${sig}`,
    `${header}.${payload}.${sig}=`,
    `${header}.${payload}.a+b/`,
    `${header}.${payload}.a`, // length 1 mod 4 is never valid base64
    `${header}.${payload}.AB`, // 2 mod 4: the last character must be one of A Q g w
    `${header}.${payload}.AAB`, // 3 mod 4: the last character must be one of A E I M ...
    `${b64('[]')}.${payload}.${sig}`,
    `${b64('"x"')}.${payload}.${sig}`,
    `${b64('null')}.${payload}.${sig}`,
    `${b64('1')}.${payload}.${sig}`,
    `${b64('{')}.${payload}.${sig}`,
    `${header}.${b64('{"a":1} x')}.${sig}`,
    `${b64(Buffer.from([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d]))}.${payload}.${sig}` // invalid UTF-8
  ]
  for (const token of malformed) t.equal(reasonOf(() => decodeCompact(token)), 'malformed', token.slice(-24))
  // Canonical spellings of every length pass.
  for (const s of ['AA', 'AQ', 'AAA', 'AAE', 'AAAA']) t.equal(reasonOf(() => decodeCompact(`${header}.${payload}.${s}`)), undefined, s)
  t.same(decodeCompact(`${b64('{"__proto__":{"x":1}}')}.${payload}.${sig}`).header[PROTO], { x: 1 }, 'an own __proto__ key')
})
