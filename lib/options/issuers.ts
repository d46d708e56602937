// Who may issue tokens and for whom: audience, domain, issuer, jwksUri, issuers. Without an issuer
// and an audience the plugin refuses to start: there is deliberately no way to skip either check.
import { ConfigError, type Env, httpUrl, parseList, parseString, pick, given, type Source, stringList } from './read.js'

/** One trusted issuer of a multi-issuer setup (`issuers`). */
export interface IssuerOptions {
  /** The exact `iss` value (or values) of this issuer's tokens. */
  issuer: string | string[]
  /** Where its keys are; discovered from the issuer when absent. */
  jwksUri?: string
  /** Audience(s) for this issuer's tokens; the top-level `audience` when absent. */
  audience?: string | string[]
}

export interface IssuerInput {
  audience?: string | string[]
  domain?: string
  issuer?: string | string[]
  jwksUri?: string
  issuers?: IssuerOptions[]
}

export interface IssuerSettings {
  /** The issuer identifier: discovery base, default realm, RFC 9728 authorization server. */
  readonly id: string
  /** Exact `iss` values accepted for this issuer. */
  readonly accepted: readonly string[]
  readonly jwksUri: string | undefined
  readonly audiences: ReadonlySet<string>
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

export function resolveIssuers (input: IssuerInput, env: Env): IssuerResult {
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
  issuerList?.forEach(i => httpUrl(i, 'issuer', issuerSrc.env))

  const jwksSrc = pick(input, 'jwksUri', env, 'AXIOMS_JWKS_URL', parseString)
  if (jwksSrc.value !== undefined && typeof jwksSrc.value !== 'string') throw new ConfigError('jwksUri', jwksSrc.env, 'must be a URL string')
  const jwksUri = jwksSrc.value === undefined ? undefined : httpUrl(jwksSrc.value, 'jwksUri', jwksSrc.env)

  const issuers: IssuerSettings[] = []
  if (input.issuers !== undefined) {
    if (!Array.isArray(input.issuers) || input.issuers.length === 0) {
      throw new ConfigError('issuers', undefined, 'must be a non-empty list of { issuer, jwksUri?, audience? }')
    }
    if (issuerList !== undefined || domain !== undefined || jwksUri !== undefined) {
      throw new ConfigError('issuers', undefined, 'cannot be combined with issuer, domain or jwksUri: list every issuer in issuers')
    }
    input.issuers.forEach((entry, i) => {
      const name = `issuers[${i}]`
      if (typeof entry !== 'object' || entry === null) throw new ConfigError(name, undefined, 'must be an object { issuer, jwksUri?, audience? }')
      const accepted = stringList(given(entry.issuer), `${name}.issuer`)
      if (accepted === undefined) throw new ConfigError(`${name}.issuer`, undefined, 'is required')
      accepted.forEach(a => httpUrl(a, `${name}.issuer`, undefined))
      const aud = audienceSet(given(entry.audience), `${name}.audience`) ?? audiences
      if (aud === undefined) throw new ConfigError(`${name}.audience`, undefined, 'is required (or set the top-level audience / AXIOMS_AUDIENCE)')
      issuers.push({
        id: accepted[0] as string,
        accepted: Object.freeze([...accepted]),
        jwksUri: entry.jwksUri === undefined ? undefined : httpUrl(entry.jwksUri, `${name}.jwksUri`, undefined),
        audiences: aud
      })
    })
    const seen = new Set<string>()
    for (const iss of issuers) {
      for (const a of iss.accepted) {
        if (seen.has(a)) throw new ConfigError('issuers', undefined, `lists the issuer "${a}" twice`)
        seen.add(a)
      }
    }
  } else {
    if (audiences === undefined) {
      throw new ConfigError('audience', 'AXIOMS_AUDIENCE', 'is required: the identifier of this API that its access tokens must name in "aud"')
    }
    let accepted: string[]
    if (issuerList !== undefined) {
      accepted = issuerList
    } else if (domain !== undefined) {
      accepted = [`https://${domain}`, `https://${domain}/`]
    } else {
      throw new ConfigError('issuer', 'AXIOMS_ISS_URL', 'or "domain" (env AXIOMS_DOMAIN) is required: tokens are only accepted from a configured issuer')
    }
    issuers.push({ id: accepted[0] as string, accepted: Object.freeze(accepted), jwksUri, audiences })
  }
  return { issuers: Object.freeze(issuers.map(i => Object.freeze(i))), domain }
}
