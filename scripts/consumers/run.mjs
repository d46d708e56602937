// Real consumers of the packed package. Builds, runs `npm pack`, then for each fixture (a folder
// here with a package.json) copies it to a temporary directory, installs the tarball and the
// fixture's dependencies with npm, runs the fixture's `npm test` and removes the directory.
//
//   node scripts/consumers/run.mjs [--no-build] [--keep] [--jobs N] [--tarball FILE] [fixture ...]
//
// --tarball runs the fixtures against a tarball packed elsewhere (an older version, say) instead
// of building and packing this checkout.
//
// A fixture's dependencies must be written exactly as the root package.json has them (devDependencies
// or dependencies); the copy installs the version the root lock file holds, so the npm cache that
// `npm ci` filled serves the tarballs. See README.md here.
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const args = process.argv.slice(2)
const flag = name => { const i = args.indexOf(name); if (i === -1) return false; args.splice(i, 1); return true }
const option = name => { const i = args.indexOf(name); if (i === -1) return undefined; return args.splice(i, 2)[1] }
const given = option('--tarball')
const build = !flag('--no-build') && given === undefined
const keep = flag('--keep')
const jobs = Number(option('--jobs') ?? process.env.CONSUMERS_JOBS ?? Math.min(2, availableParallelism()))
const only = args

// The parent npm (npm test) exports its settings and the project's paths as npm_* variables; a
// child npm must not take the root project for its prefix. Keep only where npm finds its cache,
// registry and certificates.
const KEEP_NPM_ENV = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_cafile', 'npm_config_userconfig',
  'npm_config_globalconfig', 'npm_config_strict_ssl', 'npm_config_proxy', 'npm_config_https_proxy', 'npm_config_noproxy'])
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || KEEP_NPM_ENV.has(k.toLowerCase())))

function run (cmd, argv, { cwd, env = baseEnv } = {}) {
  return new Promise(resolve => {
    const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('error', err => resolve({ code: -1, out: out + String(err) }))
    child.on('close', code => resolve({ code, out }))
  })
}

const seconds = since => ((Date.now() - since) / 1000).toFixed(1) + ' s'
const started = Date.now()

const fixtures = readdirSync(here)
  .filter(name => statSync(join(here, name)).isDirectory() && !name.startsWith('.') && !name.startsWith('_'))
  .filter(name => { try { return statSync(join(here, name, 'package.json')).isFile() } catch { return false } })
  .sort()
const unknown = only.filter(name => !fixtures.includes(name))
if (unknown.length > 0) {
  console.error(`consumers: no fixture named ${unknown.join(', ')} (there are: ${fixtures.join(', ')})`)
  process.exit(1)
}
const selected = only.length > 0 ? fixtures.filter(name => only.includes(name)) : fixtures
// Heavier fixtures (consumer.weight, default 1) start first, so the slowest does not start last.
const weight = name => JSON.parse(readFileSync(join(here, name, 'package.json'), 'utf8')).consumer?.weight ?? 1
selected.sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))

if (build) {
  const b = await run(npm, ['run', 'build'], { cwd: root })
  if (b.code !== 0) { console.error(b.out); console.error('consumers: build failed'); process.exit(1) }
}

const work = mkdtempSync(join(tmpdir(), 'axioms-consumers-'))
const cleanup = () => { if (!keep) rmSync(work, { recursive: true, force: true }) }
process.on('SIGINT', () => { cleanup(); process.exit(130) })

let tarball
if (given !== undefined) {
  tarball = join(work, basename(given))
  cpSync(given, tarball)
} else {
  const pack = await run(npm, ['pack', '--json', '--pack-destination', work], { cwd: root })
  if (pack.code !== 0) { console.error(pack.out); cleanup(); console.error('consumers: npm pack failed'); process.exit(1) }
  tarball = join(work, JSON.parse(pack.out.slice(pack.out.indexOf('[')))[0].filename)
}
console.log(`consumers: ${given === undefined ? 'packed' : 'given'} ${basename(tarball)} (${seconds(started)}); ${selected.length} fixtures, ${jobs} at a time`)

const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const rootSpecs = { ...rootPkg.dependencies, ...rootPkg.devDependencies }
const locked = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages

// The fixture's spec must be the root's; the copy gets the exact version the root lock holds. A
// package the root cannot have (a second TypeScript would take over its `tsc` bin) may be named
// with an exact version: npm fetches it once, then the cache serves it.
const EXACT = /^(npm:(@[^/@]+\/)?[^@]+@)?\d+\.\d+\.\d+(-[\w.]+)?$/
function pin (fixture, name, spec) {
  if (rootSpecs[name] === undefined && EXACT.test(spec)) return spec
  if (rootSpecs[name] !== spec) {
    throw new Error(`${fixture}: dependency ${name}@${spec} must be written as the root package.json has it` +
      (rootSpecs[name] === undefined ? ' (the root has no such dependency: add it to devDependencies, or give an exact version)' : ` (${rootSpecs[name]})`))
  }
  const entry = locked[`node_modules/${name}`]
  if (entry?.version === undefined) throw new Error(`${fixture}: ${name} is not in the root package-lock.json: run npm install`)
  return entry.name !== undefined && entry.name !== name ? `npm:${entry.name}@${entry.version}` : entry.version
}

async function runFixture (name) {
  const t0 = Date.now()
  const dir = join(work, name)
  cpSync(join(here, name), dir, { recursive: true, filter: src => !/[\\/](node_modules|out)$/.test(src) })
  const pkgPath = join(dir, 'package.json')
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'))
  for (const field of ['dependencies', 'devDependencies']) {
    for (const [dep, spec] of Object.entries(pkg[field] ?? {})) pkg[field][dep] = pin(name, dep, spec)
  }
  pkg.dependencies = { ...pkg.dependencies, 'axioms-fastify': `file:${tarball}` }
  writeFileSync(pkgPath, JSON.stringify(pkg, null, 2) + '\n')
  const env = { ...baseEnv, AXIOMS_TARBALL: tarball }
  const install = await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, env })
  if (install.code !== 0) return { name, ok: false, why: 'npm install failed', out: install.out }
  const t1 = Date.now()
  // The fixtures' issuers are on 127.0.0.1 and some register without `env: {}`: a proxy of the
  // shell (HTTP_PROXY, which the plugin honours) must not take their requests.
  const noProxy = ['127.0.0.1', 'localhost', env.no_proxy ?? env.NO_PROXY].filter(Boolean).join(',')
  const test = await run(npm, ['test'], { cwd: dir, env: { ...env, no_proxy: noProxy, NO_PROXY: noProxy } })
  // A fixture lists the lines its run must print, so a run that checked nothing cannot pass.
  const missing = (pkg.consumer?.expect ?? []).filter(line => !test.out.includes(line))
  const ok = test.code === 0 && missing.length === 0
  const why = test.code !== 0 ? `npm test exited with ${test.code}` : missing.length > 0 ? `output lacks ${missing.map(l => JSON.stringify(l)).join(', ')}` : ''
  if (!keep) rmSync(dir, { recursive: true, force: true })
  return { name, ok, why, out: test.out, install: ((t1 - t0) / 1000).toFixed(1) + ' s', test: seconds(t1) }
}

const queue = [...selected]
const results = []
await Promise.all(Array.from({ length: Math.max(1, jobs) }, async () => {
  while (queue.length > 0) {
    const name = queue.shift()
    let r
    try { r = await runFixture(name) } catch (err) { r = { name, ok: false, why: err.message, out: '' } }
    results.push(r)
    if (r.ok) console.log(`ok ${r.name} (install ${r.install}, run ${r.test})`)
    else console.log(`not ok ${r.name}: ${r.why}\n${r.out.trim().split('\n').map(l => '    ' + l).join('\n')}`)
  }
}))

cleanup()
const failed = results.filter(r => !r.ok).length
if (keep) console.log(`consumers: kept ${work}`)
console.log(`consumers (${seconds(started)}): ${results.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
