export default async function (fastify) {
  fastify.get('/', { config: { axioms: { scopes: ['orders:read'] } } }, async request => ({ customer: fastify.axioms.claims(request).sub }))
}
