// One benchmark server per child process: `node --import tsx bench/servers.ts <kind> <alg>`.
// Every server answers GET /private with the same small JSON body; only authentication differs.
// Prints `READY <port>` once listening on 127.0.0.1 and closes cleanly on SIGTERM (so that
// --cpu-prof can write its profile).
import { verify as cryptoVerify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyPluginCallback, type FastifyRequest } from 'fastify'
import axioms from '../index.js'
import { TurnBatch } from '../lib/batch.js'
import { DEFAULT_VERIFY_BATCH } from '../lib/options/index.js'
import { type BenchAlg, FIXTURE, type Fixture, ROUTE, splitSigned, verifyKey } from './config.js'

export const SERVER_KINDS = [
  'fastify-bare',
  'fastify-crypto-only',
  'fastify-crypto-batch',
  'axioms',
  'axioms-inline',
  'axioms-cached',
  'axioms-cold',
  'axioms-dpop',
  'fastify-jwt-jwks',
  'fastify-jwt+get-jwks',
  'express-bare',
  'express-oauth2-jwt-bearer'
] as const
export type ServerKind = typeof SERVER_KINDS[number]

const BODY = { ok: true }

// Peers are loaded through a computed specifier so that their global Fastify type augmentations
// (request.user, fastify.authenticate, ...) never leak into the project's type check.
async function load<T> (name: string): Promise<T> {
  const mod = await import(name) as { default?: unknown }
  return (mod.default ?? mod) as T
}

/** Splits a token and checks its signature with a key imported once: nothing else. */
function signatureCheck (alg: BenchAlg, fx: Fixture): (token: string) => boolean {
  const { key, hash } = verifyKey(alg, fx.jwks[alg])
  return token => {
    const { data, sig } = splitSigned(token)
    return cryptoVerify(hash, data, key, sig)
  }
}

async function fastifyServer (kind: ServerKind, alg: BenchAlg, fx: Fixture): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  if (kind === 'fastify-bare') {
    app.get(ROUTE, async () => BODY)
  } else if (kind === 'fastify-crypto-batch') {
    // The floor with the plugin's batching (lib/batch.ts): signatures checked per event-loop
    // turn, then the requests go on together.
    const check = signatureCheck(alg, fx)
    const batch = new TurnBatch<string, boolean>(DEFAULT_VERIFY_BATCH, check)
    app.addHook('onRequest', (request, reply, done) => {
      batch.push((request.headers.authorization ?? '').slice(7)).then(ok => { if (ok) done(); else reply.code(401).send() }, done)
    })
    app.get(ROUTE, async () => BODY)
  } else if (kind === 'fastify-crypto-only') {
    // Diagnostic floor: an onRequest hook that only splits the token and runs crypto.verify with
    // a key imported at startup; no JSON, no claim checks, no error handling worth the name.
    const { key, hash } = verifyKey(alg, fx.jwks[alg])
    const spinUs = Number(process.env.BENCH_FLOOR_SPIN_US ?? 0)
    app.addHook('onRequest', async (request, reply) => {
      const { data, sig } = splitSigned((request.headers.authorization ?? '').slice(7))
      // BENCH_FLOOR_NO_VERIFY=1 (diagnostic): everything but the signature check.
      if (process.env.BENCH_FLOOR_NO_VERIFY === '1') return
      // BENCH_FLOOR_SPIN_US=n (diagnostic): burn n µs of plain JS instead of the signature check.
      if (spinUs > 0) {
        const end = performance.now() + spinUs / 1000
        while (performance.now() < end);
        return
      }
      if (!cryptoVerify(hash, data, key, sig)) return reply.code(401).send()
    })
    app.get(ROUTE, async () => BODY)
  } else if (kind === 'axioms' || kind === 'axioms-inline' || kind === 'axioms-cached' || kind === 'axioms-cold' || kind === 'axioms-dpop') {
    // axioms-dpop is the axioms row's server as it is (dpop.mode 'allowed' is the default, with the
    // in-memory replay store): only the requests differ, DPoP-bound tokens with a proof each.
    await app.register(axioms, {
      issuer: fx.issuer,
      audience: fx.audience,
      algorithms: [alg],
      tokenCache: kind === 'axioms-cached' ? 1000 : 0,
      // axioms-inline: the plugin without batching, to show what batching buys in the same run.
      ...(kind === 'axioms-inline' ? { verifyBatch: 0 } : {}),
      jwksPrefetch: kind !== 'axioms-cold',
      // The cold burst points the plugin at a deliberately slow JWKS endpoint (checks.ts).
      ...(kind === 'axioms-cold' && process.env.BENCH_JWKS_URI !== undefined ? { jwksUri: process.env.BENCH_JWKS_URI } : {}),
      env: {}
    })
    app.get(ROUTE, { config: { axioms: {} } }, async () => BODY)
  } else if (kind === 'fastify-jwt-jwks') {
    // Its README: register with jwksUrl + audience (+ issuer, whose default is wrong for paths),
    // then `onRequest: fastify.authenticate`. It refuses an `algorithms` option (RS256/EdDSA only).
    const plugin = await load<FastifyPluginCallback<Record<string, unknown>>>('fastify-jwt-jwks')
    await app.register(plugin, { jwksUrl: fx.jwksUri, audience: fx.audience, issuer: fx.issuer })
    const authenticate = (app as unknown as { authenticate: (r: FastifyRequest) => Promise<void> }).authenticate
    app.get(ROUTE, { onRequest: authenticate }, async () => BODY)
  } else if (kind === 'fastify-jwt+get-jwks') {
    // get-jwks' README example, with two fixes PEERS.md asks for: the issuer allow-list goes to
    // get-jwks (the README passes it to @fastify/jwt, which ignores it) and @fastify/jwt gets an
    // explicit algorithm list plus iss/aud checks.
    const fjwt = await load<FastifyPluginCallback<Record<string, unknown>>>('@fastify/jwt')
    const buildGetJwks = await load<(o: Record<string, unknown>) => {
      getPublicKey: (o: { kid: unknown, domain: unknown, alg: unknown }) => Promise<string>
    }>('get-jwks')
    const getJwks = buildGetJwks({ issuersWhitelist: [fx.issuer] })
    type Decoded = { header: { kid: unknown, alg: unknown }, payload: { iss: unknown } }
    await app.register(fjwt, {
      decode: { complete: true },
      verify: { algorithms: [alg], allowedIss: fx.issuer, allowedAud: fx.audience },
      secret: (_request: unknown, token: Decoded, callback: (err: Error | null, key?: string) => void) => {
        const { header: { kid, alg }, payload: { iss } } = token
        getJwks.getPublicKey({ kid, domain: iss, alg }).then(key => callback(null, key), callback)
      }
    })
    app.addHook('onRequest', async request => {
      await (request as unknown as { jwtVerify: () => Promise<unknown> }).jwtVerify()
    })
    app.get(ROUTE, async () => BODY)
  } else {
    throw new Error(`not a Fastify kind: ${kind}`)
  }
  // A deep backlog: the cold burst opens 1,000 connections at once.
  await app.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
  return app
}

async function expressServer (kind: ServerKind, fx: Fixture): Promise<Server> {
  const express = await load<typeof import('express')>('express')
  const app = express()
  app.disable('x-powered-by')
  if (kind === 'express-oauth2-jwt-bearer') {
    // Its README: app.use(auth({ issuerBaseURL, audience })). Plain http is allowed outside
    // NODE_ENV=production, which the bench does not set.
    const { auth } = await load<{ auth: (o: Record<string, unknown>) => import('express').RequestHandler }>('express-oauth2-jwt-bearer')
    app.use(auth({ issuerBaseURL: fx.issuer, audience: fx.audience }))
  }
  app.get(ROUTE, (_req, res) => { res.json(BODY) })
  return await new Promise<Server>((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', 4096, err => { if (err === undefined) resolve(server); else reject(err) })
  })
}

async function main (): Promise<void> {
  const kind = process.argv[2] as ServerKind
  const alg = (process.argv[3] ?? 'RS256') as BenchAlg
  if (!SERVER_KINDS.includes(kind)) throw new Error(`unknown server kind "${kind}"`)
  if (process.env.NODE_ENV === 'production') throw new Error('run the bench without NODE_ENV=production (peers refuse http issuers)')
  const fx = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture
  let port: number
  let close: () => Promise<void>
  if (kind.startsWith('express')) {
    const server = await expressServer(kind, fx)
    port = (server.address() as AddressInfo).port
    close = async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  } else {
    const app = await fastifyServer(kind, alg, fx)
    port = (app.server.address() as AddressInfo).port
    close = async () => { await app.close() }
  }
  process.on('SIGTERM', () => { close().finally(() => process.exit(0)) })
  process.stdout.write(`READY ${port}\n`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch(err => {
    process.stderr.write(`server failed: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  })
}
