// Builds dist/esm (ES modules) and dist/cjs (CommonJS) from the same sources with tsc, each with
// its .d.ts files and source maps (sources inlined). A package.json in each folder tells Node and
// TypeScript the format of its .js and .d.ts files, whatever the root package.json says.
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const builds = [
  { config: 'tsconfig.build.json', out: 'dist/esm', type: 'module' },
  { config: 'tsconfig.build.cjs.json', out: 'dist/cjs', type: 'commonjs' }
]

// Files of an earlier layout must not end up in the tarball (files: ["dist"]).
rmSync(join(root, 'dist'), { recursive: true, force: true })

const run = config => new Promise((resolve, reject) => {
  const child = spawn(process.execPath, [tsc, '-p', config], { cwd: root, stdio: 'inherit' })
  child.on('error', reject)
  child.on('exit', code => code === 0 ? resolve() : reject(new Error(`tsc -p ${config} exited with ${code}`)))
})

try {
  await Promise.all(builds.map(b => run(b.config)))
} catch (err) {
  console.error(err.message)
  process.exit(1)
}
for (const b of builds) {
  mkdirSync(join(root, b.out), { recursive: true })
  writeFileSync(join(root, b.out, 'package.json'), JSON.stringify({ type: b.type }) + '\n')
}
