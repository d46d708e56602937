// SECURITY.md §8 B: compact serialization and encoding. Tokens are built byte by byte.
import { createSign } from 'node:crypto'
import t from 'tap'
import { accepted, b64u, claimsV, createApi, createWorld, headerFor, refused, segments, signText, token } from './harness.js'

const world = await createWorld()
t.teardown(() => world.close())

t.test('B1 wrong number of segments or empty segments: Malformed token', async t => {
  const api = await createApi(t, world)
  const [h, p, s] = segments(token(world))
  for (const tok of ['.', '..', '...', `${h}.${p}`, `${h}.${p}.${s}.`, `${h}.${p}.${s}.x`, `.${p}.${s}`, `${h}..${s}`, `${h}.${p}.`]) {
    refused(t, await api.get(tok), 'MT', api.realm, {}, tok.length > 20 ? tok.slice(0, 20) + '…' : tok)
  }
})

t.test('B2 five-part JWE (p2c, zip): refused at once, no decryption, no fetch', async t => {
  const api = await createApi(t, world)
  const jweHeader = b64u(JSON.stringify({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', p2c: 2147483647, p2s: 'c2FsdA', zip: 'DEF', kid: 'k-rs' }))
  const jwe = `${jweHeader}.${b64u('encryptedkey')}.${b64u('iv-iv-iv-iv')}.${b64u('ciphertext')}.${b64u('tag-tag-tag-tag')}`
  refused(t, await api.get(jwe), 'MT', api.realm)
  const rsaOaep = `${b64u(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A128CBC-HS256', kid: 'k-rs' }))}.${b64u('k')}.${b64u('i')}.${b64u('c')}.${b64u('t')}`
  refused(t, await api.get(rsaOaep), 'MT', api.realm)
})

t.test('B3 JWS JSON serialization as the token', async t => {
  const api = await createApi(t, world)
  const [h, p, s] = segments(token(world))
  const flat = JSON.stringify({ protected: h, payload: p, signature: s })
  refused(t, await api.get(flat), 'MT', api.realm, {}, 'flattened, no spaces')
  const general = JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] })
  refused(t, await api.get(general), 'MT', api.realm, {}, 'general, no spaces')
  refused(t, await api.get(JSON.stringify({ protected: h, payload: p, signature: s }, null, 1)), 'IH', api.realm, {}, 'with spaces')
})

t.test('B4 padding, + and / inside a segment; a space inside one', async t => {
  const api = await createApi(t, world)
  const [h, p, s] = segments(token(world))
  const std = (seg: string): string => Buffer.from(seg, 'base64url').toString('base64')
  for (const [name, tok] of Object.entries({
    'padded header': `${std(h)}.${p}.${s}`,
    'standard alphabet signature': `${h}.${p}.${std(s)}`,
    'inner =': `${h.slice(0, 4)}=${h.slice(4)}.${p}.${s}`,
    'inner +': `${h}.${p.slice(0, 8)}+${p.slice(8)}.${s}`,
    'inner /': `${h}.${p}.${s.slice(0, 8)}/${s.slice(8)}`
  })) {
    refused(t, await api.get(tok), 'MT', api.realm, {}, name)
  }
  refused(t, await api.get(`${h}.${p.slice(0, 8)} ${p.slice(8)}.${s}`), 'IH', api.realm, {}, 'space: two tokens')
})

t.test('B5 a last character differing only in unused bits: Malformed token (canonical check)', async t => {
  const api = await createApi(t, world)
  // Find a valid token whose header, payload or signature segment has unused trailing bits.
  let checked = 0
  for (let i = 0; i < 40 && checked < 3; i++) {
    const tok = token(world, { pad: 'x'.repeat(i) })
    const segs = segments(tok)
    for (let n = 0; n < 3; n++) {
      const seg = segs[n] as string
      const rest = seg.length % 4
      if (rest === 0) continue
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const last = alphabet.indexOf(seg[seg.length - 1] as string)
      const twin = alphabet[last + 1] as string
      const mutated = seg.slice(0, -1) + twin
      // Same bytes once decoded: only the unused bits differ.
      if (!Buffer.from(mutated, 'base64url').equals(Buffer.from(seg, 'base64url'))) continue
      const copy = [...segs]
      copy[n] = mutated
      refused(t, await api.get(copy.join('.')), 'MT', api.realm, {}, `segment ${n}`)
      checked++
    }
  }
  t.ok(checked >= 1, 'at least one non-canonical twin tested')
})

t.test('B6 header not a JSON object: Malformed token', async t => {
  const api = await createApi(t, world)
  const p = JSON.stringify(claimsV())
  for (const header of ['not json', '[]', '"x"', '1', 'null', 'true', '{', '{"alg":"RS256",}', '']) {
    const tok = header === '' ? `.${b64u(p)}.${b64u('sig')}` : signText(header, p, world.k.rs)
    refused(t, await api.get(tok), 'MT', api.realm, {}, JSON.stringify(header))
  }
})

t.test('B7 validly signed payloads that are not JSON objects: Malformed token (no claim check skipped)', async t => {
  const api = await createApi(t, world)
  const h = JSON.stringify(headerFor(world.k.rs))
  for (const payload of ['[{"sub":"admin","scope":"items:write"}]', '"x"', '1', 'true', 'null', '[]', 'not json']) {
    refused(t, await api.get(signText(h, payload, world.k.rs)), 'MT', api.realm, {}, payload)
    refused(t, await api.get(signText(h, payload, world.k.rs), '/items', 'POST'), 'MT', api.realm, {}, `POST ${payload}`)
  }
})

t.test('B8 payload with invalid UTF-8 or UTF-16 JSON: Malformed token (N15)', async t => {
  const api = await createApi(t, world)
  const h = b64u(JSON.stringify(headerFor(world.k.rs)))
  const good = JSON.stringify(claimsV())
  const bad = Buffer.concat([Buffer.from(good.slice(0, -1) + ',"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
  const utf16 = Buffer.from(good, 'utf16le')
  const utf16bom = Buffer.concat([Buffer.from([0xff, 0xfe]), utf16])
  const overlong = Buffer.concat([Buffer.from(good.slice(0, -1) + ',"name":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])
  const lone = Buffer.concat([Buffer.from(good.slice(0, -1) + ',"name":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])
  for (const [name, bytes] of Object.entries({ 'C3 28': bad, 'UTF-16LE': utf16, 'UTF-16 BOM': utf16bom, overlong, 'lone surrogate': lone })) {
    const signed = signBytes(h, bytes)
    refused(t, await api.get(signed), 'MT', api.realm, {}, name)
  }
  // Invalid UTF-8 in the header too.
  const badHeader = Buffer.concat([Buffer.from('{"alg":"RS256","kid":"k-rs","x":"'), Buffer.from([0xff]), Buffer.from('"}')])
  refused(t, await api.get(`${b64u(badHeader)}.${b64u(good)}.${b64u('s')}`), 'MT', api.realm, {}, 'header 0xFF')
})

/** Signs arbitrary payload bytes with k-rs (signJws only takes text). */
function signBytes (h: string, payload: Buffer): string {
  const input = `${h}.${b64u(payload)}`
  const sig = createSign('sha256').update(input).sign(world.k.rs.privateKey)
  return `${input}.${b64u(sig)}`
}

t.test('B9 duplicate members: last value wins, consistently for checks and for the route', async t => {
  const api = await createApi(t, world)
  const c = claimsV()
  const body = JSON.stringify(c).slice(1, -1)
  // Header: a later alg wins, so `"alg":"none"` after RS256 is judged as none.
  const dupAlg = signText('{"alg":"RS256","kid":"k-rs","alg":"none"}', JSON.stringify(c), world.k.rs)
  refused(t, await api.get(dupAlg), 'ALG', api.realm, {}, 'header alg RS256 then none')
  const dupKid = signText('{"alg":"RS256","kid":"k-es","kid":"k-rs","typ":"at+jwt"}', JSON.stringify(c), world.k.rs)
  accepted(t, await api.get(dupKid), 'header kid k-es then k-rs: k-rs used')
  // Payload: the scope the route enforces is the one it sees, the last one.
  const readLast = signText(JSON.stringify(headerFor(world.k.rs)), `{"scope":"items:write",${body}}`, world.k.rs)
  accepted(t, await api.get(readLast), 'GET with scope write then read')
  refused(t, await api.get(readLast, '/items', 'POST'), 'INS', api.realm, { scope: 'items:write' }, 'POST: the write scope was overridden')
  t.equal((api.seen.at(-1) as Record<string, unknown>).scope, 'items:read', 'route sees the value that was checked')
  const writeLast = signText(JSON.stringify(headerFor(world.k.rs)), `{${body},"scope":"items:write"}`, world.k.rs)
  accepted(t, await api.get(writeLast, '/items', 'POST'), 'POST with read then write')
  t.equal((api.seen.at(-1) as Record<string, unknown>).scope, 'items:write')
  // exp: an expired value after a valid one is the one checked.
  const expLast = signText(JSON.stringify(headerFor(world.k.rs)), `{${body},"exp":1}`, world.k.rs)
  refused(t, await api.get(expLast), 'EXP', api.realm, {}, 'exp overridden by an old one')
  const issLast = signText(JSON.stringify(headerFor(world.k.rs)), `{${body},"iss":"https://idp-b.test"}`, world.k.rs)
  refused(t, await api.get(issLast), 'ISS', api.realm, {}, 'iss overridden')
  // The claims the route sees equal a single JSON.parse of the signed-over bytes.
  const seenBefore = api.seen.length
  accepted(t, await api.get(readLast))
  const signed = JSON.parse(Buffer.from(segments(readLast)[1], 'base64url').toString())
  t.same({ ...(api.seen[seenBefore] as object) }, signed)
})

t.test('B10 deep nesting up to the size cap: bounded, never 5xx', async t => {
  const api = await createApi(t, world)
  const depth = 2500
  const nested = '['.repeat(depth) + ']'.repeat(depth)
  const h = JSON.stringify(headerFor(world.k.rs))
  const payloadDeep = `{"iss":"${'https://idp-a.test'}","aud":"https://api.test","exp":${Math.floor(Date.now() / 1000) + 300},"x":${nested}}`
  const t0 = performance.now()
  // Signed, within the size cap, but nested past MAX_CLAIM_DEPTH: refused, the stack never at risk.
  const o1 = await api.get(signText(h, payloadDeep, world.k.rs))
  refused(t, o1, 'MT', api.realm, {}, 'claims nested 2,500 deep')
  t.ok(segments(signText(h, payloadDeep, world.k.rs)).join('.').length <= 8192, 'within the cap')
  const headerDeep = `{"alg":"RS256","kid":"k-rs","x":${nested}}`
  const deepHeaderTok = signText(headerDeep, JSON.stringify(claimsV()), world.k.rs)
  t.ok(deepHeaderTok.length <= 8192, 'deep header within the cap')
  accepted(t, await api.get(deepHeaderTok), 'unknown deep header member is ignored data')
  const [dh, dp] = segments(deepHeaderTok)
  refused(t, await api.get(`${dh}.${dp}.${segments(token(world))[2]}`), 'SIG', api.realm, {}, 'deep header, foreign signature')
  const objDeep = '{"a":'.repeat(1300) + '1' + '}'.repeat(1300)
  const o3 = await api.get(`${b64u(objDeep)}.${b64u('{}')}.${b64u('s')}`)
  t.ok(o3.status === 401 && o3.handled === 0, 'deep object header: 401')
  t.comment(`B10 three deep tokens in ${(performance.now() - t0).toFixed(1)} ms`)
})

t.test('B11 JSON whitespace inside the decoded header and payload is fine', async t => {
  const api = await createApi(t, world)
  const h = JSON.stringify(headerFor(world.k.rs), null, 2).replace(/\n/g, '\r\n')
  const p = JSON.stringify(claimsV(), null, '\t')
  accepted(t, await api.get(signText(h, p, world.k.rs)))
  accepted(t, await api.get(signText(' \n' + JSON.stringify(headerFor(world.k.rs)) + ' \n', JSON.stringify(claimsV()), world.k.rs)))
})
