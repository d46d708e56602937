// How a refusal reaches the client. A hook that Fastify runs as one of the route's own hooks answers
// itself; the same hook run by someone else (@fastify/auth, a context hook added with addHook,
// the app's own code) rejects with the AxiomsError instead, so that a composition can try its
// next strategy, and the route's error handler that the plugin installs answers it when it is the
// failure that ends the request. With errorResponse: 'throw' every refusal is thrown.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Auth } from './authenticate.js'
import { setClaims } from './authenticate.js'
import { type ChallengeContext, toResponseError } from './challenge.js'
import { senderOf } from './sender.js'
import { AxiomsError, isAxiomsError } from './errors.js'

/** Which requirement failed, for the debug log of a 403: never the token. */
export interface RequirementDetail {
  kind: 'scopes' | 'roles' | 'permissions'
  mode: 'any' | 'all'
  missing: string[]
}

/** Marks an error that carries its response headers already (built by refusal()). */
const kReady = Symbol('axioms.ready')
type ReadyError = AxiomsError & { [kReady]?: true }

export interface RefusalContext {
  /** The scopes a 403 needed (its challenge's `scope`). */
  scope?: readonly string[] | undefined
  /** Which requirement failed, for the log. */
  detail?: RequirementDetail | undefined
  /** The route requires DPoP: its challenges offer DPoP only. */
  dpopRequired?: boolean | undefined
}

function context (auth: Auth, request: FastifyRequest, dpopRequired: boolean): ChallengeContext {
  const base = auth.challenge
  const scheme = senderOf(request)?.scheme
  // Only where DPoP is on can a route require it (compileDeclaration refuses it otherwise).
  const dpop = dpopRequired ? { algs: (base.dpop as NonNullable<ChallengeContext['dpop']>).algs, mode: 'required' as const } : base.dpop
  return {
    ...base,
    dpop,
    scheme,
    resourceMetadata: auth.resourceMetadata === undefined ? undefined : auth.resourceMetadata(request)
  }
}

/**
 * The response-ready error for a refusal, logged at debug (reason, jti, the failed requirement).
 * A token refused for what it lacks leaves no claims on the request. With server nonces, every
 * 401 hands out the current DPoP-Nonce.
 */
export function refusal (auth: Auth, request: FastifyRequest, err: AxiomsError, extra: RefusalContext = {}): AxiomsError {
  const nonces = auth.dpop?.nonces
  if (nonces !== undefined && err.statusCode === 401 && err.nonce === undefined) err.nonce = nonces.current()
  const out: ReadyError = toResponseError(err, context(auth, request, extra.dpopRequired === true), extra.scope)
  out[kReady] = true
  const claims = (request as unknown as Record<string, unknown>)[auth.settings.decoratorName] as { jti?: unknown } | null | false
  // The jti of a refused token comes with the error; after a 403 it is the verified token's.
  const jti = err.jti ?? (typeof claims === 'object' && claims !== null && typeof claims.jti === 'string' ? claims.jti : undefined)
  const line: Record<string, unknown> = { reason: err.reason, jti }
  if (extra.detail !== undefined) line.requirement = extra.detail
  if (err.detail !== undefined) line.cause = err.detail
  request.log.debug(line, 'axioms: request refused')
  if (err.reason === 'insufficient' || err.reason === 'not_owner') setClaims(auth, request, null)
  return out
}

/** The body of a refusal: the family's `{ error, error_description }`, or RFC 9457 problem details. */
export function bodyOf (auth: Auth, err: AxiomsError): object {
  if (!auth.settings.problemDetails) return err.toJSON()
  return err.toProblem()
}

function send (auth: Auth, reply: FastifyReply, err: AxiomsError): FastifyReply {
  reply.code(err.statusCode).headers(err.headers)
  if (auth.settings.problemDetails) reply.type('application/problem+json; charset=utf-8')
  return reply.send(bodyOf(auth, err))
}

/** Marks routes whose error handler answers the plugin's refusals (set in onRoute). */
export const kAnswers = Symbol('axioms.answers')

function answeredByRoute (request: FastifyRequest): boolean {
  return (request.routeOptions.config as unknown as Record<symbol, unknown> | undefined)?.[kAnswers] === true
}

/**
 * Ends the request with a refusal. `direct`: Fastify runs the hook as one of the route's own. A
 * hook run any other way rejects, unless its route has no error handler of the plugin (a 404
 * handler's context hooks), where it answers itself as a direct hook would.
 */
export function deliver (auth: Auth, request: FastifyRequest, reply: FastifyReply, err: AxiomsError, direct: boolean): FastifyReply {
  if (auth.settings.errorResponse === 'throw') throw err
  if (!direct && answeredByRoute(request)) throw err
  return send(auth, reply, err)
}

type RouteErrorHandler = (this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply) => unknown

/**
 * The route error handler of errorResponse: 'reply': AxiomsErrors (a composed hook's refusal, one
 * thrown by the handler, app.axioms.claims() on an anonymous request) get the plugin's answer;
 * anything else goes to the route's own handler, if it had one, else on to the app's.
 */
export function answerRefusals (auth: Auth, inner: RouteErrorHandler | undefined): RouteErrorHandler {
  return function axiomsRefusals (error, request, reply) {
    if (isAxiomsError(error)) {
      const ready = (error as ReadyError)[kReady] === true ? error : refusal(auth, request, error)
      return send(auth, reply, ready)
    }
    if (inner !== undefined) return inner.call(this, error, request, reply)
    throw error
  }
}

/**
 * Fail closed on a server-side mistake (a protected route the plugin cannot enforce): a 500 that
 * says so, and an error log telling the developer what to fix.
 */
export function misconfigured (problemDetails: boolean, request: FastifyRequest, reply: FastifyReply, why: string): FastifyReply {
  request.log.error({ url: request.routeOptions.url }, `axioms: ${why}`)
  const body = { error: 'server_error', error_description: 'Route protection is misconfigured' }
  if (!problemDetails) return reply.code(500).send(body)
  return reply.code(500).type('application/problem+json; charset=utf-8')
    .send({ type: 'about:blank', title: 'Internal Server Error', status: 500, detail: body.error_description, error: body.error })
}
