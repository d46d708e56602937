// A real redis-server for the tests, started on 127.0.0.1 at a free port and stopped by the test
// itself (Debian's redis-server package; .ci/run installs it when it is missing).
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisServer {
  port: number
  /** Stops the server (SIGKILL: as abrupt as a crash) and waits for it to exit. */
  stop: () => Promise<void>
}

async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}

function ping (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('data', chunk => { data += chunk.toString(); if (data.includes('\r\n')) done(data.startsWith('+PONG')) })
    socket.write('PING\r\n')
  })
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => child.once('exit', () => resolve()))
}

/** Starts redis-server with no persistence; rejects within 10 s if it does not answer PING. */
export async function startRedis (): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'axioms-redis-'))
  const port = await freePort()
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'
  ], { stdio: 'ignore' })
  const failed = new Promise<never>((_resolve, reject) => {
    child.once('error', err => reject(new Error(`redis-server could not start (${(err as NodeJS.ErrnoException).code ?? 'error'}): install Debian's redis-server package (.ci/run does)`)))
    child.once('exit', code => reject(new Error(`redis-server exited with code ${String(code)}`)))
  })
  failed.catch(() => {})
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL')
    await exited(child)
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  try {
    while (!(await Promise.race([ping(port), failed]))) {
      if (Date.now() > deadline) throw new Error('redis-server did not answer PING within 10 s')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { port, stop }
}

/** A TCP server on 127.0.0.1 that accepts connections and never answers: a hung Redis. */
export async function startSilentServer (): Promise<{ port: number, stop: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
