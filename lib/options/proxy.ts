// The egress proxy of every outbound request (discovery, JWKS, introspection). By default the
// standard variables are honoured as curl and undici read them (HTTPS_PROXY, HTTP_PROXY, NO_PROXY,
// lower case first), from the same environment as the AXIOMS_* variables: `env: {}` reads none.
// Proxy URLs may carry credentials: no message built here or later ever shows them.
import { BlockList, isIP } from 'node:net'
import { ConfigError, type Env, parseBoolean, parseString, pick } from './read.js'

export interface ProxyOptions {
  /**
   * The proxy of every http and https request, `http://[user:password@]host:port` (or `https://`).
   * Default: HTTPS_PROXY for https URLs, HTTP_PROXY for http URLs (and for https ones when
   * HTTPS_PROXY is not set).
   */
  url?: string
  /**
   * Hosts reached without the proxy: a comma-separated string or a list of `host` (its subdomains
   * too; `.host` and `*.host` mean the same), `host:port`, an IP address (`[::1]` for IPv6), a CIDR
   * range (`10.0.0.0/8`) or `*` (every host). Default AXIOMS_NO_PROXY, else NO_PROXY.
   */
  noProxy?: string | string[]
}

export interface ProxyInput {
  /**
   * `true` (default): HTTPS_PROXY / HTTP_PROXY / NO_PROXY. `false`: never a proxy. A URL: that
   * proxy, NO_PROXY still excluding its hosts. `{ url?, noProxy? }`: either one explicit.
   */
  proxy?: boolean | string | ProxyOptions
}

/** A proxy's URL for the connection (`href`, credentials included) and for messages (`shown`). */
export interface ProxyUrl {
  readonly href: string
  /** Scheme, host and port; `***@` when credentials are set. Safe to log. */
  readonly shown: string
}

export interface NoProxyHost {
  /** Lower case, without brackets, leading `*.`/`.` or trailing dot. */
  readonly host: string
  /** 0: any port. */
  readonly port: number
}

export interface ProxySettings {
  /** The proxy of http: URLs, if any. */
  readonly http: ProxyUrl | undefined
  /** The proxy of https: URLs, if any. */
  readonly https: ProxyUrl | undefined
  /** `*`: every host is reached directly (then http and https are never used). */
  readonly noProxyAll: boolean
  readonly noProxyHosts: readonly NoProxyHost[]
  /** CIDR entries, matched against hosts written as IP addresses (names are not resolved). */
  readonly noProxyNets: BlockList | undefined
}

const KEYS: ReadonlySet<string> = new Set(['url', 'noProxy'])

// AXIOMS_PROXY: true/false (and the other boolean spellings), else a proxy URL.
function parseProxyVariable (raw: string): boolean | string {
  try {
    return parseBoolean(raw)
  } catch {
    return raw
  }
}

/** The first of the lower- and upper-case spellings that is set and not blank. */
function variable (env: Env, name: string): { value: string, env: string } | undefined {
  for (const n of [name.toLowerCase(), name]) {
    const v = env[n]
    if (v !== undefined && v.trim() !== '') return { value: v.trim(), env: n }
  }
  return undefined
}

/** Scheme, host and port of a parsed proxy URL, `***@` standing for any credentials. */
function shownOf (url: URL): string {
  return `${url.protocol}//${url.username !== '' || url.password !== '' ? '***@' : ''}${url.host}`
}

function proxyUrl (value: string, env: string | undefined): ProxyUrl {
  // curl's rule: a proxy written without a scheme (`proxy.corp:3128`) is an HTTP proxy.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // The value is not echoed: it may hold a password.
    throw new ConfigError('proxy', env, 'must be a proxy URL such as http://proxy.example.com:3128 (the value given is not a URL)')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('proxy', env, `must be an http:// or https:// proxy URL, got a ${url.protocol} one (${shownOf(url)}); set proxy: false to reach the identity provider directly`)
  }
  // The connection needs the proxy's origin and credentials; a path means nothing to a proxy.
  url.pathname = ''
  url.search = ''
  url.hash = ''
  return Object.freeze({ href: url.href, shown: shownOf(url) })
}

interface NoProxyRule {
  all: boolean
  hosts: NoProxyHost[]
  nets: BlockList | undefined
}

function noProxyOf (value: unknown, name: string, env: string | undefined): NoProxyRule {
  const list = typeof value === 'string' ? value.split(/[,\s]+/) : value
  if (!Array.isArray(list) || list.some(e => typeof e !== 'string')) {
    throw new ConfigError(name, env, 'must be a comma-separated string or a list of hosts, such as ".corp.example, localhost, 10.0.0.0/8"')
  }
  const rule: NoProxyRule = { all: false, hosts: [], nets: undefined }
  for (const raw of list as string[]) {
    const entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry === '*') {
      rule.all = true
      continue
    }
    const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry)
    if (cidr !== null) {
      const family = isIP(cidr[1] as string)
      const bits = Number(cidr[2])
      if (family === 0 || bits > (family === 4 ? 32 : 128)) throw new ConfigError(name, env, `has "${entry}", which is not a CIDR range such as 10.0.0.0/8 or fd00::/8`)
      rule.nets ??= new BlockList()
      rule.nets.addSubnet(cidr[1] as string, bits, family === 4 ? 'ipv4' : 'ipv6')
      continue
    }
    let host = entry
    let port = 0
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
    const withPort = /^(.+):(\d+)$/.exec(entry)
    if (bracketed !== null) {
      host = bracketed[1] as string
      port = Number(bracketed[2] ?? 0)
    } else if (isIP(entry) !== 6 && withPort !== null) {
      host = withPort[1] as string
      port = Number(withPort[2])
    }
    host = host.replace(/^\*?\./, '').replace(/\.$/, '')
    if (host !== '') rule.hosts.push(Object.freeze({ host, port }))
  }
  return rule
}

/** The proxy settings, or undefined when no request can go through a proxy. */
export function resolveProxy (input: ProxyInput, env: Env): ProxySettings | undefined {
  const src = pick(input, 'proxy', env, 'AXIOMS_PROXY', parseProxyVariable)
  const v = src.value === undefined ? true : src.value
  if (v === false) return undefined
  let url: string | undefined
  let noProxy: unknown
  if (typeof v === 'string') {
    url = v
  } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const extra = Object.keys(v).find(k => !KEYS.has(k))
    if (extra !== undefined) throw new ConfigError('proxy', src.env, `has an unknown key "${extra}" (keys: url, noProxy)`)
    const o = v as { url?: unknown, noProxy?: unknown }
    if (o.url !== undefined && (typeof o.url !== 'string' || o.url.trim() === '')) throw new ConfigError('proxy.url', undefined, 'must be a proxy URL such as http://proxy.example.com:3128')
    url = o.url
    noProxy = o.noProxy
  } else if (v !== true) {
    throw new ConfigError('proxy', src.env, 'must be true (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), false, a proxy URL or { url, noProxy }')
  }

  let http: ProxyUrl | undefined
  let https: ProxyUrl | undefined
  if (url !== undefined) {
    if (url.trim() === '') throw new ConfigError('proxy', src.env, 'must be a proxy URL such as http://proxy.example.com:3128')
    http = https = proxyUrl(url.trim(), src.env)
  } else {
    const h = variable(env, 'HTTP_PROXY')
    const s = variable(env, 'HTTPS_PROXY')
    http = h === undefined ? undefined : proxyUrl(h.value, h.env)
    // As undici's EnvHttpProxyAgent (Node's fetch with NODE_USE_ENV_PROXY): https falls back to HTTP_PROXY.
    https = s === undefined ? http : proxyUrl(s.value, s.env)
  }
  if (http === undefined && https === undefined) return undefined

  let rule: NoProxyRule
  if (noProxy !== undefined) {
    rule = noProxyOf(noProxy, 'proxy.noProxy', undefined)
  } else {
    const own = pick({}, 'proxy.noProxy', env, 'AXIOMS_NO_PROXY', parseString)
    const standard = variable(env, 'NO_PROXY')
    rule = own.value !== undefined
      ? noProxyOf(own.value, 'proxy.noProxy', own.env)
      : noProxyOf(standard?.value ?? '', 'proxy.noProxy', standard?.env)
  }
  return Object.freeze({ http, https, noProxyAll: rule.all, noProxyHosts: Object.freeze(rule.hosts), noProxyNets: rule.nets })
}
