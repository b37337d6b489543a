// The tables the docs show of the latest benchmark and chaos runs, written
// from what those runs recorded (bench/results.json, docs/chaos-report.json),
// so that each figure has one home and no table is copied by hand.
//
//   node scripts/docs-tables.mjs           rewrite the generated sections
//   node scripts/docs-tables.mjs --check   fail when one is out of date (npm run lint)
//
// A generated section sits between two marker comments, which stay:
//
//   <!-- generated:perf-table -->
//   ...written by this script...
//   <!-- /generated -->
//
// SECTIONS says which file holds which section; a file that lacks one, or
// holds a section of another name, is an error too.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderTable } from './chaos/report.mjs'
import { machineLine } from './chaos/machine.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const readJson = (path) => JSON.parse(readFileSync(join(root, path), 'utf8'))

// ------------------------------------------------------------ benchmark

const int = (n) => Math.round(n).toLocaleString('en-US')

/** A value as bench/run.mjs prints it. */
function formatValue (value, unit) {
  if (unit === 'ms') return `${value.toFixed(1)} ms`
  if (unit === 'µs') return `${int(value)} µs`
  return `${int(value)} ${unit}`
}

const hasValue = (row) => !row.error && typeof row.value === 'number'

/** Where and how the run was made, in one line. */
function benchRunLine (bench) {
  const m = bench.machine
  const mc = m.meteorCluster
  return `\`${bench.command}\`${bench.quick ? ' (quick)' : ''} on ${bench.date.slice(0, 10)}, ${bench.durationS} s: ` +
    `meteor-cluster ${mc.version} (${mc.commit}, ${mc.build} build), ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ` +
    `${m.platform}, Node ${m.node}; NODE_EXTRA_CA_CERTS ${m.nodeExtraCaCerts}; load average at start ${m.loadAverageAtStart.join(' ')}.`
}

/** Every row of the run, as bench/run.mjs prints it. */
function perfTable (bench) {
  const lines = ['| workload | subject | result | ratio to meteor-cluster |', '| --- | --- | --- | --- |']
  for (const row of bench.results) {
    const result = hasValue(row) ? formatValue(row.value, row.unit) : `n/a (error: ${String(row.error).replace(/\|/g, '\\|')})`
    const ratio = typeof row.ratio !== 'number' ? 'n/a' : row.reference ? '1.00 (reference)' : `${row.ratio.toFixed(2)}×`
    lines.push(`| ${row.title} | ${row.subject} | ${result} | ${ratio} |`)
  }
  return [lines.join('\n'), '', `Run: ${benchRunLine(bench)} ${bench.notes.join(' ')}`].join('\n')
}

/** The peers that get a column of their own in the summary, in order. */
const COLUMNS = [['meteor-cluster', 'meteor-cluster'], ['plain-cluster', 'plain `cluster` + `process.send`'],
  ['piscina', 'piscina (threads)'], ['workerpool', 'workerpool (processes)']]
/** Short names of the other subjects, for the summary's last column. */
const OTHERS = { 'node-boot': 'Node\'s own boot', agenda: 'Agenda', 'mongodb-floor': 'the driver alone (insert, claim, delete)' }

/**
 * The summary's sections and their workloads: what a user compares first
 * (the first minute, the CPU-bound share and the rest are in the full table).
 */
const SUMMARY = { throughput: ['throughput'], latency: ['latencyP50', 'latencyP99'], start: ['start'], persistent: ['persistent'] }

/** One row per workload, one column per peer: the short table, above the full one. */
function perfSummary (bench) {
  const workloads = Object.values(SUMMARY).flat().filter((w) => bench.results.some((r) => r.workload === w))
  const lines = [`| workload | ${COLUMNS.map(([, name]) => name).join(' | ')} | other |`,
    `| --- | ${COLUMNS.map(() => '---:').join(' | ')} | --- |`]
  for (const workload of workloads) {
    const rows = bench.results.filter((r) => r.workload === workload)
    const cell = (row) => (hasValue(row) ? formatValue(row.value, row.unit) : 'n/a')
    const cells = COLUMNS.map(([id]) => {
      const row = rows.find((r) => r.subjectId === id)
      return row ? cell(row) : '–'
    })
    // Variants of meteor-cluster itself (prefetch 1, spawn to ready) stay in the full table.
    const others = rows.filter((r) => !COLUMNS.some(([id]) => id === r.subjectId) && !r.subjectId.startsWith('meteor-cluster'))
    const other = others.map((r) => `${OTHERS[r.subjectId] ?? r.subject}: ${cell(r)}`).join('; ') || '–'
    lines.push(`| ${rows[0].title} | ${cells.join(' | ')} | ${other} |`)
  }
  const m = bench.machine
  // The rows can come from several runs (a run keeps the sections it did not measure): name each.
  const runs = [...new Map(Object.entries(bench.sections ?? {}).filter(([section]) => section in SUMMARY).map(([, s]) => [s.command, s])).values()]
  const commands = runs.length > 0
    ? runs.map((s) => `\`${s.command}\` at ${s.commit} (${s.build} build)`).join(' and ')
    : `\`${bench.command}\` at ${m.meteorCluster.commit} (${m.meteorCluster.build} build)`
  return [lines.join('\n'), '',
    `${commands}, ${bench.date.slice(0, 10)}, ` +
    `on ${m.cpus} × ${m.cpuModel} with Node ${m.node}; medians of each workload's repetitions. ` +
    'Tasks/s: higher is better; µs and ms: lower is better.'].join('\n')
}

/** The payload rows (issue #32, bench/results-payload.json), one row per case: meteor-cluster beside the plain dispatcher and piscina, or the plain driver. */
function payloadTable (bench) {
  const rows = bench.results.filter((r) => /^(payload|persistentPayload)/.test(r.workload))
  if (rows.length === 0) throw new Error('bench/results-payload.json has no payload rows: run node bench/run.mjs --only payload')
  const cell = (row) => (row && hasValue(row) ? formatValue(row.value, row.unit) : row && row.notApplicable ? 'n/a' : '–')
  const ratio = (a, b) => (a && b && hasValue(a) && hasValue(b) ? `${(a.value / b.value).toFixed(2)}` : '–')
  const lines = ['| case | meteor-cluster | plain `cluster` (or the plain driver) | piscina (1 thread) | meteor-cluster ÷ plain | meteor-cluster ÷ piscina |',
    '| --- | ---: | ---: | ---: | ---: | ---: |']
  for (const workload of [...new Set(rows.map((r) => r.workload))]) {
    const of = (ids) => rows.find((r) => r.workload === workload && ids.includes(r.subjectId))
    const ours = of(['meteor-cluster'])
    const plain = of(['plain-cluster', 'mongodb-driver'])
    const piscina = of(['piscina'])
    const title = ours.title.replace(/^payload in memory: /, 'in memory: ').replace(/ \(add → done(, 1 worker)?\)$/, '')
    lines.push(`| ${title} | ${cell(ours)} | ${cell(plain)} | ${cell(piscina)} | ${ratio(ours, plain)} | ${ratio(ours, piscina)} |`)
  }
  return [lines.join('\n'), '', `Run: ${benchRunLine(bench)} Medians of ${bench.sizes.payloadReps} tasks ` +
    `(persistent: ${bench.sizes.persPayloadReps}), each after one tiny task; ms and MiB: lower is better.`].join('\n')
}

/** The dashboard's requests at each size: the handler against the driver's floor (bench/results-dashboard.json). */
function dashboardTable (bench) {
  const lines = ['| request | handler | the same queries with the driver | handler ÷ floor |', '| --- | ---: | ---: | ---: |']
  const workloads = [...new Set(bench.results.map((r) => r.workload))]
  for (const workload of workloads) {
    const rows = bench.results.filter((r) => r.workload === workload)
    const handler = rows.find((r) => r.subjectId === 'meteor-cluster-dashboard')
    const floor = rows.find((r) => r.subjectId === 'mongodb-driver-floor')
    const cell = (row) => (row && hasValue(row) ? formatValue(row.value, row.unit) : '–')
    const ratio = handler && floor && hasValue(handler) && hasValue(floor) ? `${(handler.value / floor.value).toFixed(2)}` : '–'
    lines.push(`| ${rows[0].title.replace(/^dashboard at /, '')} | ${cell(handler)} | ${cell(floor)} | ${ratio} |`)
  }
  return [lines.join('\n'), '', `Run: ${benchRunLine(bench)} Medians of ${bench.sizes.dashboardReps} runs after a warm-up each; the counts ran in the background, before the requests were timed.`].join('\n')
}

// ------------------------------------------------------------ chaos run

/** The chaos run's table, with how it ran and what it met. */
function chaosTable (chaos) {
  const list = (title, items) => items.length === 0
    ? []
    : ['', `<details><summary>${title} (${items.length})</summary>`, '', ...items, '', '</details>']
  return [
    `\`${chaos.command}\`${chaos.quick ? ' (quick)' : ''} on ${chaos.date.slice(0, 10)}, ${chaos.durationS} s; ${machineLine(chaos.machine)}.`,
    '',
    renderTable(chaos.rows),
    '',
    chaos.faults.line,
    ...(chaos.lostWithMaster ? ['', `In-memory tasks lost with their master: ${chaos.lostWithMaster}.`] : []),
    '',
    chaos.passed
      ? 'The bar is met: the bold rows are 0.'
      : `The bar is MISSED${chaos.drained ? '' : ' (the queues did not empty after the last fault)'}.`,
    ...list('Each task run twice, with the crash that cut its earlier run', chaos.twice),
    ...list('Each task failed by a crash, with the kill', chaos.crashFailures),
    ...list('Each task that misses the bar', chaos.problems)
  ].join('\n')
}

// ------------------------------------------------------------ the files

const GENERATORS = {
  'perf-summary': () => perfSummary(readJson('bench/results.json')),
  'perf-table': () => perfTable(readJson('bench/results.json')),
  'dashboard-table': () => dashboardTable(readJson('bench/results-dashboard.json')),
  'payload-table': () => payloadTable(readJson('bench/results-payload.json')),
  'chaos-table': () => chaosTable(readJson('docs/chaos-report.json'))
}

/** Which generated sections each file holds. */
export const SECTIONS = {
  'docs/PERFORMANCE.md': ['perf-summary', 'perf-table', 'payload-table', 'dashboard-table'],
  'docs/RELIABILITY.md': ['chaos-table']
}

const MARKED = /(<!-- generated:([a-z-]+) -->\n)([\s\S]*?)(<!-- \/generated -->)/g

/** The file's text with its generated sections rewritten; throws on a missing or unknown one. */
export function regenerate (file, text) {
  const found = []
  const out = text.replace(MARKED, (whole, open, name, body, close) => {
    if (!SECTIONS[file].includes(name)) throw new Error(`${file}: unknown generated section "${name}" (it holds ${SECTIONS[file].join(', ')})`)
    found.push(name)
    return `${open}${GENERATORS[name]()}\n${close}`
  })
  const missing = SECTIONS[file].filter((name) => !found.includes(name))
  if (missing.length > 0) {
    throw new Error(`${file}: no <!-- generated:${missing[0]} --> … <!-- /generated --> section`)
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check')
  // Every file is regenerated before any is written: an error leaves them all as they were.
  const stale = []
  try {
    for (const file of Object.keys(SECTIONS)) {
      const path = join(root, file)
      const text = readFileSync(path, 'utf8')
      const fresh = regenerate(file, text)
      if (fresh !== text) stale.push({ file, path, fresh })
    }
  } catch (error) {
    console.error(`docs-tables: ${error.message}`)
    process.exit(1)
  }
  if (!check) for (const { path, fresh } of stale) writeFileSync(path, fresh)
  const names = stale.map((s) => s.file).join(', ')
  if (check && stale.length > 0) {
    console.error(`docs-tables: the generated tables in ${names} are out of date; run: node scripts/docs-tables.mjs`)
    process.exit(1)
  }
  console.log(check ? 'docs-tables: generated tables up to date' : `docs-tables: ${names ? `rewrote ${names}` : 'nothing to rewrite'}`)
}
