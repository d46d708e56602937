// How the plugin answers and where the claims go: realm, errorResponse, problemDetails,
// decoratorName.
import { ConfigError, type Env, booleanOf, given, oneOf, parseBoolean, parseString, pick } from './read.js'

export interface ResponseInput {
  realm?: string
  errorResponse?: 'reply' | 'throw'
  /** RFC 9457 `application/problem+json` bodies instead of `{ error, error_description }`. */
  problemDetails?: boolean
  /** The request property holding the verified claims. Default `authJwt`; `user` for @fastify/jwt habits. */
  decoratorName?: string
}

export interface ResponseSettings {
  readonly realm: string
  readonly errorResponse: 'reply' | 'throw'
  readonly problemDetails: boolean
  readonly decoratorName: string
}

// Request properties of the plugin itself; Fastify's own are refused when decorating.
const OWN_PROPERTIES = new Set(['missingAuthHeader', 'invalidBearerToken', 'ownedObject'])

export function resolveResponses (input: ResponseInput, env: Env, defaultRealm: string): ResponseSettings {
  const realmSrc = pick(input, 'realm', env, 'AXIOMS_REALM', parseString)
  if (realmSrc.value !== undefined && (typeof realmSrc.value !== 'string' || !/^[\x20-\x7e]+$/.test(realmSrc.value))) {
    throw new ConfigError('realm', realmSrc.env, 'must be a non-empty string of printable ASCII')
  }
  const decoratorName = input.decoratorName ?? 'authJwt'
  if (typeof decoratorName !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(decoratorName) || OWN_PROPERTIES.has(decoratorName)) {
    throw new ConfigError('decoratorName', undefined, 'must be a JavaScript identifier naming a request property (such as "user"), other than missingAuthHeader, invalidBearerToken and ownedObject')
  }
  return {
    realm: realmSrc.value ?? defaultRealm,
    errorResponse: oneOf(given(input.errorResponse), 'errorResponse', ['reply', 'throw'], 'reply'),
    problemDetails: booleanOf(pick(input, 'problemDetails', env, 'AXIOMS_PROBLEM_DETAILS', parseBoolean), 'problemDetails', false),
    decoratorName
  }
}
