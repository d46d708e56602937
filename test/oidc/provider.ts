// A real oidc-provider 9, in-process on 127.0.0.1, for the interoperability tests: one RS256
// signing key, client_credentials, resource indicators for the test API, dev interactions off.
// Each test file states its clients, scopes and the features it turns on.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import t from 'tap'

// oidc-provider ships no type declarations: describe the little used here.
interface OidcProvider { callback: () => (req: IncomingMessage, res: ServerResponse) => void }
const moduleName = 'oidc-provider'
const { default: Provider } = await import(moduleName) as { default: new (issuer: string, config: Record<string, unknown>) => OidcProvider }

export const API = 'https://api.example.test'

/** The client the tests get tokens for. */
export const SERVICE = { client_id: 'svc', client_secret: 'svc-secret-of-some-length' }

/** The service client's registration, allowed `scope`. */
export function serviceClient (scope: string): Record<string, unknown> {
  return { ...SERVICE, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope }
}

export interface ProviderConfig {
  clients: Array<Record<string, unknown>>
  scopes: string[]
  /** What the API's resource server info says (oidc-provider's getResourceServerInfo). */
  resource: Record<string, unknown>
  /** Features beyond client_credentials and resource indicators. */
  features?: Record<string, unknown>
  /** Anything else of oidc-provider's configuration (ttl, ...). */
  extra?: Record<string, unknown>
  /** Sees each request before the provider does. */
  onRequest?: (req: IncomingMessage) => void
}

export interface RunningProvider {
  issuer: string
  /** The provider's signing key (private JWK, kid op-rs256). */
  signingKey: JsonWebKey
}

/** Starts the provider for the rest of the test file (closed by the file's teardown). */
export async function startProvider (config: ProviderConfig): Promise<RunningProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.writeHead(503).end() }
  const server = createServer((req, res) => {
    config.onRequest?.(req)
    handler(req, res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  const signingKey = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'op-rs256', use: 'sig', alg: 'RS256' }
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    clients: config.clients,
    scopes: config.scopes,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      ...config.features,
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== API) throw new Error('unknown resource')
          return { audience: API, ...config.resource }
        }
      }
    },
    ...config.extra
  })
  handler = provider.callback()
  return { issuer, signingKey }
}

/** A client_credentials token request's body for the service client. */
export function tokenRequest (scope: string): URLSearchParams {
  return new URLSearchParams({ grant_type: 'client_credentials', ...SERVICE, resource: API, scope })
}
