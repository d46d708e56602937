// What RFC 9728 metadata and OpenAPI say about DPoP and mTLS (lib/dpop/metadata.ts).
import t from 'tap'
import { dpopSchemeName, dpopSecurityScheme, senderConstraintMetadata, withDpopSecurity } from '../../lib/dpop/metadata.js'
import { resolveMtlsSettings } from '../../lib/mtls.js'
import { settings } from './helpers.js'

t.test('RFC 9728 members per mode', async t => {
  t.same(senderConstraintMetadata(settings({ algorithms: ['ES256', 'EdDSA'] })), {
    dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
    dpop_bound_access_tokens_required: false
  })
  t.same(senderConstraintMetadata(settings({ mode: 'required', algorithms: ['PS256'] })), {
    dpop_signing_alg_values_supported: ['PS256'],
    dpop_bound_access_tokens_required: true
  })
  t.same(senderConstraintMetadata(settings(false)), {})
  t.same(senderConstraintMetadata(settings(false), resolveMtlsSettings(undefined, {})), {}, 'the socket default is not advertised')
  t.same(senderConstraintMetadata(settings(false), resolveMtlsSettings({}, {})), { tls_client_certificate_bound_access_tokens: true })
  t.same(senderConstraintMetadata(settings(false), resolveMtlsSettings({ certificateHeader: 'x-c' }, {})), { tls_client_certificate_bound_access_tokens: true })
  t.same(senderConstraintMetadata(settings(false), resolveMtlsSettings(false, {})), {})
  const doc = senderConstraintMetadata(settings())
  doc.dpop_signing_alg_values_supported?.push('X')
  t.equal(settings().algorithms.includes('X' as never), false, 'a copy of the settings list')
})

t.test('the OpenAPI security scheme', async t => {
  t.same(dpopSecurityScheme(settings({ algorithms: ['ES256'] })), {
    type: 'http',
    scheme: 'DPoP',
    bearerFormat: 'JWT',
    description: 'DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>` and a `DPoP` proof header signed with ES256.'
  })
  t.equal(dpopSecurityScheme(settings(false)), undefined)
  t.equal(dpopSchemeName('axioms'), 'axiomsDpop')
})

t.test('operation security: twins in allowed mode, replaced when required', async t => {
  const security = [{ axioms: ['read'] }, { axioms: ['admin'] }]
  t.same(withDpopSecurity(security, 'axioms', 'allowed'), [{ axioms: ['read'] }, { axiomsDpop: ['read'] }, { axioms: ['admin'] }, { axiomsDpop: ['admin'] }])
  t.same(withDpopSecurity(security, 'axioms', 'required'), [{ axiomsDpop: ['read'] }, { axiomsDpop: ['admin'] }])
  t.same(withDpopSecurity(security, 'axioms', 'allowed', true), [{ axiomsDpop: ['read'] }, { axiomsDpop: ['admin'] }], 'a route that requires DPoP')
  t.same(withDpopSecurity(security, 'axioms', 'disabled'), security)
  t.same(withDpopSecurity([{}, { axioms: [] }], 'axioms', 'required'), [{}, { axiomsDpop: [] }], 'optional routes keep the empty alternative')
  t.same(withDpopSecurity([{ axioms: ['a'], apiKey: [] }], 'axioms', 'required'), [{ axiomsDpop: ['a'], apiKey: [] }], 'other schemes in an alternative stay')
  for (const mode of ['disabled', 'allowed', 'required'] as const) {
    const out = withDpopSecurity(security, 'axioms', mode)
    for (const alt of out) for (const list of Object.values(alt)) list.push('x')
    t.same(security, [{ axioms: ['read'] }, { axioms: ['admin'] }], `${mode}: the input is never shared`)
  }
})
