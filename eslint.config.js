import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['dist/**', 'coverage/**', '.tap/**', 'bench/.tmp/**', 'scripts/consumers/*/out/**', 'scripts/consumers/*/src-cjs/**']
})
