// decoratorName: 'user' typed through declaration merging, for apps used to @fastify/jwt's
// request.user. Its own file: the merge changes the request type of every file that sees it.
import { expect, test } from 'tstyche'
import Fastify from 'fastify'
import axioms, { type AccessTokenClaims } from 'axioms-fastify'

declare module 'axioms-fastify' {
  interface AxiomsTypeOptions {
    decoratorName: 'user'
  }
}

const app = Fastify()

test('claims are typed on request.user, and request.authJwt is gone', () => {
  expect(app.register(axioms, { audience: 'api', issuer: 'https://a.example', decoratorName: 'user' })).type.not.toRaiseError()
  app.get('/me', { config: { axioms: {} } }, async request => {
    expect(request.user).type.toBe<Readonly<AccessTokenClaims> | null | false>()
    if (request.user) expect(request.user.sub).type.toBe<string | undefined>()
    expect(() => request.authJwt).type.toRaiseError()
    expect(app.axioms.claims(request).exp).type.toBe<number>()
    return {}
  })
})
