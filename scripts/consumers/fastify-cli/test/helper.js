'use strict'

// As `fastify generate` writes it: skipOverride: true reaches every autoloaded plugin's options.
const { build: buildApplication } = require('fastify-cli/helper')
const path = require('node:path')
const AppPath = path.join(__dirname, '..', 'app.js')

function config () {
  return {
    skipOverride: true
  }
}

async function build (t) {
  const app = await buildApplication([AppPath], config())
  t.after(() => app.close())
  return app
}

module.exports = { config, build }
