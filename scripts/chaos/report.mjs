// The result of a chaos run: the table (markdown, as docs/RELIABILITY.md
// shows it), the faults, each task that ran twice with the crash that cut
// its first run, and every task that misses the bar with its whole story.
// The run prints them and writes them to docs/chaos-report.json, from which
// scripts/docs-tables.mjs writes the table into the docs.
import { OUTCOMES, NOT_ADDED, BAD } from './verdict.mjs'

function count (tasks, kind, test) {
  return tasks.filter((t) => (kind === 'all' || t.kind === kind) && test(t)).length
}

/**
 * The table's rows: one per outcome, `{ id, label, bold, persistent,
 * inMemory, all }` (the counts of tasks of each kind).
 */
export function rows (tasks) {
  const defs = [
    ['sent', 'sent to a master', false, () => true],
    ...NOT_ADDED.map(([id, label]) => [id, label + (id === 'refused' ? refusals(tasks) : ''), false, (t) => t.notAdded === id]),
    ['added', 'added', true, (t) => t.outcome !== undefined],
    ...OUTCOMES.map(([id, label]) => [id, label, BAD.has(id), (t) => t.outcome === id])
  ]
  return defs.map(([id, label, bold, test]) => ({
    id,
    label,
    bold,
    persistent: count(tasks, 'persistent', test),
    inMemory: count(tasks, 'inMemory', test),
    all: count(tasks, 'all', test)
  }))
}

/** The rows as a markdown table. */
export function renderTable (tableRows) {
  const lines = ['| tasks | persistent | in memory | all |', '| --- | ---: | ---: | ---: |']
  for (const row of tableRows) {
    lines.push(`| ${row.bold ? `**${row.label}**` : row.label} | ${row.persistent} | ${row.inMemory} | ${row.all} |`)
  }
  return lines.join('\n')
}

/** The table: one row per outcome, a column per kind of task. */
export function table (tasks) {
  return renderTable(rows(tasks))
}

function refusals (tasks) {
  const codes = {}
  for (const t of tasks) if (t.notAdded === 'refused') codes[t.rejection] = (codes[t.rejection] ?? 0) + 1
  const list = Object.entries(codes).map(([code, n]) => `${code} ×${n}`).join(', ')
  return list ? ` (${list})` : ''
}

export function faultsLine (faults) {
  const range = (list) => `${(Math.min(...list) / 1000).toFixed(1)}-${(Math.max(...list) / 1000).toFixed(1)} s`
  const outages = faults.outages.length ? `, outages ${range(faults.outages)}` : ''
  const back = faults.backAfter.length ? `, masters writing again ${range(faults.backAfter)} after each restart` : ''
  return `Faults: ${faults.workerKills} worker SIGKILLs${faults.workerKillsMissed ? ` (${faults.workerKillsMissed} of them found the worker already gone)` : ''}, ` +
    `${faults.masterKills} master SIGKILLs (each restarted), ${faults.dbKills} database SIGKILLs and ${faults.dbTerms} SIGTERMs (each restarted${outages}${back}); ` +
    `two masters shared the collection throughout. Tasks whose run a worker kill cut: ${faults.tasksCutByWorkerKills}; a master kill: ${faults.tasksCutByMasterKills}.`
}

/** Each task run twice, with the crash that cut each earlier run. */
export function twice (tasks, at) {
  return tasks.filter((t) => t.outcome === 'twiceCut').map((t) =>
    `- ${t.key} (${t.kind === 'persistent' ? 'persistent' : 'in memory'}): run ${t.runs.length} times; ` +
    t.cuts.map((c) => `${at(c.run.start)} in worker ${c.run.pid}, cut: ${c.cut.how}`).join('; '))
}

/** Each task failed by a crash, with the kill. */
export function crashFailures (tasks) {
  return tasks.filter((t) => t.outcome === 'crashFailed').map((t) =>
    `- ${t.key} (${t.kind === 'persistent' ? 'persistent' : 'in memory'}): ${t.cut.how}${t.notes.length ? ` (${t.notes.join('; ')})` : ''}`)
}

/** Each task that misses the bar, with everything known about it. */
export function problems (tasks, at) {
  return tasks.filter((t) => BAD.has(t.outcome)).map((t) => [
    `- ${t.key} (${t.kind}, ${t.outcome}): ${t.problem}`,
    `    sent ${t.sent ? `${at(t.sent.t)} to master ${t.sent.master} (${t.sent.proc})` : 'never'}; ` +
      `document left: ${t.doc ? JSON.stringify({ onGoing: t.doc.onGoing, failed: t.doc.failed, attempts: t.doc.attempts, lease: t.doc.lease, lastError: t.doc.lastError?.message }) : 'none'}`,
    ...t.runs.map((r) => `    run in worker ${r.proc} of master ${r.master}: ${at(r.start)} to ${r.end === null ? '(no end)' : at(r.end)}`),
    ...t.events.map((e) => `    ${e.event} from master ${e.master} (${e.proc}) at ${at(e.t)}${e.code ? `: ${e.code} ${e.message}` : ''}`)
  ].join('\n'))
}

/** Notes on the tasks lost with their master: how far each had got. */
export function lostWithMaster (tasks) {
  const how = {}
  for (const t of tasks.filter((t) => t.outcome === 'lostWithMaster')) how[t.stage] = (how[t.stage] ?? 0) + 1
  return Object.entries(how).map(([note, n]) => `${n} ${note}`).join(', ')
}
