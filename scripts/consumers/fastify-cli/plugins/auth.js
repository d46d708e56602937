'use strict'

// The plugin file exports axioms-fastify itself; autoload registers it with autoConfig merged with
// the options the app passes down. Issuer and audience come from AXIOMS_* variables.
const { axioms } = require('axioms-fastify')

module.exports = {
  default: axioms,
  autoConfig: { tokenCache: 1000 }
}
