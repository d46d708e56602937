// Who may issue tokens and for whom: audience, domain, issuer, jwksUri, tenants, issuers. Without an
// issuer and an audience the plugin refuses to start: there is deliberately no way to skip either
// check. An issuer may be a template ({placeholders}, one `iss` per tenant under one key set), and
// then must say which tenants: an open template would accept every customer of the provider.
import { ENTRA_MULTI_TENANT, type PresetOptions } from '../presets.js'
import { ANY_VALUE, type IssuerTemplate, isTemplate, matchTemplate, parseTemplate, resolveTemplate, type TenantPredicate, type TenantValues, type ValueRule } from '../tenants.js'
import { ConfigError, type Env, httpUrl, parseList, parseString, pick, given, type Source, stringList } from './read.js'

/**
 * The tenants an issuer template accepts: placeholder values (a string each for a template with one
 * placeholder, `{ name: value }` objects for several), or a synchronous function of them.
 */
export type TenantsOption = string | ReadonlyArray<string | Readonly<Record<string, string>>> | TenantPredicate

/** One trusted issuer of a multi-issuer setup (`issuers`). */
export interface IssuerOptions {
  /** The exact `iss` value (or values) of this issuer's tokens, or templates such as `https://login.microsoftonline.com/{tenantid}/v2.0`. */
  issuer: string | string[]
  /** Where its keys are; discovered from the issuer when absent. Required for a template. */
  jwksUri?: string
  /** Audience(s) for this issuer's tokens; the top-level `audience` when absent. */
  audience?: string | string[]
  /** Required for a template: the tenants accepted (a list of placeholder values, or a function of them). */
  tenants?: TenantsOption
}

export interface IssuerInput {
  audience?: string | string[]
  domain?: string
  issuer?: string | string[]
  jwksUri?: string
  /** The tenants of the top-level `issuer` template (env `AXIOMS_TENANTS`: a list). */
  tenants?: TenantsOption
  issuers?: IssuerOptions[]
}

export interface IssuerSettings {
  /** The issuer identifier (a template's own text): discovery base, default realm, stats. */
  readonly id: string
  /** Exact `iss` values accepted for this issuer (a template's allow-list, resolved). */
  readonly accepted: readonly string[]
  readonly jwksUri: string | undefined
  readonly audiences: ReadonlySet<string>
  /** The templates of this issuer; empty for literal issuers. */
  readonly templates: readonly IssuerTemplate[]
  /** A template's tenant function, asked for an `iss` that fits a template but is not in `accepted`. */
  readonly tenants: TenantPredicate | undefined
  /** RFC 9728 authorization servers by default; undefined when a tenant function makes them unknowable. */
  readonly authorizationServers: readonly string[] | undefined
}

export interface IssuerResult {
  issuers: readonly IssuerSettings[]
  /** The normalised `domain`, for the family's namespaced claims. */
  domain: string | undefined
}

function normaliseDomain (domain: string): string {
  return domain.replace(/^https?:\/\//i, '').replace(/\/+$/, '')
}

function audienceSet (src: Source<unknown>, name: string): Set<string> | undefined {
  const list = stringList(src, name, 'must be a non-empty string or a list of them (the API identifier tokens are issued for)')
  return list === undefined ? undefined : new Set(list)
}

/** Where one issuer entry's options came from, for its error messages. */
interface EntryInput {
  issuer: string[]
  issuerName: string
  issuerEnv: string | undefined
  jwksUri: string | undefined
  jwksName: string
  jwksEnv: string | undefined
  tenants: Source<unknown>
  tenantsName: string
  audiences: ReadonlySet<string>
  /** What each placeholder value must look like (a GUID for the Entra preset). */
  value: ValueRule
  /** The built-in verifier fetches the keys itself: a template needs its jwksUri. */
  needsJwks: boolean
}

function entryOf (e: EntryInput): IssuerSettings {
  const kinds = new Set(e.issuer.map(isTemplate))
  if (!kinds.has(true)) {
    e.issuer.forEach(i => httpUrl(i, e.issuerName, e.issuerEnv))
    if (e.tenants.value !== undefined) {
      throw new ConfigError(e.tenantsName, e.tenants.env, `applies to an issuer template only (with {placeholders}, such as ${ENTRA_MULTI_TENANT.issuer}), and the issuer has none`)
    }
    const id = e.issuer[0] as string
    return { id, accepted: Object.freeze([...e.issuer]), jwksUri: e.jwksUri, audiences: e.audiences, templates: Object.freeze([]), tenants: undefined, authorizationServers: Object.freeze([id]) }
  }
  if (kinds.size > 1) throw new ConfigError(e.issuerName, e.issuerEnv, 'lists templates and exact issuers together: give each its own issuers entry')
  const templates = e.issuer.map(text => {
    const parsed = parseTemplate(text, e.value)
    if (typeof parsed === 'string') throw new ConfigError(e.issuerName, e.issuerEnv, `"${text}" ${parsed}`)
    httpUrl(resolveTemplate(parsed, Object.fromEntries(parsed.names.map(n => [n, 'x']))), e.issuerName, e.issuerEnv)
    return parsed
  })
  if (new Set(templates.map(t => t.parts.join('{}'))).size < templates.length) throw new ConfigError(e.issuerName, e.issuerEnv, 'lists one template twice')
  const names = (templates[0] as IssuerTemplate).names
  const sameNames = (t: IssuerTemplate): boolean => t.names.length === names.length && t.names.every(n => names.includes(n))
  if (!templates.every(sameNames)) throw new ConfigError(e.issuerName, e.issuerEnv, 'lists templates with different placeholders: one tenants list must fit them all')
  if (e.needsJwks && e.jwksUri === undefined) {
    throw new ConfigError(e.jwksName, e.jwksEnv, `is required with an issuer template (the key set every tenant shares, such as ${ENTRA_MULTI_TENANT.jwksUri}): keys are never discovered from a template`)
  }
  const id = templates[0]?.template as string
  const base = { id, jwksUri: e.jwksUri, audiences: e.audiences, templates: Object.freeze(templates) }
  const tenants = e.tenants.value
  if (tenants === undefined) {
    throw new ConfigError(e.tenantsName, e.tenants.env, 'is required with an issuer template: the tenants whose tokens are accepted (a list of placeholder values, or a function deciding); a template open to every tenant would accept the tokens of every customer of the provider')
  }
  if (typeof tenants === 'function') {
    // Its answer is needed before the key lookup, synchronously: a promise would be refused per request.
    if (tenants.constructor.name === 'AsyncFunction') throw new ConfigError(e.tenantsName, undefined, 'must be a synchronous function returning true or false (an async one cannot decide before the key lookup)')
    return { ...base, accepted: Object.freeze([]), tenants: tenants as TenantPredicate, authorizationServers: undefined }
  }
  const list = typeof tenants === 'string' ? [tenants] : tenants
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError(e.tenantsName, e.tenants.env, 'must be a non-empty list of tenants (placeholder values) or a function (values) => boolean')
  }
  const accepted: string[] = []
  for (const item of list as unknown[]) {
    const values = tenantValues(item, names, e)
    for (const t of templates) {
      const iss = resolveTemplate(t, values)
      if (accepted.includes(iss)) throw new ConfigError(e.tenantsName, e.tenants.env, `lists the tenant ${JSON.stringify(item)} twice`)
      accepted.push(iss)
    }
  }
  return { ...base, accepted: Object.freeze(accepted), tenants: undefined, authorizationServers: Object.freeze([...accepted]) }
}

/** One allow-list item as placeholder values, each within the rule. */
function tenantValues (item: unknown, names: readonly string[], e: EntryInput): TenantValues {
  let values: Record<string, unknown>
  if (typeof item === 'string') {
    if (names.length !== 1) throw new ConfigError(e.tenantsName, e.tenants.env, `lists "${item}", but the template has several placeholders: list { ${names.join(', ')} } objects`)
    values = { [names[0] as string]: item }
  } else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
    values = item as Record<string, unknown>
    const keys = Object.keys(values)
    if (keys.length !== names.length || !names.every(n => Object.hasOwn(values, n))) {
      throw new ConfigError(e.tenantsName, e.tenants.env, `lists ${JSON.stringify(item)}: each item names exactly the placeholders ${names.join(', ')}`)
    }
  } else {
    throw new ConfigError(e.tenantsName, e.tenants.env, 'must list strings (or { placeholder: value } objects)')
  }
  const out: Record<string, string> = Object.create(null)
  for (const n of names) {
    const v = values[n]
    if (typeof v !== 'string' || !ANY_VALUE.test(v) || !e.value.test(v)) {
      throw new ConfigError(e.tenantsName, e.tenants.env, `lists ${JSON.stringify(v)} for {${n}}, which is not ${e.value.describe}`)
    }
    out[n] = v
  }
  return Object.freeze(out)
}

export function resolveIssuers (input: IssuerInput, env: Env, preset: Source<PresetOptions | undefined>, needsJwks: boolean): IssuerResult {
  const audiences = audienceSet(pick(input, 'audience', env, 'AXIOMS_AUDIENCE', parseList), 'audience')

  const domainSrc = pick(input, 'domain', env, 'AXIOMS_DOMAIN', parseString)
  let domain: string | undefined
  if (domainSrc.value !== undefined) {
    if (typeof domainSrc.value !== 'string' || normaliseDomain(domainSrc.value) === '' || /\s/.test(domainSrc.value)) {
      throw new ConfigError('domain', domainSrc.env, 'must be a host name such as "your-tenant.auth0.com"')
    }
    domain = normaliseDomain(domainSrc.value)
  }

  const issuerSrc = pick(input, 'issuer', env, 'AXIOMS_ISS_URL', parseList)
  const issuerList = stringList(issuerSrc, 'issuer')

  const jwksSrc = pick(input, 'jwksUri', env, 'AXIOMS_JWKS_URL', parseString)
  if (jwksSrc.value !== undefined && typeof jwksSrc.value !== 'string') throw new ConfigError('jwksUri', jwksSrc.env, 'must be a URL string')
  const jwksUri = jwksSrc.value === undefined ? undefined : httpUrl(jwksSrc.value, 'jwksUri', jwksSrc.env)
  const tenantsSrc = pick(input, 'tenants', env, 'AXIOMS_TENANTS', parseList)

  const issuers: IssuerSettings[] = []
  if (input.issuers !== undefined) {
    if (!Array.isArray(input.issuers) || input.issuers.length === 0) {
      throw new ConfigError('issuers', undefined, 'must be a non-empty list of { issuer, jwksUri?, audience?, tenants? }')
    }
    if (issuerList !== undefined || domain !== undefined || jwksUri !== undefined || tenantsSrc.value !== undefined) {
      throw new ConfigError('issuers', undefined, 'cannot be combined with issuer, domain, jwksUri or tenants: list every issuer in issuers')
    }
    if (preset.value?.tenants !== undefined) {
      throw new ConfigError('preset', preset.env, '"entra" with tenants sets the one issuer: with issuers, write the template in an entry ({ issuer, jwksUri, tenants }) and keep preset: \'entra\' for the claims')
    }
    input.issuers.forEach((entry, i) => {
      const name = `issuers[${i}]`
      if (typeof entry !== 'object' || entry === null) throw new ConfigError(name, undefined, 'must be an object { issuer, jwksUri?, audience?, tenants? }')
      const accepted = stringList(given(entry.issuer), `${name}.issuer`)
      if (accepted === undefined) throw new ConfigError(`${name}.issuer`, undefined, 'is required')
      const aud = audienceSet(given(entry.audience), `${name}.audience`) ?? audiences
      if (aud === undefined) throw new ConfigError(`${name}.audience`, undefined, 'is required (or set the top-level audience / AXIOMS_AUDIENCE)')
      issuers.push(entryOf({
        issuer: accepted,
        issuerName: `${name}.issuer`,
        issuerEnv: undefined,
        jwksUri: entry.jwksUri === undefined ? undefined : httpUrl(entry.jwksUri, `${name}.jwksUri`, undefined),
        jwksName: `${name}.jwksUri`,
        jwksEnv: undefined,
        tenants: given(entry.tenants),
        tenantsName: `${name}.tenants`,
        audiences: aud,
        value: ANY_VALUE,
        needsJwks
      }))
    })
    checkDistinct(issuers)
  } else {
    if (audiences === undefined) {
      throw new ConfigError('audience', 'AXIOMS_AUDIENCE', 'is required: the identifier of this API that its access tokens must name in "aud"')
    }
    const p = preset.value
    // Entra's multi-tenant form: its tenants in the preset, or in tenants / AXIOMS_TENANTS with no issuer given.
    const entra = p?.name === 'entra' && (p.tenants !== undefined || (tenantsSrc.value !== undefined && issuerList === undefined && domain === undefined))
    if (entra) {
      if (p.tenants !== undefined && (issuerList !== undefined || domain !== undefined || tenantsSrc.value !== undefined)) {
        throw new ConfigError('preset', preset.env, `"entra" with tenants sets the issuer (${ENTRA_MULTI_TENANT.issuer}): remove issuer, domain and tenants (or their variables), or write the template as issuer yourself`)
      }
      issuers.push(entryOf({
        issuer: [ENTRA_MULTI_TENANT.issuer],
        issuerName: 'preset',
        issuerEnv: preset.env,
        // A mirror of the keys (or a test issuer) may stand in for Microsoft's endpoint.
        jwksUri: jwksUri ?? ENTRA_MULTI_TENANT.jwksUri,
        jwksName: 'jwksUri',
        jwksEnv: jwksSrc.env,
        tenants: p.tenants !== undefined ? given(p.tenants) : tenantsSrc,
        tenantsName: p.tenants !== undefined ? 'preset.tenants' : 'tenants',
        audiences,
        value: ENTRA_MULTI_TENANT.tenantId,
        needsJwks
      }))
    } else {
      let accepted: string[]
      if (issuerList !== undefined) {
        accepted = issuerList
      } else if (domain !== undefined) {
        accepted = [`https://${domain}`, `https://${domain}/`]
      } else {
        throw new ConfigError('issuer', 'AXIOMS_ISS_URL', 'or "domain" (env AXIOMS_DOMAIN) is required: tokens are only accepted from a configured issuer')
      }
      issuers.push(entryOf({
        issuer: accepted,
        issuerName: 'issuer',
        issuerEnv: issuerSrc.env,
        jwksUri,
        jwksName: 'jwksUri',
        jwksEnv: jwksSrc.env,
        tenants: tenantsSrc,
        tenantsName: 'tenants',
        audiences,
        value: ANY_VALUE,
        needsJwks
      }))
    }
  }
  return { issuers: Object.freeze(issuers.map(i => Object.freeze(i))), domain }
}

/**
 * One `iss`, one issuer: an exact value listed twice, one that a tenant function's template also
 * matches, or two templates of the same shape fail startup instead of depending on order.
 */
function checkDistinct (issuers: readonly IssuerSettings[]): void {
  const seen = new Set<string>()
  for (const iss of issuers) {
    for (const a of iss.accepted) {
      if (seen.has(a)) throw new ConfigError('issuers', undefined, `lists the issuer "${a}" twice`)
      seen.add(a)
    }
  }
  const shapes = new Set<string>()
  for (const iss of issuers) {
    for (const t of iss.templates) {
      const shape = t.parts.join('{}')
      if (shapes.has(shape)) throw new ConfigError('issuers', undefined, `lists two templates of the shape "${shape}"`)
      shapes.add(shape)
    }
  }
  for (const iss of issuers) {
    if (iss.tenants === undefined) continue
    for (const t of iss.templates) {
      for (const a of seen) {
        if (matchTemplate(t, a) !== undefined) throw new ConfigError('issuers', undefined, `lists "${a}", which the template "${t.template}" matches too: one iss must belong to one issuer`)
      }
    }
  }
}
