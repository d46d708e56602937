// The installed package is the tarball's content: check what it holds, that both builds are
// complete and marked with their format, and that the source maps resolve to the TypeScript
// sources they carry (inlined: the .ts files are not shipped).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'

const root = resolve('node_modules/axioms-fastify')
const files = readdirSync(root, { recursive: true, withFileTypes: true })
  .filter(d => d.isFile())
  .map(d => relative(root, join(d.parentPath ?? d.path, d.name)).split(sep).join('/'))
  .sort()

// Only the package files and the two builds (files: ["dist"]).
const stray = files.filter(f => !/^(package\.json|README\.md|LICENSE)$/.test(f) && !/^dist\/(esm|cjs)\//.test(f))
assert.deepEqual(stray, [], 'files outside dist/esm and dist/cjs')
assert.deepEqual(files.filter(f => /\.ts$/.test(f) && !/\.d\.ts$/.test(f)), [], 'no TypeScript sources')
assert.deepEqual(files.filter(f => /(^|\/)(test|bench|example|types)\//.test(f) || /tsbuildinfo$/.test(f)), [])
assert.equal(JSON.parse(readFileSync(join(root, 'dist/esm/package.json'), 'utf8')).type, 'module')
assert.equal(JSON.parse(readFileSync(join(root, 'dist/cjs/package.json'), 'utf8')).type, 'commonjs')

// The builds hold the same modules, each with its declarations and map.
const modules = build => files.filter(f => f.startsWith(`dist/${build}/`) && f.endsWith('.js')).map(f => f.slice(`dist/${build}/`.length))
assert.deepEqual(modules('esm'), modules('cjs'))
assert.ok(modules('esm').length > 2)

// Every path package.json points at exists.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const leaves = v => typeof v === 'string' ? [v] : Object.values(v).flatMap(leaves)
const targets = [pkg.main, pkg.types, ...leaves(pkg.exports), ...leaves(pkg.typesVersions)]
assert.ok(targets.length >= 11)
for (const t of targets) assert.ok(existsSync(join(root, t)), `${t} exists`)
assert.equal(pkg.sideEffects, false)
for (const field of ['repository', 'homepage', 'bugs']) assert.ok(pkg[field], field)

let maps = 0
for (const f of files.filter(f => f.endsWith('.js'))) {
  assert.ok(files.includes(f.replace(/\.js$/, '.d.ts')), `${f} has declarations`)
  const js = readFileSync(join(root, f), 'utf8')
  const url = /\n\/\/# sourceMappingURL=(\S+)\s*$/.exec(js)?.[1]
  assert.ok(url, `${f} names its map`)
  const mapFile = join(dirname(join(root, f)), url)
  assert.ok(existsSync(mapFile), `${f}: ${url} is in the package`)
  const map = JSON.parse(readFileSync(mapFile, 'utf8'))
  assert.equal(map.sources.length, 1)
  assert.equal(map.sourcesContent?.length, map.sources.length, `${f}: sources are inlined`)
  assert.ok(map.sourcesContent.every(c => typeof c === 'string' && c.length > 0), `${f}: sources are inlined`)
  // The source's path, resolved against the map, is the module's place in the package's tree.
  const source = resolve(dirname(mapFile), map.sourceRoot ?? '', map.sources[0])
  assert.equal(relative(root, source).split(sep).join('/'), f.replace(/^dist\/(esm|cjs)\//, '').replace(/\.js$/, '.ts'))
  maps++
}

// A position in each build's index.js maps back to the line of index.ts that produced it.
for (const build of ['esm', 'cjs']) {
  const js = readFileSync(join(root, `dist/${build}/index.js`), 'utf8').split('\n')
  const line = js.findIndex(l => l.includes('(axiomsPlugin, { name:'))
  assert.ok(line >= 0)
  const map = JSON.parse(readFileSync(join(root, `dist/${build}/index.js.map`), 'utf8'))
  const entry = new SourceMap(map).findEntry(line, js[line].indexOf('axiomsPlugin, { name:'))
  const original = map.sourcesContent[0].split('\n')[entry.originalLine]
  assert.match(original, /export const axioms = fp\(axiomsPlugin, \{ name: 'axioms-fastify'/, `${build}: mapped to ${original}`)
}

// Node's own source-map support rewrites a stack from either build into .ts positions.
for (const probe of ['probe.mjs', 'probe.cjs']) {
  const r = spawnSync(process.execPath, ['--enable-source-maps', probe], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  // The plugin function's frame, and the option checks' frames under lib/, point at .ts files.
  assert.match(r.stdout, /at axiomsPlugin \(.*node_modules[\\/]axioms-fastify[\\/]index\.ts:\d+:\d+\)/, `${probe}: ${r.stdout}`)
  assert.match(r.stdout, /node_modules[\\/]axioms-fastify[\\/]lib[\\/].+\.ts:\d+:\d+/, `${probe}: ${r.stdout}`)
  assert.doesNotMatch(r.stdout, /node_modules[\\/]axioms-fastify[\\/]dist[\\/]/, `${probe}: ${r.stdout}`)
}

console.log(`tarball consumer: ok (${files.length} files, ${maps} source maps)`)
