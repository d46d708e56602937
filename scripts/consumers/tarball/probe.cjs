'use strict'
// Registers the plugin with a bad option and prints the stack of the startup error.
const Fastify = require('fastify')
const { axioms } = require('axioms-fastify')

const app = Fastify()
app.register(axioms, { audience: 'api', issuer: 'https://idp.example', jwksTimeout: -1 })
app.ready().then(() => console.log('no error'), err => console.log(err.stack))
