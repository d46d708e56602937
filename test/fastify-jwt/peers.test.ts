// @fastify/jwt and get-jwks are optional peers: the plugin loads and verifies without them (a child
// process in which they cannot be resolved), and package.json declares them as optional.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'

t.test('without @fastify/jwt, fast-jwt and get-jwks the plugin loads and verifies; the mode says what is missing', async t => {
  const script = fileURLToPath(new URL('../fixtures/no-peers-app.ts', import.meta.url))
  const hook = fileURLToPath(new URL('../fixtures/no-peers.mjs', import.meta.url))
  // The same loaders as this test process (tap's TypeScript import), then the hook hiding the peers.
  const child = spawn(process.execPath, [...process.execArgv, '--import', hook, script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', d => { out += String(d) })
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise(resolve => child.on('exit', (c, sig) => resolve(sig ?? c)))
  clearTimeout(killer)
  t.equal(code, 0, 'exited cleanly')
  t.match(out, /^peer=ERR_MODULE_NOT_FOUND$/m, 'the peers really are out of reach')
  t.match(out, /^builtin=200$/m, 'the default engine needs none of them')
  t.match(out, /^mode=AXIOMS_INVALID_OPTION axioms-fastify: option "verifier" is "fastify-jwt", but request.jwtVerify of @fastify\/jwt is missing/m)
})

t.test('package.json: optional peers, kept as development dependencies', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown>>
  for (const name of ['@fastify/jwt', 'get-jwks']) {
    t.type(pkg.peerDependencies?.[name], 'string', `${name} is a peer`)
    t.same(pkg.peerDependenciesMeta?.[name], { optional: true }, `${name} is optional`)
    t.type(pkg.devDependencies?.[name], 'string', `${name} is a dev dependency`)
    t.equal(pkg.dependencies?.[name], undefined, `${name} is no runtime dependency`)
  }
  t.same(pkg.peerDependenciesMeta?.fastify, undefined, 'fastify stays a required peer')
})
