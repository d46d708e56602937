// Type-checks src/ under each tsconfig.<setting>.json with every TypeScript in node_modules whose
// package name starts with "typescript" (the project's, and the oldest supported one, installed
// under an npm alias), checking which of the package's type entry points the program used. With
// the project's TypeScript it also compiles each setting and runs the output.
import { spawn } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'

const SETTINGS = [
  // name, the format the source is compiled as, the build its types must come from
  { name: 'node16-esm', format: 'module', build: 'esm' },
  { name: 'node16-cjs', format: 'commonjs', build: 'cjs' },
  // Before TypeScript 5.8, nodenext resolves as node16 does (only its default target differs):
  // checked with the project's TypeScript only.
  { name: 'nodenext-esm', format: 'module', build: 'esm', mainOnly: true },
  { name: 'nodenext-cjs', format: 'commonjs', build: 'cjs', mainOnly: true },
  { name: 'bundler', format: 'module', build: 'esm' },
  { name: 'commonjs-node10', format: 'commonjs', build: 'cjs', node10: true },
  // ESM and CommonJS files in one program: both builds' declarations (and their
  // `declare module 'fastify'`) are loaded together. The only setting with skipLibCheck off, so
  // the package's .d.ts files (and Fastify's) are checked by each TypeScript too.
  { name: 'node16-mixed', build: 'both', emit: false }
]

// The same sources, compiled as CommonJS: a folder whose package.json says so.
rmSync('src-cjs', { recursive: true, force: true })
cpSync('src', 'src-cjs', { recursive: true })
writeFileSync('src-cjs/package.json', '{ "type": "commonjs" }\n')
rmSync('out', { recursive: true, force: true })

const compilers = readdirSync('node_modules')
  .filter(name => /^typescript(-|$)/.test(name))
  .map(name => {
    const { version } = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'))
    return { name, version, major: Number(version.split('.')[0]), main: name === 'typescript' }
  })
if (!compilers.some(c => c.main) || compilers.length < 2) {
  console.error(`expected the project's typescript and an older one, found: ${compilers.map(c => c.name).join(', ')}`)
  process.exit(1)
}

const run = (argv) => new Promise(resolve => {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  child.on('close', status => resolve({ status, stdout, stderr }))
})

let failures = 0
const fail = (what, detail) => { failures++; console.log(`not ok ${what}\n${detail.trim().split('\n').map(l => '    ' + l).join('\n')}`) }

async function check (ts, s) {
  const what = `tsc ${ts.version} ${s.name}`
  const t0 = Date.now()
  const emit = ts.main && s.emit !== false
  const argv = [`node_modules/${ts.name}/bin/tsc`, '-p', `tsconfig.${s.name}.json`, '--listFiles']
  if (!emit) argv.push('--noEmit')
  // TypeScript 6 deprecates moduleResolution node10; such a project opts in to keep using it.
  if (s.node10 && ts.major >= 6) argv.push('--ignoreDeprecations', '6.0')
  const r = await run(argv)
  if (r.status !== 0) return fail(what, r.stdout + r.stderr)
  const files = r.stdout.split('\n').map(f => f.replace(/\\/g, '/'))
  const used = ['esm', 'cjs'].filter(b => files.some(f => f.endsWith(`/node_modules/axioms-fastify/dist/${b}/index.d.ts`)))
  const expected = s.build === 'both' ? ['esm', 'cjs'] : [s.build]
  if (used.join() !== expected.join()) return fail(what, `types came from dist/${used.join(' and dist/') || '(none)'}, expected dist/${expected.join(' and dist/')}`)
  if (emit) {
    writeFileSync(`out/${s.name}/package.json`, JSON.stringify({ type: s.format }) + '\n')
    const js = readFileSync(`out/${s.name}/app.js`, 'utf8')
    const looksCjs = /require\("axioms-fastify"\)/.test(js)
    if (looksCjs !== (s.format === 'commonjs')) return fail(what, `emitted ${looksCjs ? 'CommonJS' : 'ESM'}, expected ${s.format}`)
    const ran = await run([`out/${s.name}/main.js`, s.name])
    if (ran.status !== 0 || !ran.stdout.includes(`ran ${s.name}: ok`)) return fail(`${what} (run)`, ran.stdout + ran.stderr)
  }
  console.log(`ok ${what} (types from dist/${used.join(' + dist/')}${emit ? ', compiled and run' : ''}; ${((Date.now() - t0) / 1000).toFixed(1)} s)`)
}

// Two at a time (the machines have two cores).
const queue = compilers.flatMap(ts => SETTINGS.filter(s => ts.main || !s.mainOnly).map(s => [ts, s]))
await Promise.all([0, 1].map(async () => { while (queue.length > 0) await check(...queue.shift()) }))

if (failures > 0) {
  console.log(`typescript consumer: ${failures} failed`)
  process.exit(1)
}
console.log(`typescript consumer: ok (${compilers.map(c => c.version).join(', ')})`)
