// Runs attw on the very tarball the other fixtures install (AXIOMS_TARBALL), then checks its
// JSON: no problem, and every subpath of `exports` resolved, in each resolution mode, to the
// build of the right format.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

const tarball = process.env.AXIOMS_TARBALL
assert.ok(tarball, 'AXIOMS_TARBALL is set by scripts/consumers/run.mjs')

const cli = JSON.parse(readFileSync('node_modules/@arethetypeswrong/cli/package.json', 'utf8'))
const attw = `node_modules/@arethetypeswrong/cli/${cli.bin.attw}`
const json = spawnSync(process.execPath, [attw, tarball, '--format', 'json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
const { analysis } = JSON.parse(json.stdout)
// attw exits non-zero on any problem (its default profile checks node10, node16 and bundler).
assert.deepEqual(analysis.problems, [], 'attw problems')
assert.equal(json.status, 0, json.stderr)

const pkg = JSON.parse(readFileSync('node_modules/axioms-fastify/package.json', 'utf8'))
const EXPECTED = { node10: 'cjs', 'node16-cjs': 'cjs', 'node16-esm': 'esm', bundler: 'esm' }
for (const subpath of Object.keys(pkg.exports)) {
  const entry = analysis.entrypoints[subpath]
  assert.ok(entry, `attw checked ${subpath}`)
  for (const [kind, build] of Object.entries(EXPECTED)) {
    const res = entry.resolutions[kind]
    assert.ok(res?.resolution?.fileName, `${subpath} resolves under ${kind}`)
    if (subpath.endsWith('.json')) continue
    assert.match(res.resolution.fileName, new RegExp(`/node_modules/axioms-fastify/dist/${build}/.+\\.d\\.ts$`), `${subpath} under ${kind}`)
    // node10 runtimes predate exports (and engines.node): only its types matter.
    if (kind === 'node10') continue
    assert.match(res.implementationResolution.fileName, new RegExp(`/dist/${build}/.+\\.js$`), `${subpath} under ${kind} (implementation)`)
  }
  console.log(`${subpath}: ${Object.keys(EXPECTED).map(k => `${k} -> dist/${EXPECTED[k]}`).join(', ')}`)
}
console.log('attw consumer: ok')
