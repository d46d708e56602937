// Turns one run's figures into the console table, bench/RESULTS.md and bench/results.svg.
import { ALGS, type BenchAlg } from './config.js'
import type { BurstResult, MemoryResult } from './checks.js'

export interface Row {
  /** Server kind (servers.ts). */
  kind: string
  /** Its name in the tables (markdown). */
  label: string
  alg: BenchAlg | null
  rps: number | null
  p99: number | null
  /** Server CPU microseconds per response (robust to a busy machine). */
  cpuUs: number | null
  /** Why there is no figure, or what went wrong during the run. */
  note?: string
}

export interface Machine {
  date: string
  cpu: string
  nproc: number
  node: string
  pinned: string
  loadBefore: string
  loadAfter: string
  settings: string
}

export interface Report {
  machine: Machine
  rows: Row[]
  /**
   * crypto.verify per second (wall clock) and CPU microseconds per verification, measured while
   * the load core is kept busy (as during the HTTP rows): the bound uses these.
   */
  verify: Record<BenchAlg, { wall: number, cpuUs: number }>
  /** The same with the load core idle, for reference. */
  verifyIdle: Record<BenchAlg, { wall: number, cpuUs: number }>
  burst: BurstResult | null
  memory: MemoryResult | null
}

export const PEERS = ['fastify-jwt-jwks', 'fastify-jwt+get-jwks', 'express-oauth2-jwt-bearer'] as const

export function bare (r: Report): number {
  return r.rows.find(x => x.kind === 'fastify-bare')?.rps ?? NaN
}

/** 1 / (1/bare + 1/verify): a plugin whose only cost is the signature. */
export function bound (r: Report, alg: BenchAlg): number {
  return 1 / (1 / bare(r) + 1 / r.verify[alg].wall)
}

/** The DPoP row's bound: bare Fastify plus two signatures, the RS256 token's and the ES256 proof's. */
export function dpopBound (r: Report): number {
  return 1 / (1 / bare(r) + 1 / r.verify.RS256.wall + 1 / r.verify.ES256.wall)
}

function cpuOf (r: Report, kind: string, alg: BenchAlg | null): number | null {
  return r.rows.find(x => x.kind === kind && x.alg === alg)?.cpuUs ?? null
}

/** The same bound in CPU time: bare Fastify's CPU per request plus one crypto.verify. */
export function cpuBound (r: Report, alg: BenchAlg): number | null {
  const b = cpuOf(r, 'fastify-bare', null)
  return b === null ? null : b + r.verify[alg].cpuUs
}

const cpuRatio = (reference: number | null, row: number | null): number | null =>
  reference === null || row === null ? null : reference / row

function rowOf (r: Report, kind: string, alg: BenchAlg | null): Row | undefined {
  return r.rows.find(x => x.kind === kind && x.alg === alg)
}

function rpsOf (r: Report, kind: string, alg: BenchAlg | null): number | null {
  return rowOf(r, kind, alg)?.rps ?? null
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ratio = (n: number | null): string => n === null || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}×`

interface Target { what: string, value: string, goal: string, met: boolean | null }

export function targets (r: Report): Target[] {
  const out: Target[] = []
  for (const alg of ALGS) {
    const us = rpsOf(r, 'axioms', alg)
    const v = us === null ? null : us / bound(r, alg)
    const c = cpuRatio(cpuBound(r, alg), cpuOf(r, 'axioms', alg))
    out.push({ what: `uncached ${alg} / bound`, value: `${ratio(v)} (CPU: ${ratio(c)})`, goal: '≥ 0.85', met: v === null ? null : v >= 0.85 })
  }
  const us = rpsOf(r, 'axioms', 'RS256')
  for (const [peer, goal] of [['fastify-jwt-jwks', 1.8], ['express-oauth2-jwt-bearer', 3]] as const) {
    const them = rpsOf(r, peer, 'RS256')
    const v = us === null || them === null ? null : us / them
    out.push({ what: `RS256 vs ${peer}`, value: ratio(v), goal: `≥ ${goal}×`, met: v === null ? null : v >= goal })
  }
  const cached = rpsOf(r, 'axioms-cached', 'RS256')
  const cv = cached === null ? null : cached / bare(r)
  const cc = cpuRatio(cpuOf(r, 'fastify-bare', null), cpuOf(r, 'axioms-cached', 'RS256'))
  out.push({ what: 'cached / bare Fastify', value: `${ratio(cv)} (CPU: ${ratio(cc)})`, goal: '≥ 0.80', met: cv === null ? null : cv >= 0.8 })
  if (r.burst !== null) {
    out.push({ what: `cold burst of ${r.burst.requests}: JWKS requests`, value: String(r.burst.jwksRequests), goal: '= 1', met: r.burst.jwksRequests === 1 && r.burst.ok === r.burst.requests })
  }
  if (r.memory !== null) {
    const m = r.memory
    out.push({ what: `RSS growth, ${int(m.tokens)} distinct tokens, tokenCache 10000`, value: `${m.growthMB.toFixed(1)} MB`, goal: '< 100 MB', met: m.capped ? null : m.growthMB < 100 })
  }
  return out
}

/** What a plugin with no work but the signature reaches in this run: the ceiling of the targets here. */
export function floorNotes (r: Report): string[] {
  const out: string[] = []
  const fjj = rpsOf(r, 'fastify-jwt-jwks', 'RS256')
  for (const alg of ALGS) {
    const inline = rpsOf(r, 'fastify-crypto-only', alg)
    const batched = rpsOf(r, 'fastify-crypto-batch', alg)
    if (inline === null && batched === null) continue
    const bd = bound(r, alg)
    const vsPeer = alg === 'RS256' && fjj !== null && batched !== null ? `, ${ratio(batched / fjj)} fastify-jwt-jwks` : ''
    out.push(`${alg} floors (no work but the signature): inline ${ratio(inline === null ? null : inline / bd)}, batched ${ratio(batched === null ? null : batched / bd)} of the bound${vsPeer}.`)
  }
  const batchedUs = rpsOf(r, 'axioms', 'RS256')
  const inlineUs = rpsOf(r, 'axioms-inline', 'RS256')
  if (batchedUs !== null && inlineUs !== null) out.push(`axioms-fastify RS256, verifyBatch 16 (default) ÷ verifyBatch 0: ${ratio(batchedUs / inlineUs)}.`)
  const dpopUs = rpsOf(r, 'axioms-dpop', 'RS256')
  if (batchedUs !== null && dpopUs !== null) {
    // As everywhere here, reference CPU ÷ row CPU: below 1, the row costs more per request.
    const cpu = cpuRatio(cpuOf(r, 'axioms', 'RS256'), cpuOf(r, 'axioms-dpop', 'RS256'))
    out.push(`axioms-fastify RS256 over DPoP (an ES256 proof checked per request) ÷ the same over Bearer: ${ratio(dpopUs / batchedUs)} (CPU: ${ratio(cpu)}); ` +
      `the bounds' ratio, what the second signature alone would cost: ${ratio(dpopBound(r) / bound(r, 'RS256'))}.`)
  }
  return out
}

function mdTable (head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}

function mainTable (r: Report): { head: string[], rows: string[][] } {
  const head = ['Server', 'alg', 'req/s', 'p99 ms', 'vs bound', 'vs bare Fastify', 'CPU µs/req', 'vs bound (CPU)', 'core busy', 'note']
  const rows: string[][] = []
  const b = bare(r)
  const bareCpu = cpuOf(r, 'fastify-bare', null)
  const us = (n: number | null): string => n === null ? '' : n.toFixed(1)
  const plain = (alg: string, row: Row | undefined, vsBound: string, vsBoundCpu: string): void => {
    if (row === undefined) return
    // Below ~90 %, the server was waiting for requests: the load generator (or a neighbour) set the pace.
    const busy = row.rps === null || row.cpuUs === null ? '' : `${Math.round(row.rps * row.cpuUs / 1e4)}%`
    rows.push([row.label, alg, row.rps === null ? 'n/a' : int(row.rps), row.p99 === null ? '' : String(row.p99), vsBound,
      ratio(row.rps === null ? null : row.rps / b), us(row.cpuUs), vsBoundCpu, busy, row.note ?? ''])
  }
  plain('—', rowOf(r, 'fastify-bare', null), '', '')
  plain('—', rowOf(r, 'express-bare', null), '', '')
  const cached = rowOf(r, 'axioms-cached', 'RS256')
  plain('RS256', cached, '', cached === undefined ? '' : `${ratio(cpuRatio(bareCpu, cached.cpuUs))} of bare`)
  for (const alg of ALGS) {
    const bd = bound(r, alg)
    const cb = cpuBound(r, alg)
    rows.push(['crypto.verify alone (1 core)', alg, int(r.verify[alg].wall), '', '', '', us(r.verify[alg].cpuUs), '', '', `signature cost; ${int(r.verifyIdle[alg].wall)}/s with the load core idle`])
    rows.push(['bound 1/(1/bare + 1/verify)', alg, int(bd), '', '1.00×', ratio(bd / b), us(cb), '1.00×', '', ''])
    for (const kind of ['fastify-crypto-only', 'fastify-crypto-batch', 'axioms', 'axioms-inline', ...PEERS]) {
      const row = rowOf(r, kind, alg)
      if (row === undefined) continue
      plain(alg, row, ratio(row.rps === null ? null : row.rps / bd), ratio(cpuRatio(cb, row.cpuUs)))
    }
    const dpop = rowOf(r, 'axioms-dpop', alg)
    if (dpop !== undefined) {
      // Its own bound: two signatures per request.
      const dbd = dpopBound(r)
      const dcb = cb === null ? null : cb + r.verify.ES256.cpuUs
      rows.push(['bound, DPoP 1/(1/bare + 1/verify + 1/verify ES256)', alg, int(dbd), '', '1.00×', ratio(dbd / b), us(dcb), '1.00×', '', 'token and proof signatures'])
      plain(alg, dpop, ratio(dpop.rps === null ? null : dpop.rps / dbd), ratio(cpuRatio(dcb, dpop.cpuUs)))
    }
  }
  return { head, rows }
}

function peerTable (r: Report): { head: string[], rows: string[][] } {
  const head = ['alg', ...PEERS.map(p => `axioms ÷ ${p}`)]
  const rows = ALGS.map(alg => {
    const us = rpsOf(r, 'axioms', alg)
    return [alg, ...PEERS.map(p => {
      const them = rpsOf(r, p, alg)
      return us === null || them === null ? 'n/a' : ratio(us / them)
    })]
  })
  return { head, rows }
}

export function markdown (r: Report): string {
  const m = r.machine
  const main = mainTable(r)
  const peers = peerTable(r)
  const t = targets(r)
  const parts = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench\` on ${m.date}. Machine: ${m.cpu}, ${m.nproc} cores, Node ${m.node}. ${m.pinned}`,
    `Load average before / after: ${m.loadBefore} / ${m.loadAfter}. Settings: ${m.settings}.`,
    '',
    'Every figure comes from this one run; compare ratios, not absolute numbers, across machines.',
    '"CPU µs/req" is the server child\'s CPU time per response over the measured run; "vs bound (CPU)" compares it with bare Fastify\'s plus one `crypto.verify`, ' +
      'and "core busy" below ~90 % means the server was waiting for requests. ' +
      'The two floor rows are hooks that do nothing but split the token and check its signature, inline or batched per event-loop turn as axioms-fastify does ' +
      '(`verifyBatch`): what a plugin with no other work reaches on this machine. Every row that checks a signature also pays for waking the load generator, ' +
      'which bare Fastify keeps too busy to sleep; see bench/README.md, "Why the bound is out of reach".',
    '',
    '## Throughput',
    '',
    mdTable(main.head, main.rows),
    '',
    '## axioms-fastify against each peer (same tokens, same route, same core)',
    '',
    mdTable(peers.head, peers.rows),
    '',
    '## Targets (issue 4)',
    '',
    mdTable(['Check', 'Measured', 'Target', 'Met'], t.map(x => [x.what, x.value, x.goal, x.met === null ? 'not measured' : x.met ? 'yes' : '**no**'])),
    '',
    ...floorNotes(r).map(n => `- ${n}`),
    ''
  ]
  if (r.burst !== null) {
    const b = r.burst
    const other = Object.entries(b.otherStatus).map(([s, n]) => `${n}× ${s}`).join(', ')
    parts.push('## Cold burst', '', `${b.requests} concurrent requests (one connection each) against a server with no keys yet, its JWKS endpoint answering after 1 s: ` +
      `${b.jwksRequests} JWKS request(s), ${b.ok} × 200${other === '' ? '' : `, ${other}`}; ${b.sentBeforeJwks} requests had been sent when the JWKS answer left; ${Math.round(b.ms)} ms in all.`, '')
  }
  if (r.memory !== null) {
    const x = r.memory
    parts.push('## Memory with tokenCache: 10000', '', `${int(x.tokens)} distinct EdDSA tokens${x.capped ? ` (stopped by the ${Math.round(x.seconds)} s time cap before ${int(x.target)})` : ''} verified through \`app.axioms.verify\` in ${x.seconds.toFixed(0)} s: ` +
      `RSS ${x.baselineMB.toFixed(1)} MB before, ${x.finalMB.toFixed(1)} MB after (both after a forced GC), peak ${x.peakMB.toFixed(1)} MB; growth ${x.growthMB.toFixed(1)} MB; cache size at the end ${x.cacheSize}.`, '')
  }
  parts.push('![Benchmark chart](results.svg)', '')
  return parts.join('\n')
}

export function consoleTable (r: Report): string {
  const main = mainTable(r)
  const peers = peerTable(r)
  const t = targets(r)
  const fmt = (head: string[], rows: string[][]): string => {
    const all = [head, ...rows].map(row => row.map(c => c.replace(/\*\*/g, '')))
    const w = head.map((_, i) => Math.max(...all.map(row => (row[i] ?? '').length)))
    return all.map((row, j) => row.map((c, i) => (i >= 2 && j > 0 ? c.padStart(w[i] as number) : c.padEnd(w[i] as number))).join('  ')).join('\n')
  }
  return [fmt(main.head, main.rows), '', fmt(peers.head, peers.rows), '', fmt(['Check', 'Measured', 'Target', 'Met'], t.map(x => [x.what, x.value, x.goal, x.met === null ? 'not measured' : x.met ? 'yes' : 'NO'])), '', ...floorNotes(r)].join('\n')
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A horizontal bar chart: one group per algorithm plus the no-signature group. */
export function svg (r: Report): string {
  const COLORS: Record<string, string> = {
    'fastify-bare': '#9e9e9e',
    'express-bare': '#bdbdbd',
    bound: '#cfd8dc',
    'axioms-cached': '#1b5e20',
    axioms: '#2e7d32',
    'axioms-inline': '#81c784',
    'axioms-dpop': '#558b2f',
    'fastify-jwt-jwks': '#ef6c00',
    'fastify-jwt+get-jwks': '#6a1b9a',
    'express-oauth2-jwt-bearer': '#1565c0'
  }
  const groups: Array<{ title: string, bars: Array<{ label: string, value: number | null, color: string }> }> = []
  const b = bare(r)
  groups.push({
    title: 'No signature work',
    bars: [
      { label: 'bare Fastify (ceiling)', value: b, color: COLORS['fastify-bare'] as string },
      { label: 'axioms-fastify, tokenCache hit (RS256)', value: rpsOf(r, 'axioms-cached', 'RS256'), color: COLORS['axioms-cached'] as string },
      { label: 'bare Express', value: rpsOf(r, 'express-bare', null), color: COLORS['express-bare'] as string }
    ]
  })
  for (const alg of ALGS) {
    groups.push({
      title: `${alg}, 2,000 distinct tokens, no cache`,
      bars: [
        { label: 'bound (bare + crypto.verify)', value: bound(r, alg), color: COLORS.bound as string },
        { label: 'floor: crypto.verify, inline', value: rpsOf(r, 'fastify-crypto-only', alg), color: COLORS.bound as string },
        { label: 'floor: crypto.verify, batched', value: rpsOf(r, 'fastify-crypto-batch', alg), color: COLORS.bound as string },
        { label: 'axioms-fastify', value: rpsOf(r, 'axioms', alg), color: COLORS.axioms as string },
        ...(alg === 'RS256'
          ? [
              { label: 'axioms-fastify, verifyBatch: 0', value: rpsOf(r, 'axioms-inline', alg), color: COLORS['axioms-inline'] as string },
              { label: 'axioms-fastify, DPoP (+ ES256 proof)', value: rpsOf(r, 'axioms-dpop', alg), color: COLORS['axioms-dpop'] as string }
            ]
          : []),
        ...PEERS.map(p => ({ label: p, value: rpsOf(r, p, alg), color: COLORS[p] as string }))
      ]
    })
  }
  const W = 960
  const LABEL = 300
  const BAR = 18
  const GAP = 6
  const max = Math.max(...groups.flatMap(g => g.bars.map(x => x.value ?? 0)))
  const scale = (W - LABEL - 120) / max
  let y = 50
  const parts: string[] = []
  for (const g of groups) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${esc(g.title)}</text>`)
    y += 10
    for (const bar of g.bars) {
      const v = bar.value
      parts.push(`<text x="${LABEL - 8}" y="${y + BAR - 5}" text-anchor="end">${esc(bar.label)}</text>`)
      if (v === null || !Number.isFinite(v)) {
        parts.push(`<text x="${LABEL + 4}" y="${y + BAR - 5}" fill="#777">n/a</text>`)
      } else {
        const w = Math.max(1, v * scale)
        parts.push(`<rect x="${LABEL}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${bar.color}"/>`)
        parts.push(`<text x="${(LABEL + w + 6).toFixed(1)}" y="${y + BAR - 5}">${int(v)}/s</text>`)
      }
      y += BAR + GAP
    }
    y += 18
  }
  const m = r.machine
  const H = y + 20
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    '<text x="10" y="24" font-size="16" font-weight="bold">Requests per second, server on one core (higher is better)</text>',
    ...parts,
    `<text x="10" y="${H - 10}" font-size="11" fill="#555">${esc(`${m.date} · ${m.cpu} · ${m.nproc} cores · Node ${m.node} · ${m.settings}`)}</text>`,
    '</svg>',
    ''
  ].join('\n')
}
