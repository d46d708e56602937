// `npm start`: serves the sample API and prints one ready curl command per documented outcome.
import { buildSample, curl } from './app.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const { app, issuer, cases } = await buildSample(process.env, { level: process.env.LOG_LEVEL ?? 'info' })
const address = await app.listen({ port, host })

const lines: string[] = ['', `axioms-fastify sample API on ${address}  (OpenAPI + Swagger UI: ${address}/docs)`]
if (issuer === undefined) {
  lines.push('Trusting the identity provider named by the AXIOMS_* environment. Send its access tokens to:',
    '  GET /private (scope openid or profile), GET|POST|PATCH|DELETE /role (role sample:role),',
    '  GET|POST|PATCH|DELETE /permission (sample:read|create|update|delete), GET /articles/:id (ownership)')
} else {
  lines.push(`Embedded test issuer: tokens say iss https://your-domain.com, keys at ${issuer.jwksUri}`,
    'Tokens below are valid for one hour; restart for fresh ones.', '')
  for (const c of cases) lines.push(`# ${c.title}  -> expect ${c.status}`, curl(address, c), '')
}
console.log(lines.join('\n'))

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}
