// The introspection option and its AXIOMS_INTROSPECTION_* twins: defaults, the environment, and
// startup errors that name the option and its variable.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { type AxiomsOptions, resolveSettings } from '../../lib/options/index.js'

const BASE = { audience: 'api', issuer: 'https://issuer.example', env: {} }
const settings = (introspection: unknown, env: Record<string, string> = {}): ReturnType<typeof resolveSettings>['introspection'] =>
  resolveSettings({ ...BASE, env, ...(introspection === undefined ? {} : { introspection }) } as AxiomsOptions).introspection

t.test('off unless configured; defaults', async t => {
  t.equal(settings(undefined), undefined)
  t.equal(settings(false), undefined)
  t.equal(settings(false, { AXIOMS_INTROSPECTION_CLIENT_ID: 'c', AXIOMS_INTROSPECTION_CLIENT_SECRET: 's' }), undefined, 'false wins over the variables')
  t.match(settings({ clientId: 'c', clientSecret: 's' }), {
    endpoint: undefined, clientId: 'c', clientAuth: 'client_secret_basic', clientSecret: 's', privateKey: undefined, algorithm: undefined, tokens: 'opaque', cacheTtl: 30_000, cacheSize: 10_000
  })
  t.equal(settings({ clientId: 'c', clientSecret: 's' })?.issuer.id, 'https://issuer.example')
  t.ok(Object.isFrozen(settings({ clientId: 'c', clientSecret: 's' })))
})

t.test('the AXIOMS_INTROSPECTION_* variables', async t => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
  const s = settings(undefined, {
    AXIOMS_INTROSPECTION_URL: 'https://issuer.example/introspect',
    AXIOMS_INTROSPECTION_CLIENT_ID: 'api',
    AXIOMS_INTROSPECTION_PRIVATE_KEY: key,
    AXIOMS_INTROSPECTION_KEY_ID: 'k1',
    AXIOMS_INTROSPECTION_TOKENS: 'all',
    AXIOMS_INTROSPECTION_CACHE_TTL: '5m',
    AXIOMS_INTROSPECTION_CACHE_SIZE: '50'
  })
  t.match(s, { endpoint: 'https://issuer.example/introspect', clientId: 'api', clientAuth: 'private_key_jwt', algorithm: 'ES256', keyId: 'k1', tokens: 'all', cacheTtl: 300_000, cacheSize: 50 })
  t.equal(s?.privateKey?.type, 'private')
  t.match(settings(undefined, { AXIOMS_INTROSPECTION_CLIENT_ID: 'api', AXIOMS_INTROSPECTION_CLIENT_SECRET: 's', AXIOMS_INTROSPECTION_CLIENT_AUTH: 'client_secret_post' }), { clientAuth: 'client_secret_post', clientSecret: 's' })
})

t.test('startup errors', async t => {
  const rsa1024 = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const cases: Array<[unknown, RegExp, Record<string, string>?]> = [
    ['yes', /"introspection" must be an object/],
    [{ clientID: 'c' }, /"introspection\.clientID" is not an option of introspection/],
    [{}, /"introspection\.clientId" \(env AXIOMS_INTROSPECTION_CLIENT_ID\) is required/],
    [{ clientId: '' }, /"introspection\.clientId" must be a non-empty string/],
    [{ clientId: 'c' }, /"introspection\.clientSecret" is required for clientAuth client_secret_basic/],
    [{ clientId: 'c', clientAuth: 'private_key_jwt', clientSecret: 's' }, /"introspection\.privateKey" is required for clientAuth private_key_jwt/],
    [{ clientId: 'c', clientSecret: 's', clientAuth: 'tls_client_auth' }, /"introspection\.clientAuth" must be one of client_secret_basic, client_secret_post, private_key_jwt/],
    [{ clientId: 'c', privateKey: ec, clientSecret: 's' }, /"introspection\.clientSecret" is not used with clientAuth private_key_jwt: give clientSecret or privateKey, not both$/],
    [{ clientId: 'c', privateKey: ec, clientSecret: 's', clientAuth: 'client_secret_post' }, /"introspection\.privateKey" is not used with clientAuth client_secret_post: give clientSecret or privateKey, not both$/],
    [{ clientId: 'c', clientSecret: 's', keyId: 'k1' }, /"introspection\.keyId" is only used with clientAuth private_key_jwt$/],
    [{ privateKey: ec }, /"introspection\.clientSecret" \(env AXIOMS_INTROSPECTION_CLIENT_SECRET\) is not used with clientAuth private_key_jwt/, { AXIOMS_INTROSPECTION_CLIENT_ID: 'c', AXIOMS_INTROSPECTION_CLIENT_SECRET: 's' }],
    [{ clientId: 'c', privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey }, /"introspection\.privateKey" must be an RSA key of at least 2048 bits$/],
    [{ clientId: 'c', privateKey: 'not a key' }, /"introspection\.privateKey" must be a private key/],
    [{ clientId: 'c', privateKey: { kty: 'EC' } }, /"introspection\.privateKey" must be a private key/],
    [{ clientId: 'c', privateKey: 7 }, /"introspection\.privateKey" must be a private key/],
    [{ clientId: 'c', privateKey: rsa1024 }, /"introspection\.privateKey" must be an RSA, P-256\/P-384\/P-521 or Ed25519 key/],
    [{ clientId: 'c', clientSecret: 's', endpoint: 'ftp://x' }, /"introspection\.endpoint" must use http or https/],
    [{ clientId: 'c', clientSecret: 's', tokens: 'jwt' }, /"introspection\.tokens" must be "opaque" or "all"/],
    [{ clientId: 'c', clientSecret: 's', cacheTtl: 7200 }, /"introspection\.cacheTtl" must be between 0ms and 1h/],
    [{ clientId: 'c', clientSecret: 's', cacheSize: 0 }, /"introspection\.cacheSize" must be an integer >= 1/],
    [undefined, /"introspection\.tokens" \(env AXIOMS_INTROSPECTION_TOKENS\) must be "opaque" or "all"/, { AXIOMS_INTROSPECTION_CLIENT_ID: 'c', AXIOMS_INTROSPECTION_CLIENT_SECRET: 's', AXIOMS_INTROSPECTION_TOKENS: 'some' }]
  ]
  for (const [value, pattern, env] of cases) t.throws(() => settings(value, env), pattern, JSON.stringify(value) ?? 'env')
  t.throws(() => resolveSettings({ audience: 'a', env: {}, issuers: [{ issuer: 'https://a.example' }, { issuer: 'https://b.example' }], introspection: { clientId: 'c', clientSecret: 's' } }),
    /"introspection" speaks for one issuer/)
  t.throws(() => resolveSettings({ audience: 'a', env: {}, issuer: 'https://login.example/{tenant}/v2.0', tenants: ['t1'], jwksUri: 'https://login.example/keys', introspection: { clientId: 'c', clientSecret: 's' } }),
    /"introspection" speaks for one issuer/)
})
