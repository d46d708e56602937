// Child processes pinned to one core with taskset (when available): servers, the crypto
// baseline and the memory check all run on the server core; the load generator stays here.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { BENCH_DIR, config } from './config.js'

export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0

export interface Child {
  proc: ChildProcess
  /** The first line the child printed that starts with `prefix`. */
  line: string
  stop: () => Promise<void>
}

/** Spawns `node --import tsx bench/<script> ...args` on the server core; resolves at the first line starting with prefix. */
export async function startChild (script: string, args: string[], prefix: string, nodeArgs: string[] = [], ipc = false, env: Record<string, string> = {}): Promise<Child> {
  const node = [...nodeArgs, '--import', 'tsx', join(BENCH_DIR, script), ...args]
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', config.serverCore, process.execPath, ...node]] : [process.execPath, node]
  const proc = spawn(cmd, argv as string[], {
    stdio: ipc ? ['ignore', 'pipe', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env, NODE_ENV: 'benchmark' }
  })
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} ${args.join(' ')}: no "${prefix}" within 60 s`)), 60_000)
    lines.on('line', l => {
      if (l.startsWith(prefix)) { clearTimeout(timer); resolve(l) } else process.stderr.write(`[${script}] ${l}\n`)
    })
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`${script} ${args.join(' ')} exited with ${String(code)} before "${prefix}"`)) })
  })
  return {
    proc,
    line,
    async stop () {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = once(proc, 'exit')
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
  }
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU seconds (user + system) a process has used so far, from /proc; null where there is no
 * /proc. Unlike requests per second, CPU time per request barely moves when other processes
 * compete for the core.
 */
export function cpuSeconds (pid: number | undefined): number | null {
  if (pid === undefined) return null
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return null
  }
}
