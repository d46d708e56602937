// Issuer templates: one `iss` per customer tenant under one shared key set, such as Entra's
// https://login.microsoftonline.com/{tenantid}/v2.0. Pure (no Fastify, no I/O): templates are
// parsed at startup; per request a token's `iss` is matched exactly, placeholder by placeholder,
// before any key lookup. A template never names a URL to fetch: it only says which `iss` are ours.

/** The placeholder values of one `iss`, by name: frozen, null-prototype. */
export type TenantValues = Readonly<Record<string, string>>

/**
 * Decides whether a tenant's tokens are accepted. It sees the placeholder values only: the token's
 * claims are not verified yet when it runs. Synchronous: anything but `true` refuses the token.
 */
export type TenantPredicate = (values: TenantValues) => boolean

/** Longest placeholder value (a GUID is 36). */
export const MAX_VALUE_LENGTH = 64

// A value is a run of these, so a template's next literal character must not be one of them:
// then a value always ends where the first other character is, and no `iss` has two readings.
const VALUE_CHAR = /^[A-Za-z0-9_.-]$/
// Never empty, no leading, trailing or doubled dot (no `.` or `..` segment, nothing a URL parser
// would normalise); no `/`, `?`, `#`, `%`, whitespace or non-ASCII by construction.
const VALUE = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/

/** What one placeholder value must look like, and how a startup error says so. */
export interface ValueRule {
  readonly test: (value: string) => boolean
  readonly describe: string
}

export const ANY_VALUE: ValueRule = Object.freeze({
  test: (v: string) => v.length <= MAX_VALUE_LENGTH && VALUE.test(v),
  describe: `1 to ${MAX_VALUE_LENGTH} of A-Z a-z 0-9 _ - and single dots inside`
})

export interface IssuerTemplate {
  readonly template: string
  readonly names: readonly string[]
  /** The literal text around the placeholders: parts[0] names[0] parts[1] ... parts[n]. */
  readonly parts: readonly string[]
  readonly value: ValueRule
  readonly pattern: RegExp
}

/** Whether an issuer string is meant as a template (it has a brace). */
export function isTemplate (issuer: string): boolean {
  return issuer.includes('{') || issuer.includes('}')
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')

/** Parses a template, or returns what is wrong with it (for a ConfigError). */
export function parseTemplate (template: string, value: ValueRule = ANY_VALUE): IssuerTemplate | string {
  if (/[\s?#%]/.test(template) || /[^\x21-\x7e]/.test(template)) {
    return 'must not contain whitespace, "?", "#", "%" or non-ASCII characters'
  }
  const parts: string[] = []
  const names: string[] = []
  let rest = template
  for (;;) {
    const open = rest.indexOf('{')
    const close = rest.indexOf('}')
    if (open === -1) {
      if (close !== -1) return 'has a "}" without its "{"'
      parts.push(rest)
      break
    }
    if (close !== -1 && close < open) return 'has a "}" without its "{"'
    if (close === -1) return 'has a "{" without its "}"'
    const name = rest.slice(open + 1, close)
    if (!NAME.test(name)) return `has the placeholder "{${name}}": a name is a letter, then letters, digits or _ (at most 32)`
    if (names.includes(name)) return `names the placeholder "{${name}}" twice`
    parts.push(rest.slice(0, open))
    names.push(name)
    rest = rest.slice(close + 1)
  }
  if (!/^https?:\/\/[^/]+\//.test(parts[0] as string)) {
    return 'must start with http(s)://host/ before its first placeholder: placeholders go in the path, never in the scheme or host'
  }
  for (let i = 1; i < parts.length; i++) {
    // Between two placeholders the part is never empty; only the last one may be.
    const next = i < names.length && parts[i] === '' ? `{${names[i] as string}}` : (parts[i] as string)[0]
    if (next !== undefined && (next.length > 1 || VALUE_CHAR.test(next))) {
      return `has "${next}" right after "{${names[i - 1] as string}}": a placeholder must end the template or be followed by a character no value has, such as "/"`
    }
  }
  const pattern = new RegExp(`^${parts.map(escape).join(`([A-Za-z0-9_.-]{1,${MAX_VALUE_LENGTH}})`)}$`)
  return Object.freeze({ template, names: Object.freeze(names), parts: Object.freeze(parts), value, pattern })
}

/** The issuer a template names for these values. */
export function resolveTemplate (t: IssuerTemplate, values: TenantValues): string {
  let out = t.parts[0] as string
  for (let i = 0; i < t.names.length; i++) out += (values[t.names[i] as string] as string) + (t.parts[i + 1] as string)
  return out
}

/**
 * The placeholder values of `iss` under the template, or undefined: every literal part exact, every
 * value within its rule, and the issuer the values resolve to equal to `iss`, character for character.
 */
export function matchTemplate (t: IssuerTemplate, iss: string): TenantValues | undefined {
  const m = t.pattern.exec(iss)
  if (m === null) return undefined
  const values: Record<string, string> = Object.create(null)
  for (let i = 0; i < t.names.length; i++) {
    const v = m[i + 1] as string
    if (!ANY_VALUE.test(v) || !t.value.test(v)) return undefined
    values[t.names[i] as string] = v
  }
  Object.freeze(values)
  // The pattern is anchored and exact, so this holds; kept so that pinning never rests on a regex alone.
  /* c8 ignore next */
  if (resolveTemplate(t, values) !== iss) return undefined
  return values
}

interface Rule<E> {
  readonly template: IssuerTemplate
  readonly tenants: TenantPredicate
  readonly issuer: string
  readonly entry: E
}

export interface TemplateLog {
  error: (obj: object, msg: string) => void
}

/**
 * The predicate templates of a verifier, asked only when the exact lookup of `iss` missed (an
 * allow-list's issuers are exact entries). The first template whose shape fits decides: one `iss`
 * never reaches two key sets.
 */
export class TemplateMatcher<E> {
  private readonly rules: Array<Rule<E>> = []
  private readonly log: TemplateLog

  constructor (log: TemplateLog) {
    this.log = log
  }

  add (template: IssuerTemplate, tenants: TenantPredicate, issuer: string, entry: E): void {
    this.rules.push({ template, tenants, issuer, entry })
  }

  find (iss: string): E | undefined {
    for (const rule of this.rules) {
      const values = matchTemplate(rule.template, iss)
      if (values !== undefined) return this.allows(rule, values) ? rule.entry : undefined
    }
    return undefined
  }

  private allows (rule: Rule<E>, values: TenantValues): boolean {
    let verdict: unknown
    try {
      verdict = rule.tenants(values)
    } catch (err) {
      // The app's function failed: its tenant is not known to be ours. Refused, never a 5xx.
      this.log.error({ issuer: rule.issuer, err }, 'axioms: the tenants function of an issuer template threw: the token is refused')
      return false
    }
    if (verdict === true) return true
    if (verdict !== false) {
      // A promise cannot be waited for here: keep its rejection from becoming an unhandled one.
      Promise.resolve(verdict).catch(() => {})
      this.log.error({ issuer: rule.issuer, returned: typeof verdict }, 'axioms: the tenants function of an issuer template must return true or false, synchronously: the token is refused')
    }
    return false
  }
}
