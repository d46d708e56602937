// Registers the plugin with a bad option and prints the stack of the startup error.
import Fastify from 'fastify'
import axioms from 'axioms-fastify'

const app = Fastify()
try {
  await app.register(axioms, { audience: 'api', issuer: 'https://idp.example', jwksTimeout: -1 })
  console.log('no error')
} catch (err) {
  console.log(err.stack)
}
