// The verdict of a chaos run: what happened to each task, decided from the
// journals alone (the harness's, each master's, each worker's) and the
// documents left in the collection. Pure: no process, no database.
//
// A task is known by its key (`data.key`), given by the harness, so that a
// task whose add was cut by a crash can still be recognised.

/** The outcomes, in the order the table shows them. */
export const OUTCOMES = [
  ['once', 'completed exactly once'],
  ['twiceCut', 'run twice, the first run cut by a crash'],
  ['crashFailed', 'failed by a crash (ERR_WORKER_EXIT: its worker SIGKILLed while it ran)'],
  ['lostWithMaster', 'lost with their master (in memory, master SIGKILLed)'],
  ['lost', 'lost'],
  ['wronglyFailed', 'wrongly failed'],
  ['twiceUncut', 'run twice, no crash cut the first run'],
  ['refusedStored', 'add rejected, yet the task was stored'],
  ['anomaly', 'other anomalies (see below)']
]
/** The outcomes that miss the bar. */
export const BAD = new Set(['lost', 'wronglyFailed', 'twiceUncut', 'refusedStored', 'anomaly'])

/**
 * How long a finished run's outcome may stay unwritten, the database up,
 * and its master's kill still count as what cut it.
 */
const UNWRITTEN_MS = 2000

/** What happened to tasks that were never added, in table order. */
export const NOT_ADDED = [
  ['refused', 'add refused by addTask (rejected)'],
  ['neverRead', 'add never read: its master was SIGKILLed first'],
  ['addCut', 'add cut by a master SIGKILL, task never stored']
]

/**
 * `harness`: the harness journal's records; `masterRecords`, `runRecords`:
 * the masters' and workers' journals; `docs`: every document left in the
 * collection after the drain; `t0`: the run's start (ms since the epoch).
 */
export function judge ({ harness, masterRecords, runRecords, docs, t0 }) {
  const at = (t) => `t=${((t - t0) / 1000).toFixed(1)} s`
  const crashes = crashIndex(harness)
  const outages = outagesOf(harness)
  const runs = runsByKey(runRecords)
  const ctx = { at, cutBy, crashes }
  const byProc = groupBy(masterRecords, (r) => r.proc)
  const eventsOf = groupBy(masterRecords.filter((r) => r.event === 'done' || r.event === 'error'), (r) => r.key)
  const docOf = new Map(docs.map((d) => [d.data?.key, d]))

  /** The crash that cut `run`, or null: its worker's kill, or its master's. */
  function cutBy (run) {
    // Its worker's kill cut the last run the worker started.
    const killed = crashes.workers.get(run.proc)
    if (killed && run.last) return { ...killed, how: `worker ${run.pid} SIGKILLed at ${at(killed.t)} while it ran` }
    // Its master's kill cut it unless its outcome had been written. The
    // workers end when they see their master gone, a moment after the kill:
    // a run may start or finish in between, with nobody left to tell.
    const master = crashes.masters.get(run.master)
    if (!master) return null
    const how = (after) => ({ ...master, how: `master ${master.master} (${run.master}) SIGKILLed at ${at(master.t)} ${after}` })
    if (run.start >= master.t) return how(`${run.start - master.t} ms before this run started, which its worker had not seen yet`)
    if (run.end === null) return how('while it ran')
    if (run.end >= master.t) return how(`while it ran (it finished ${run.end - master.t} ms later, its master gone)`)
    // A finished run's outcome is written within milliseconds while the
    // database is up: one still unwritten long after is not the crash's doing.
    const gap = master.t - run.end
    if (gap > UNWRITTEN_MS && !outages.some(([from, to]) => from < master.t && to > run.end)) return null
    return how(`${gap} ms after it finished, before its outcome was written`)
  }

  const tasks = []
  for (const sent of harness.filter((r) => r.sent)) {
    const key = sent.sent
    const kind = sent.inMemory ? 'inMemory' : 'persistent'
    const own = byProc.get(sent.proc) ?? []
    const intent = own.find((r) => r.event === 'intent' && r.key === key)
    const settled = own.find((r) => (r.event === 'added' || r.event === 'rejected') && r.key === key)
    const masterKilled = crashes.masters.get(sent.proc)
    const task = { key, kind, sent, runs: runs.get(key) ?? [], events: eventsOf.get(key) ?? [], doc: docOf.get(key) ?? null, notes: [] }
    docOf.delete(key)
    runs.delete(key)
    tasks.push(task)
    const seen = task.runs.length > 0 || task.doc !== null || task.events.length > 0

    if (!intent) {
      if (masterKilled && !seen) task.notAdded = 'neverRead'
      else task.outcome = anomaly(task, `master ${sent.master} (${sent.proc}) never recorded the add it was sent${masterKilled ? '' : ', and it was not killed'}`)
      continue
    }
    if (settled?.event === 'rejected') {
      task.rejection = settled.code
      if (seen) {
        task.problem = `addTask rejected (${settled.code}: ${settled.message}), yet the task was stored` +
          ` (${task.runs.length} runs, ${task.doc ? 'its document left' : 'its document gone'})`
        task.outcome = 'refusedStored'
      }
      else task.notAdded = 'refused'
      continue
    }
    if (!settled) {
      if (!masterKilled) {
        task.outcome = anomaly(task, `addTask never settled, and its master (${sent.proc}) was not killed`)
        continue
      }
      if (!seen) {
        task.notAdded = 'addCut'
        continue
      }
      task.notes.push('its add was cut by a master SIGKILL after the task was stored')
    }
    task.outcome = kind === 'persistent' ? persistent(task, ctx) : inMemory(task, ctx, masterKilled)
  }
  // Tasks that nobody sent: a task stored or run under a key the harness never used.
  for (const [key, doc] of docOf) tasks.push(stray(key, { doc, runs: runs.get(key) ?? [] }))
  for (const [key, list] of runs) if (!docs.some((d) => d.data?.key === key)) tasks.push(stray(key, { doc: null, runs: list }))
  return { tasks, faults: faultSummary(harness, masterRecords, tasks, at), at }
}

/** A persistent task's outcome, from the collection (the truth) and its runs. */
function persistent (task, ctx) {
  const { doc, runs, events } = task
  const errors = events.filter((e) => e.event === 'error')
  if (events.filter((e) => e.event === 'done').length > 1) return anomaly(task, 'reported done more than once')
  if (doc !== null && doc.failed !== true) {
    return lost(task, `still in the collection after the drain (onGoing: ${doc.onGoing}, attempts: ${doc.attempts ?? 0})`)
  }
  if (doc !== null) {
    const error = errors.at(-1) ?? doc.lastError ?? {}
    return failed(task, ctx, { code: error.code ?? null, message: error.message })
  }
  if (errors.length > 0) return anomaly(task, `an error event (${errors[0].code}) but the task was deleted as done`)
  const finished = runs.filter((r) => r.end !== null)
  if (finished.length === 0) return lost(task, runs.length === 0 ? 'deleted from the collection but never run' : 'deleted from the collection but no run of it finished')
  return ranToEnd(task, ctx)
}

/** An in-memory task's outcome, from its master's events and its runs. */
function inMemory (task, ctx, masterKilled) {
  const { runs, events } = task
  const mine = events.filter((e) => e.proc === task.sent.proc)
  const done = mine.filter((e) => e.event === 'done')
  const errors = mine.filter((e) => e.event === 'error')
  if (mine.length !== events.length) return anomaly(task, 'an event from a master that was not given this in-memory task')
  if (mine.length === 0) {
    if (masterKilled) {
      task.stage = runs.length === 0 ? 'never started' : runs.at(-1).end === null ? 'running when their master died' : 'finished but unreported when their master died'
      return 'lostWithMaster'
    }
    return lost(task, `no done or error event from its master (${task.sent.proc}), which was not killed`)
  }
  if (mine.length > 1) return anomaly(task, `${done.length} done and ${errors.length} error events`)
  // Nothing runs an in-memory task again: a crash fails it or takes it away.
  if (runs.length > 1) return anomaly(task, `an in-memory task run ${runs.length} times`)
  if (errors.length > 0) return failed(task, ctx, errors[0])
  if (runs.filter((r) => r.end !== null).length === 0) return anomaly(task, 'a done event but no run of it finished')
  return ranToEnd(task, ctx)
}

/**
 * The runs of `task` before `final` (the run that decided its outcome),
 * each with the crash that cut it (in `task.cuts`); returns those that do
 * not explain a run after them, described.
 */
function earlierRuns (task, final, { at, cutBy, crashes }) {
  task.cuts = task.runs.filter((r) => r !== final).map((r) => ({ run: r, cut: cutBy(r) }))
  const unexplained = []
  for (const { run, cut } of task.cuts) {
    const where = `a run in worker ${run.proc} (master ${run.master}) from ${at(run.start)}`
    const master = crashes.masters.get(run.master)
    if (cut === null) {
      unexplained.push(`no crash cut ${where} ${run.end === null ? 'that never finished' : `that finished at ${at(run.end)}`}`)
    } else if (cut.fault === 'worker-sigkill' && !(master && master.t >= cut.t)) {
      // Without retries, a task whose worker was killed under it is failed,
      // not run again, unless its master died too before writing that down.
      unexplained.push(`${where} was cut by ${cut.how}, and its master lived on, yet it ran again`)
    }
  }
  return unexplained
}

/** A task that completed: exactly once, or again after a crash cut a run. */
function ranToEnd (task, ctx) {
  const { runs } = task
  // A done event carries the value of a run that finished in that worker.
  const misreported = task.events.find((e) => e.event === 'done' && !runs.some((r) => r.pid === e.ranIn && r.end !== null))
  if (misreported) return anomaly(task, `done with the value of worker ${misreported.ranIn}, where no run of it finished`)
  if (runs.length === 1) return 'once'
  // The run that completed it is the last one to finish; every other run
  // must have been cut by a crash.
  const uncut = earlierRuns(task, runs.filter((r) => r.end !== null).at(-1), ctx)
  if (uncut.length === 0) return 'twiceCut'
  task.problem = `run ${runs.length} times; ${uncut.join('; ')}`
  return 'twiceUncut'
}

/** A failed task: right only if a worker kill cut its last run (and crashes any run before). */
function failed (task, ctx, { code, message }) {
  const last = task.runs.at(-1)
  const cut = last ? ctx.cutBy(last) : null
  task.code = code
  // The error names the worker that died; it must be the one that ran it.
  const blamed = /\(pid (\d+)\)/.exec(message ?? '')?.[1]
  if (cut && blamed !== undefined && Number(blamed) !== last.pid) {
    task.problem = `failed, blamed on worker ${blamed}, but its last run was in worker ${last.pid}`
    return 'wronglyFailed'
  }
  if (cut && cut.fault === 'worker-sigkill' && code === 'ERR_WORKER_EXIT') {
    task.cut = cut
    if (last.end !== null) task.notes.push('the kill landed after its last line and before its reply')
    const uncut = earlierRuns(task, last, ctx)
    if (uncut.length === 0) return 'crashFailed'
    task.problem = `failed by a crash, but run ${task.runs.length} times; ${uncut.join('; ')}`
    return 'twiceUncut'
  }
  // No run at all: the journal line is a task's first statement, so a task
  // blamed without one was most likely never started (sent ahead, say).
  task.problem = `failed (${code ?? 'no code'}: ${message ?? ''}) ` +
    (last ? `in worker ${last.pid} (${cut ? cut.how : 'no crash cut its run'})` : 'but no run of it ever started')
  return 'wronglyFailed'
}

function lost (task, why) {
  task.problem = why
  return 'lost'
}

function anomaly (task, why) {
  task.problem = why
  return 'anomaly'
}

function stray (key, { doc, runs }) {
  return { key, kind: key.startsWith('m') ? 'inMemory' : 'persistent', runs, events: [], doc, notes: [], outcome: 'anomaly', problem: 'stored or run, but the harness never sent it' }
}

/** The database's outages: `[stopped, back]` in ms since the epoch. */
function outagesOf (harness) {
  const list = []
  let from = null
  for (const r of harness) {
    if (r.fault === 'db-sigkill' || r.fault === 'db-sigterm') from = r.t
    if (r.fault === 'db-restarted' && from !== null) {
      list.push([from, r.t])
      from = null
    }
  }
  if (from !== null) list.push([from, Infinity])
  return list
}

/** Each killed worker and master by `<pid>@<start>`, with its fault record. */
function crashIndex (harness) {
  const workers = new Map()
  const masters = new Map()
  for (const r of harness) {
    if (r.fault === 'worker-sigkill') workers.set(r.proc, r)
    // The worker had exited by itself: the kill reached no one.
    if (r.fault === 'worker-sigkill-missed') workers.delete(r.proc)
    if (r.fault === 'master-sigkill') masters.set(r.proc, r)
  }
  return { workers, masters }
}

/**
 * Each task's runs, in order: `{ proc, pid, master, start, end, last }`, where
 * `last` says it was the last run its worker started. A worker runs one task
 * at a time, so in its journal a start is followed by that task's end, if any.
 */
function runsByKey (runRecords) {
  const byKey = new Map()
  for (const records of groupBy(runRecords, (r) => r.proc).values()) {
    let open = null
    let last = null
    for (const r of records) {
      if (r.run === 'start') {
        open = { key: r.key, id: r.id, proc: r.proc, pid: r.pid, master: r.master, start: r.t, end: null, last: false }
        last = open
        if (!byKey.has(r.key)) byKey.set(r.key, [])
        byKey.get(r.key).push(open)
      } else if (open && open.key === r.key) {
        open.end = r.t
        open = null
      }
    }
    if (last) last.last = true
  }
  for (const list of byKey.values()) list.sort((a, b) => a.start - b.start)
  return byKey
}

/** The faults dealt, and how many tasks each kind cut. */
function faultSummary (harness, masterRecords, tasks, at) {
  const count = (kind) => harness.filter((r) => r.fault === kind).length
  const restarts = harness.filter((r) => r.fault === 'db-restarted')
  const outages = restarts.map((r) => r.outageMs)
  // How soon after each restart of the database the masters that lived
  // through it had written to it again (a persistent add acknowledged or
  // task done): the longest, per restart.
  const killedAt = new Map(harness.filter((r) => r.fault === 'master-sigkill').map((r) => [r.proc, r.t]))
  const persistentWrite = masterRecords.filter((r) => (r.event === 'added' || r.event === 'done') && r.key?.startsWith('p'))
  // A restart followed by another outage before a master wrote is left out.
  const isStop = (r) => r.fault === 'db-sigkill' || r.fault === 'db-sigterm'
  const backAfter = restarts.map((restart) => {
    const nextStop = harness.slice(harness.indexOf(restart)).find(isStop)?.t ?? Infinity
    const firsts = new Map()
    for (const r of masterRecords) if (r.event === 'up' && r.t < restart.t && (killedAt.get(r.proc) ?? Infinity) > restart.t) firsts.set(r.proc, null)
    for (const r of persistentWrite) {
      if (r.t >= restart.t && r.t < nextStop && firsts.get(r.proc) === null) firsts.set(r.proc, r.t - restart.t)
    }
    const known = [...firsts.values()].filter((ms) => ms !== null)
    return known.length === 0 ? null : Math.max(...known)
  }).filter((ms) => ms !== null)
  const cutsBy = (fault) => tasks.filter((t) => (t.cut?.fault === fault) || t.cuts?.some((c) => c.cut?.fault === fault)).length
  return {
    workerKills: count('worker-sigkill'),
    workerKillsMissed: count('worker-sigkill-missed'),
    masterKills: count('master-sigkill'),
    dbKills: count('db-sigkill'),
    dbTerms: count('db-sigterm'),
    outages,
    backAfter,
    tasksCutByWorkerKills: cutsBy('worker-sigkill'),
    tasksCutByMasterKills: cutsBy('master-sigkill'),
    timeline: harness.filter((r) => r.fault).map((r) => ({ ...r, when: at(r.t) }))
  }
}

function groupBy (list, keyOf) {
  const map = new Map()
  for (const item of list) {
    const key = keyOf(item)
    if (!map.has(key)) map.set(key, [])
    map.get(key).push(item)
  }
  return map
}
