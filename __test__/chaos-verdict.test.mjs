// The chaos run's verdict (scripts/chaos/verdict.mjs) on journals written by
// hand: each outcome, and the crashes that do and do not excuse a second run
// or a failure. Pure: no process, no database.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { judge } from '../scripts/chaos/verdict.mjs'

const T0 = 1_000_000
const A = 'M1@1'
const A2 = 'M3@3'
const B = 'M2@2'

/** A small world: tasks sent, what masters and workers recorded, faults. */
function world () {
  const harness = [{ t: T0, start: true }]
  const masterRecords = []
  const runRecords = []
  const docs = []
  const w = {
    harness,
    masterRecords,
    runRecords,
    docs,
    send (key, proc, { inMemory = key.startsWith('m'), t = T0 + 10, settle = 'added' } = {}) {
      harness.push({ t, sent: key, master: proc[1], proc, inMemory })
      masterRecords.push({ t: t + 1, proc, master: proc[1], event: 'intent', key, inMemory })
      if (settle === 'added') masterRecords.push({ t: t + 2, proc, event: 'added', key, id: `id-${key}` })
      if (settle === 'rejected') masterRecords.push({ t: t + 2, proc, event: 'rejected', key, code: 'ERR_DUPLICATE_ID', message: 'dup' })
      return w
    },
    run (key, worker, master, start, end = null) {
      const pid = Number(worker.split('@')[0])
      runRecords.push({ t: start, run: 'start', key, proc: worker, pid, master })
      if (end !== null) runRecords.push({ t: end, run: 'end', key, proc: worker, pid, master })
      return w
    },
    done (key, proc, ranIn, t) {
      masterRecords.push({ t, proc, event: 'done', key, ranIn })
      return w
    },
    error (key, proc, pid, t) {
      masterRecords.push({ t, proc, event: 'error', key, code: 'ERR_WORKER_EXIT', message: `worker 1 (pid ${pid}) was killed by SIGKILL while running task T:x` })
      return w
    },
    killWorker (worker, t) {
      harness.push({ t, fault: 'worker-sigkill', proc: worker, pid: Number(worker.split('@')[0]) })
      return w
    },
    killMaster (proc, t) {
      harness.push({ t, fault: 'master-sigkill', master: proc[1], proc })
      return w
    },
    doc (key, fields) {
      docs.push({ _id: `id-${key}`, data: { key }, ...fields })
      return w
    },
    task (key) {
      return judge({ harness, masterRecords, runRecords, docs, t0: T0 }).tasks.find((t) => t.key === key)
    },
    outcome (key) {
      return w.task(key).outcome
    }
  }
  return w
}

test('a task run once and reported done once completed exactly once', () => {
  const w = world().send('p1', A).run('p1', '11@1', A, T0 + 20, T0 + 30).done('p1', A, 11, T0 + 31)
  assert.equal(w.outcome('p1'), 'once')
  w.send('m1', B).run('m1', '21@1', B, T0 + 20, T0 + 25).done('m1', B, 21, T0 + 26)
  assert.equal(w.outcome('m1'), 'once')
})

test('a second run after the master running the first was killed is excused', () => {
  const w = world().send('p1', A)
    .run('p1', '11@1', A, T0 + 20).killMaster(A, T0 + 40)
    .run('p1', '31@1', B, T0 + 20000, T0 + 20010).done('p1', B, 31, T0 + 20011)
  assert.equal(w.outcome('p1'), 'twiceCut')
})

test('a run its worker started just after its master was killed was cut by that kill', () => {
  const w = world().send('p1', A)
    .killMaster(A, T0 + 40).run('p1', '11@1', A, T0 + 42)
    .run('p1', '31@1', B, T0 + 20000, T0 + 20010)
  assert.equal(w.outcome('p1'), 'twiceCut')
})

test('a second run that no crash explains is caught', () => {
  const w = world().send('p1', A)
    .run('p1', '11@1', A, T0 + 20, T0 + 30)
    .run('p1', '31@1', B, T0 + 50, T0 + 60).done('p1', B, 31, T0 + 61)
  assert.equal(w.outcome('p1'), 'twiceUncut')
})

test('a finished run left unwritten for seconds, the database up, does not excuse a second run', () => {
  const w = world().send('p1', A)
    .run('p1', '11@1', A, T0 + 20, T0 + 30).killMaster(A, T0 + 10000)
    .run('p1', '31@1', B, T0 + 30000, T0 + 30010)
  assert.equal(w.outcome('p1'), 'twiceUncut')
  w.harness.push({ t: T0 + 100, fault: 'db-sigkill' }, { t: T0 + 9000, fault: 'db-restarted', outageMs: 8900 })
  assert.equal(w.outcome('p1'), 'twiceCut')
})

test('a run cut by its worker\'s kill must fail, not run again, while its master lives', () => {
  const w = world().send('p1', A)
    .run('p1', '11@1', A, T0 + 20).killWorker('11@1', T0 + 25)
    .run('p1', '12@1', A, T0 + 50, T0 + 60).done('p1', A, 12, T0 + 61)
  assert.equal(w.outcome('p1'), 'twiceUncut')
})

test('a failure naming the killed worker that ran the task is a failure by a crash', () => {
  const w = world().send('m1', A).run('m1', '11@1', A, T0 + 20).killWorker('11@1', T0 + 25).error('m1', A, 11, T0 + 26)
  assert.equal(w.outcome('m1'), 'crashFailed')
  w.send('p2', A).run('p2', '12@1', A, T0 + 20).killWorker('12@1', T0 + 25).doc('p2', { failed: true, lastError: { code: 'ERR_WORKER_EXIT', message: 'worker 2 (pid 12) was killed' } })
  assert.equal(w.outcome('p2'), 'crashFailed')
})

test('a failure of a task whose worker was not killed, or that had finished there before, is wrong', () => {
  const w = world().send('m1', A).run('m1', '11@1', A, T0 + 20).error('m1', A, 11, T0 + 26)
  assert.equal(w.outcome('m1'), 'wronglyFailed')
  // The issue-8 shape: a task finished, the next one killed the worker, the finished one is blamed.
  w.send('m2', A).send('m3', A)
    .run('m2', '12@1', A, T0 + 20, T0 + 21).run('m3', '12@1', A, T0 + 22)
    .killWorker('12@1', T0 + 25).error('m2', A, 12, T0 + 26).error('m3', A, 12, T0 + 26)
  assert.equal(w.outcome('m2'), 'wronglyFailed')
  assert.equal(w.outcome('m3'), 'crashFailed')
  // Blamed without ever having started (a task sent ahead).
  w.send('m4', A).killWorker('13@1', T0 + 25).error('m4', A, 13, T0 + 26)
  assert.equal(w.outcome('m4'), 'wronglyFailed')
})

test('in-memory tasks of a killed master are lost with it; of a live master, lost', () => {
  const w = world().send('m1', A).killMaster(A, T0 + 100)
  assert.equal(w.outcome('m1'), 'lostWithMaster')
  w.send('m2', B)
  assert.equal(w.outcome('m2'), 'lost')
})

test('a persistent task left in the collection unfailed is lost; a restarted master may finish it', () => {
  const w = world().send('p1', A).killMaster(A, T0 + 100).doc('p1', { onGoing: true })
  assert.equal(w.outcome('p1'), 'lost')
  const v = world().send('p2', A).killMaster(A, T0 + 100).run('p2', '41@1', A2, T0 + 20000, T0 + 20010)
  assert.equal(v.outcome('p2'), 'once')
})

test('an add that rejected but whose task was stored is its own failure; one cut by a kill is not an add', () => {
  const w = world().send('p1', A, { settle: 'rejected' }).run('p1', '11@1', A, T0 + 20, T0 + 30)
  assert.equal(w.outcome('p1'), 'refusedStored')
  const v = world().send('p2', A, { settle: null }).killMaster(A, T0 + 15)
  assert.equal(v.outcome('p2'), undefined)
  assert.equal(v.task('p2').notAdded, 'addCut')
})

test('an in-memory task run twice is an anomaly whatever cut it', () => {
  const w = world().send('m1', A)
    .run('m1', '11@1', A, T0 + 20).killWorker('11@1', T0 + 25)
    .run('m1', '12@1', A, T0 + 50, T0 + 60).done('m1', A, 12, T0 + 61)
  assert.equal(w.outcome('m1'), 'anomaly')
})
