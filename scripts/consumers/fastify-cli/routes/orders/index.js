'use strict'

async function opsKey (request) {
  if (request.headers['x-ops-key'] !== 'ops-secret') throw Object.assign(new Error('bad ops key'), { statusCode: 401 })
}

module.exports = async function (fastify) {
  fastify.get('/', { config: { axioms: { scopes: ['orders:read'] } } }, async request =>
    ({ customer: fastify.axioms.claims(request).sub }))
  // A token with orders:write, or the operations key.
  fastify.post('/', { onRequest: fastify.auth([fastify.hasRequiredScopes(['orders:write']), opsKey]) }, async request =>
    ({ created: true, by: request.authJwt ? request.authJwt.sub : 'ops' }))
}
