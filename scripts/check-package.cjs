// Loads the built package through its own name, as an ESM import and through require()
// (Node >= 20.19 loads ES modules synchronously), checking the public surface of both entries.
'use strict'
const assert = require('node:assert/strict')

async function main () {
  const esm = await import('axioms-fastify')
  const cjs = require('axioms-fastify')
  for (const mod of [esm, cjs]) {
    assert.equal(typeof mod.default, 'function', 'default export is the plugin')
    assert.equal(mod.default, mod.axioms, 'named export axioms is the default export')
    assert.equal(mod.default[Symbol.for('plugin-meta')].name, 'axioms-fastify')
    assert.equal(typeof mod.AxiomsError, 'function')
    for (const fn of ['getTokenScopes', 'getTokenRoles', 'getTokenPermissions']) assert.equal(typeof mod[fn], 'function', fn)
  }
  const testing = require('axioms-fastify/testing')
  assert.equal(typeof (await import('axioms-fastify/testing')).createTestIssuer, 'function')
  assert.equal(typeof testing.createTestIssuer, 'function')
  console.log('package check: import and require of axioms-fastify and axioms-fastify/testing work')
}

main().catch(err => { console.error(err); process.exit(1) })
