// A real forward proxy on 127.0.0.1 for the proxy suites: absolute-form requests are forwarded
// with node:http, CONNECT opens a TCP tunnel. It counts what passes through and can hang, answer a
// fixed status or ask for credentials (407). Optionally TLS to the proxy itself (an https proxy).
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { AddressInfo } from 'node:net'

export type ProxyMode = 'ok' | 'hang' | 'status'

export interface Passed {
  /** `CONNECT` or the method of an absolute-form request. */
  method: string
  /** `host:port` for CONNECT, the absolute URL otherwise. */
  target: string
  /** The Proxy-Authorization header received, if any. */
  auth: string | undefined
}

export interface TestProxy {
  /** `http://127.0.0.1:PORT` (`https://` with tls), without credentials. */
  readonly url: string
  /** The same URL with `user:password@` when the proxy asks for credentials. */
  readonly authUrl: string
  readonly port: number
  /** Every request that reached the proxy, in order (refused ones too). */
  readonly passed: Passed[]
  /** Client connections open right now. */
  open: () => number
  /** Client connections accepted so far. */
  connections: () => number
  /** `status`: answer this status to every request (default 502). */
  setMode: (mode: ProxyMode, status?: number) => void
  close: () => Promise<void>
}

export interface TestProxyOptions {
  /** Ask for these credentials (Basic): 407 without them. */
  auth?: { user: string, password: string }
  /** Serve the proxy itself over TLS. */
  tls?: { cert: string, key: string }
}

export interface Teardown { teardown: (fn: () => unknown) => void }

export async function startProxy (t: Teardown, options: TestProxyOptions = {}): Promise<TestProxy> {
  let mode: ProxyMode = 'ok'
  let status = 502
  const passed: Passed[] = []
  const sockets = new Set<Duplex>()
  let accepted = 0
  const expected = options.auth === undefined ? undefined : `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}`

  // What the proxy says itself (407, the fixed status) instead of forwarding; undefined: go on.
  const refusal = (req: IncomingMessage): number | undefined => {
    const auth = req.headers['proxy-authorization']
    passed.push({ method: req.method as string, target: req.url as string, auth })
    if (mode === 'status') return status
    if (expected !== undefined && auth !== expected) return 407
    return undefined
  }

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const refused = refusal(req)
    if (mode === 'hang') return
    if (refused !== undefined) {
      res.writeHead(refused, refused === 407 ? { 'proxy-authenticate': 'Basic realm="test"' } : {}).end('<html>proxy says no</html>')
      return
    }
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const up = request(req.url as string, { method: req.method, headers }, upstream => {
      res.writeHead(upstream.statusCode as number, upstream.headers)
      upstream.pipe(res)
      // A body cut off upstream is cut off here too, not ended as if complete.
      upstream.on('aborted', () => res.destroy())
      upstream.on('error', () => res.destroy())
    })
    up.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy() })
    res.on('close', () => up.destroy())
    req.pipe(up)
  }

  const tunnel = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const refused = refusal(req)
    // Read (and drop) what comes, so that the client's close is seen (the socket is half-open).
    if (mode === 'hang') {
      client.resume()
      client.on('end', () => client.destroy())
      return
    }
    if (refused !== undefined) {
      client.end(`HTTP/1.1 ${refused} No\r\n${refused === 407 ? 'Proxy-Authenticate: Basic realm="test"\r\n' : ''}Content-Length: 0\r\n\r\n`)
      return
    }
    const [host, port] = (req.url as string).split(':')
    const upstream: Socket = connect(Number(port), host as string, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  }

  const server: Server = options.tls === undefined ? createServer(forward) : createTlsServer(options.tls, forward)
  server.on('connect', tunnel)
  const track = (socket: Duplex): void => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', track)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const scheme = options.tls === undefined ? 'http' : 'https'
  const url = `${scheme}://127.0.0.1:${port}`
  const credentials = options.auth === undefined ? '' : `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.password)}@`
  const proxy: TestProxy = {
    url,
    authUrl: `${scheme}://${credentials}127.0.0.1:${port}`,
    port,
    passed,
    open: () => sockets.size,
    connections: () => accepted,
    setMode (next, code = 502) {
      mode = next
      status = code
    },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
  t.teardown(() => proxy.close())
  return proxy
}

/** A port on 127.0.0.1 that refuses connections (it was open a moment ago, now closed). */
export async function closedPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise(resolve => s.close(resolve))
  return port
}
