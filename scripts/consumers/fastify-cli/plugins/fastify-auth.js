'use strict'

module.exports = require('@fastify/auth')
