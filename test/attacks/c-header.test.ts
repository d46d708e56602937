// SECURITY.md §8 C: header, algorithm and key selection. HMAC confusion tokens are computed with
// node:crypto createHmac over every encoding of A's public key; nothing reaches a key lookup.
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { signJws } from '../../testing.js'
import {
  accepted, attackerKey, b64u, claimsV, compact, createApi, createWorld, headerFor, hs256, refused, segments, signText, token
} from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())
const rs = world.k.rs

t.test('C1 alg none with an empty signature: Malformed token (empty segment)', async t => {
  const api = await createApi(t, world)
  for (const alg of ['none', 'None', 'NONE']) {
    const tok = `${b64u(JSON.stringify({ alg, kid: 'k-rs', typ: 'at+jwt' }))}.${b64u(JSON.stringify(claimsV({ scope: 'items:write' })))}.`
    refused(t, await api.get(tok), 'MT', api.realm, {}, alg)
  }
})

t.test('C2 none in any casing with a signature: Invalid or unsupported algorithm', async t => {
  const api = await createApi(t, world)
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const tok = compact(JSON.stringify({ alg, kid: 'k-rs', typ: 'at+jwt' }), JSON.stringify(claimsV()), 'sig')
    refused(t, await api.get(tok), 'ALG', api.realm, {}, alg)
    // Even with a real RS256 signature over the same input.
    const [h, p] = segments(tok)
    const real = segments(signText(Buffer.from(h, 'base64url').toString(), Buffer.from(p, 'base64url').toString(), rs))[2]
    refused(t, await api.get(`${h}.${p}.${real}`), 'ALG', api.realm, {}, `${alg} + RS256 signature`)
  }
})

t.test('C3 alg missing, empty, wrong type or case, padded: Invalid or unsupported algorithm', async t => {
  const api = await createApi(t, world)
  for (const alg of [undefined, '', null, ['RS256'], {}, 'rs256', 'RS256 ', ' RS256', 'RS256\u0000', 'Rs256', 'ES256K', 'RSA-OAEP', 'dir', 1]) {
    const header = { kid: 'k-rs', typ: 'at+jwt', ...(alg === undefined ? {} : { alg }) }
    const tok = signText(JSON.stringify(header), JSON.stringify(claimsV()), rs)
    refused(t, await api.get(tok), 'ALG', api.realm, {}, JSON.stringify(alg) ?? 'missing')
  }
})

t.test('C4 HS256 keyed with A\'s public key in every encoding: Invalid or unsupported algorithm, no fetch', async t => {
  const api = await createApi(t, world)
  const pub = rs.publicKey
  const spkiPem = pub.export({ type: 'spki', format: 'pem' }) as string
  const pkcs1Pem = pub.export({ type: 'pkcs1', format: 'pem' }) as string
  const jwk = pub.export({ format: 'jwk' })
  const keys: Record<string, string | Buffer> = {
    'SPKI PEM': spkiPem,
    'PKCS#1 PEM': pkcs1Pem,
    'SPKI PEM, leading space': ' ' + spkiPem,
    'SPKI PEM, leading newline': '\n' + spkiPem,
    'SPKI PEM, BOM': '\ufeff' + spkiPem,
    'SPKI PEM, U+200B': '\u200b' + spkiPem,
    'SPKI PEM, comment prefix': '# key\n' + spkiPem,
    'PKCS#1 PEM, trailing newline stripped': pkcs1Pem.trim(),
    'SPKI DER': pub.export({ type: 'spki', format: 'der' }),
    'PKCS#1 DER': pub.export({ type: 'pkcs1', format: 'der' }),
    'JWK JSON': JSON.stringify(jwk),
    'published JWK JSON': JSON.stringify(rs.jwk),
    'JWKS JSON': JSON.stringify({ keys: [rs.jwk] }),
    'modulus bytes': Buffer.from(jwk.n as string, 'base64url'),
    'modulus base64url': jwk.n as string
  }
  for (const [name, key] of Object.entries(keys)) {
    for (const kid of ['k-rs', undefined]) {
      const header = { alg: 'HS256', typ: 'at+jwt', ...(kid === undefined ? {} : { kid }) }
      refused(t, await api.get(hs256(header, claimsV({ scope: 'items:write' }), key), '/items', 'POST'), 'ALG', api.realm, {}, `${name} kid=${String(kid)}`)
    }
  }
  // HS384 / HS512 too.
  for (const alg of ['HS384', 'HS512']) {
    const h = b64u(JSON.stringify({ alg, kid: 'k-rs' }))
    const p = b64u(JSON.stringify(claimsV()))
    const sig = createHmac(`sha${alg.slice(2)}`, spkiPem).update(`${h}.${p}`).digest()
    refused(t, await api.get(`${h}.${p}.${b64u(sig)}`), 'ALG', api.realm, {}, alg)
  }
})

t.test('C5 HS256 with an empty or guessable key: Invalid or unsupported algorithm', async t => {
  const api = await createApi(t, world)
  for (const key of ['', 'secret', 'changeme', 'c1', 'your-api-audience', API_KEY()]) {
    for (const kid of ['k-rs', 'no-such-kid', undefined]) {
      const header = { alg: 'HS256', ...(kid === undefined ? {} : { kid }) }
      refused(t, await api.get(hs256(header, claimsV(), key)), 'ALG', api.realm, {}, `key=${JSON.stringify(key)} kid=${String(kid)}`)
    }
  }
})
function API_KEY (): string { return 'https://api.test' }

t.test('C6 other asymmetric algorithms: D accepts the allow-listed ones, S refuses them', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  for (const key of [world.k.ps, world.k.ed, world.k.rs512]) {
    const tok = token(world, {}, {}, key)
    accepted(t, await d.get(tok), `D ${key.alg}`)
    refused(t, await s.get(tok), 'ALG', s.realm, {}, `S ${key.alg}`)
  }
  const es256k = signText(JSON.stringify({ alg: 'ES256K', kid: 'k-es', typ: 'at+jwt' }), JSON.stringify(claimsV()), world.k.es)
  refused(t, await d.get(es256k), 'ALG', d.realm, {}, 'D ES256K')
  refused(t, await s.get(es256k), 'ALG', s.realm, {}, 'S ES256K')
})

t.test('C7 algorithm and key type do not fit: Invalid access token', async t => {
  const api = await createApi(t, world)
  // ES256 header naming the RSA key (signed with the EC key), and the reverse.
  refused(t, await api.get(token(world, {}, { kid: 'k-rs' }, world.k.es)), 'IAC', api.realm, {}, 'ES256 kid k-rs')
  refused(t, await api.get(token(world, {}, { kid: 'k-es' }, rs)), 'IAC', api.realm, {}, 'RS256 kid k-es')
  // PS256 header naming k-rs whose JWK says alg RS256 (a real PSS signature by k-rs' private key).
  const pss = signJws({ alg: 'PS256', kid: 'k-rs', typ: 'at+jwt' }, claimsV(), { ...rs, alg: 'PS256' })
  refused(t, await api.get(pss), 'IAC', api.realm, {}, 'PS256 against an RS256 JWK')
  refused(t, await api.get(token(world, {}, { kid: 'k-ed' }, world.k.ps)), 'IAC', api.realm, {}, 'PS256 kid k-ed')
})

t.test('C8 ES256 against a P-384 key: Invalid access token', async t => {
  const p384 = world.a.addKey('ES384', 'k-p384')
  const api = await createApi(t, world)
  const forged = signJws({ alg: 'ES256', kid: 'k-p384', typ: 'at+jwt' }, claimsV(), world.k.es)
  refused(t, await api.get(forged), 'IAC', api.realm, {}, 'JWK alg ES384')
  // Without the JWK alg member: the curve alone decides.
  world.a.setJwks({ keys: [rs.jwk, { ...p384.jwk, alg: undefined, kid: 'k-p384' }] })
  t.teardown(() => world.a.setJwks(undefined))
  const api2 = await createApi(t, world)
  refused(t, await api2.get(forged), 'IAC', api2.realm, {}, 'no JWK alg')
  accepted(t, await api2.get(token(world, {}, { kid: 'k-p384' }, p384)), 'the P-384 key still serves ES384')
})

t.test('C9 unknown kid: Invalid access token, one refresh per cooldown, never another key', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, {}, { kid: 'nope-1' })), 'IAC', api.realm, { jwks: 1 }, 'first miss refreshes once')
  refused(t, await api.get(token(world, {}, { kid: 'nope-2' })), 'IAC', api.realm, { jwks: 0 }, 'second miss within cooldown')
  // A token signed by k-rs under an unknown kid is not verified with "the last key" or any key.
  refused(t, await api.get(token(world, {}, { kid: 'k-rs-old' })), 'IAC', api.realm, { jwks: 0 }, 'signed by a real key, unknown kid')
})

t.test('C10 kid missing while the JWKS has several keys: Missing key ID, no key tried', async t => {
  const api = await createApi(t, world)
  for (const key of [rs, world.k.es, world.k.ed]) {
    refused(t, await api.get(token(world, {}, { kid: undefined }, key)), 'KID', api.realm, {}, key.alg)
  }
})

t.test('C11 kid not a non-empty string: Missing key ID', async t => {
  const api = await createApi(t, world)
  for (const kid of [1, null, [], ['k-rs'], {}, true, '']) {
    refused(t, await api.get(signText(JSON.stringify({ alg: 'RS256', kid, typ: 'at+jwt' }), JSON.stringify(claimsV()), rs)), 'KID', api.realm, {}, JSON.stringify(kid))
  }
})

t.test('C12 kid naming Object.prototype members: Invalid access token', async t => {
  const api = await createApi(t, world)
  let first = true
  for (const kid of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
    refused(t, await api.get(token(world, {}, { kid })), 'IAC', api.realm, { jwks: first ? 1 : 0 }, kid)
    first = false
  }
})

t.test('C13 kid path traversal with HS256 and an empty key: algorithm refused first', async t => {
  const api = await createApi(t, world)
  for (const kid of ['../../dev/null', '/dev/null', '..\\..\\windows\\win.ini', 'file:///etc/passwd']) {
    refused(t, await api.get(hs256({ alg: 'HS256', kid }, claimsV(), '')), 'ALG', api.realm, {}, kid)
    refused(t, await api.get(token(world, {}, { kid })), 'IAC', api.realm, { jwks: null }, `${kid} with RS256`)
  }
})

t.test('C14 kid injection payloads: Invalid access token, nothing executed', async t => {
  const api = await createApi(t, world)
  const before = world.a.requests.jwks
  for (const kid of [
    "' OR '1'='1", "k-rs' --", '*)(uid=*))(|(uid=*', '{"$ne":null}', '$(touch /tmp/axioms-pwned)', '`id`; rm -rf /',
    '$' + '{jndi:ldap://127.0.0.1:1/a}', 'k-rs:https://idp-a.test', '%00k-rs', 'k-rs%00'
  ]) {
    refused(t, await api.get(token(world, {}, { kid })), 'IAC', api.realm, { jwks: null }, kid)
  }
  t.ok(world.a.requests.jwks - before <= 1, 'at most one refresh for the whole batch')
})

t.test('C15 kid with CRLF or NUL: Invalid access token', async t => {
  const api = await createApi(t, world)
  for (const kid of ['k-rs\r\nX-Injected: 1', 'k-rs\u0000', '\n', 'k-rs\r']) {
    const out = await api.get(token(world, {}, { kid }))
    refused(t, out, 'IAC', api.realm, { jwks: null }, JSON.stringify(kid))
    t.equal(out.headers['x-injected'], undefined)
  }
})

/** A local "attacker" host counting every request it gets. */
async function attackerHost (t: { teardown: (fn: () => unknown) => void }): Promise<{ url: string, hits: () => number }> {
  let hits = 0
  const server = createServer((_req, res) => { hits++; res.end('{"keys":[]}') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits }
}

t.test('C16 jku pointing at the attacker: Invalid token signature, zero requests there', async t => {
  const api = await createApi(t, world)
  const evil = await attackerHost(t)
  const mine = attackerKey('RS256', 'k-rs')
  const tok = signJws(headerFor(mine, { jku: `${evil.url}/jwks.json` }), claimsV({ scope: 'items:write' }), mine)
  refused(t, await api.get(tok, '/items', 'POST'), 'SIG', api.realm)
  refused(t, await api.get(signJws(headerFor(mine, { jku: 'https://attacker.test/jwks.json' }), claimsV(), mine)), 'SIG', api.realm)
  t.equal(evil.hits(), 0)
})

t.test('C17 x5u towards metadata endpoints: ignored, zero outbound requests', async t => {
  const api = await createApi(t, world)
  const evil = await attackerHost(t)
  for (const x5u of [`${evil.url}/latest/meta-data/`, 'http://169.254.169.254/latest/meta-data/iam/']) {
    const mine = attackerKey('RS256', 'k-rs')
    refused(t, await api.get(signJws(headerFor(mine, { x5u }), claimsV(), mine)), 'SIG', api.realm, {}, x5u)
    refused(t, await api.get(token(world, {}, { x5u, kid: 'unknown-x5u' })), 'IAC', api.realm, { jwks: null }, `${x5u} unknown kid`)
  }
  t.equal(evil.hits(), 0)
})

t.test('C18 embedded jwk or x5c with the attacker key: Invalid token signature', async t => {
  const api = await createApi(t, world)
  for (const alg of ['RS256', 'ES256'] as const) {
    const mine = attackerKey(alg, alg === 'RS256' ? 'k-rs' : 'k-es')
    const jwk = { ...mine.jwk }
    refused(t, await api.get(signJws(headerFor(mine, { jwk }), claimsV(), mine)), 'SIG', api.realm, {}, `${alg} jwk`)
    const der = mine.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')
    refused(t, await api.get(signJws(headerFor(mine, { x5c: [der] }), claimsV(), mine)), 'SIG', api.realm, {}, `${alg} x5c`)
  }
})

t.test('C19 crit with an extension the verifier does not understand: Invalid access token', async t => {
  const api = await createApi(t, world)
  refused(t, await api.get(token(world, {}, { crit: ['urn:x'], 'urn:x': 1 })), 'IAC', api.realm)
})

t.test('C20 malformed crit, b64: false: Invalid access token', async t => {
  const api = await createApi(t, world)
  for (const h of [{ crit: [] }, { crit: 'x' }, { crit: ['alg'] }, { crit: ['x'] }, { crit: null }, { b64: false, crit: ['b64'] }, { b64: false }, { b64: true }]) {
    refused(t, await api.get(token(world, {}, h)), 'IAC', api.realm, {}, JSON.stringify(h))
  }
  // Unencoded payload (RFC 7797): the payload segment is the raw JSON. Refused before any use.
  const h = b64u(JSON.stringify({ alg: 'RS256', kid: 'k-rs', b64: false, crit: ['b64'] }))
  refused(t, await api.get(`${h}..${segments(token(world))[2]}`), 'MT', api.realm, {}, 'detached')
})

t.test('C21 typ missing, JWT, jwt, application/jwt: D 200, S Invalid token type', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  for (const typ of [undefined, 'JWT', 'jwt', 'application/jwt']) {
    const tok = token(world, {}, { typ })
    accepted(t, await d.get(tok), `D ${String(typ)}`)
    refused(t, await s.get(tok), 'TYP', s.realm, {}, `S ${String(typ)}`)
  }
})

t.test('C22 typ at+jwt, application/at+jwt: 200 in D and S', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  for (const typ of ['at+jwt', 'application/at+jwt']) {
    accepted(t, await d.get(token(world, {}, { typ })), `D ${typ}`)
    accepted(t, await s.get(token(world, {}, { typ })), `S ${typ}`)
  }
})

t.test('C23 typ of other token kinds or not exact: Invalid token type in D and S', async t => {
  const d = await createApi(t, world)
  const s = await createApi(t, world, { profile: 'S' })
  for (const typ of ['AT+JWT', 'At+Jwt', 'dpop+jwt', 'secevent+jwt', 'logout+jwt', 'at+jwt; charset=x', ' at+jwt', 'JWS', '', 1, null, ['at+jwt']]) {
    const tok = signText(JSON.stringify({ alg: 'RS256', kid: 'k-rs', typ }), JSON.stringify(claimsV()), rs)
    refused(t, await d.get(tok), 'TYP', d.realm, {}, `D ${JSON.stringify(typ)}`)
    refused(t, await s.get(tok), 'TYP', s.realm, {}, `S ${JSON.stringify(typ)}`)
  }
})

t.test('C24 zip on a JWS, cty JWT (nested): Invalid access token (design choice)', async t => {
  const d = await createApi(t, world)
  for (const h of [{ zip: 'DEF' }, { zip: '' }, { cty: 'JWT' }, { cty: 'jwt' }, { cty: 'Jwt' }]) {
    refused(t, await d.get(token(world, {}, h)), 'IAC', d.realm, {}, JSON.stringify(h))
  }
  // A content type that is not a nested JWT is just data.
  accepted(t, await d.get(token(world, {}, { cty: 'json' })), 'cty json')
})
