// The plugin itself, re-exported: autoload registers it with autoConfig merged with the options the
// app passes down (skipOverride in tests, whatever --options gives in production).
export { default } from 'axioms-fastify'
export const autoConfig = { audience: 'orders-api', issuer: process.env.ORDERS_ISSUER, jwksCooldown: '1s' }
