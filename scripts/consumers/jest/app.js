'use strict'
// The application under test, as a CommonJS user writes it.
const Fastify = require('fastify')
const { axioms } = require('axioms-fastify')

async function buildApp (auth) {
  const app = Fastify()
  await app.register(axioms, auth)
  app.get('/orders', { config: { axioms: { scopes: ['orders:read'] } } }, async request => ({ customer: request.authJwt.sub }))
  app.delete('/orders/:id', { onRequest: [app.hasValidAccessToken(), app.hasRequiredRoles(['admin'])] }, async () => ({ deleted: true }))
  return app
}

module.exports = { buildApp }
