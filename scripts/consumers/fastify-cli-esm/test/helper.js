// As `fastify generate --esm` writes it.
import helper from 'fastify-cli/helper.js'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const __filename = fileURLToPath(import.meta.url)
const __dirname = path.dirname(__filename)
const AppPath = path.join(__dirname, '..', 'app.js')

function config () {
  return { skipOverride: true }
}

async function build (t) {
  const app = await helper.build([AppPath], config())
  t.after(() => app.close())
  return app
}

export { config, build }
