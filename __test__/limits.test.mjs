// Flow control, from the public API: limits per task type and groups,
// with real masters and workers. Each run records its function's start
// and end; overlaps, window counts and start order are computed from them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'
import { maxOverlap, maxInWindow } from './overlap.mjs'

const inMemory = (scenario) => run('limits.mjs', [scenario], { env: { MONGO_URL: '' }, timeout: 120000 })

/** The one report of `kind`, after a clean exit. */
function only (result, kind) {
  assert.equal(result.code, 0, `${result.name} exited ${result.code}:\n${result.stderr}`)
  const reports = reportsOf(result, kind)
  assert.equal(reports.length, 1, result.stdout)
  return reports[0]
}

test('concurrency (in memory): a limited type never runs more than its limit at once, and the other types keep the workers busy', async () => {
  const { runs } = only(await inMemory('concurrency'), 'runs')
  const work = runs.filter((r) => r.type === 'WORK')
  const other = runs.filter((r) => r.type === 'OTHER')
  assert.equal(work.length, 6)
  assert.equal(maxOverlap(work), 1, 'WORK ran one at a time')
  assert.equal(maxOverlap(runs), 2, 'while WORK waited, OTHER ran beside it')
  assert.ok(other.some((o) => work.some((w) => o.s < w.e && w.s < o.e)), 'OTHER ran during a WORK run')
})

test('rate (in memory): no window of `per` ms sees more than `max` starts', async () => {
  const { runs } = only(await inMemory('rate'), 'runs')
  assert.equal(runs.length, 9)
  assert.ok(maxInWindow(runs, 300) <= 3, `starts: ${runs.map((r) => r.s).sort()}`)
})

test('rate (in memory): a run that reaches a busy worker too late to start in its window is handed back and runs later, so actual starts keep the rate', async () => {
  const { runs, blocker } = only(await inMemory('lateStart'), 'runs')
  assert.equal(runs.length, 4, 'nothing lost')
  const starts = runs.map((r) => r.s).sort()
  assert.ok(maxInWindow(runs, 1000) <= 2, `starts: ${starts}`)
  assert.ok(runs.some((r) => r.pid === blocker.pid), 'the held worker ran one once free')
})

test('groups (in memory): 10 tasks of a group added behind 300 of another start within the next two dozen, taking turns', async () => {
  const { runs, endedBefore } = only(await inMemory('fairness'), 'runs')
  assert.equal(runs.length, 310)
  // One worker: the order of done values is the order of starts.
  const firstB = runs.findIndex((r) => r.tag.startsWith('b'))
  const lastB = runs.findLastIndex((r) => r.tag.startsWith('b'))
  assert.ok(firstB > 0, 'the backlog had started')
  assert.ok(lastB - firstB < 24, `b's runs span ${lastB - firstB + 1} starts from the ${firstB + 1}th`)
  // Behind at most the run going on and the two of A sent ahead (a
  // grouped type goes 2 deep), and one more that may end meanwhile.
  assert.ok(firstB <= endedBefore + 4, `b started ${firstB + 1}th, ${endedBefore} had ended when it was added`)
  assert.deepEqual(runs.filter((r) => r.tag.startsWith('a')).map((r) => r.tag), Array.from({ length: 300 }, (_, i) => `a${i}`), 'a group keeps its own order')
  assert.ok(runs.every((r) => r.group === (r.tag.startsWith('a') ? 'tenant-a' : 'tenant-b')), 'job.group is the task\'s group')
})

test('perGroup (in memory): each group runs one at a time, and the groups side by side', async () => {
  const { runs } = only(await inMemory('perGroup'), 'runs')
  assert.equal(maxOverlap(runs.filter((r) => r.group === 'a')), 1)
  assert.equal(maxOverlap(runs.filter((r) => r.group === 'b')), 1)
  assert.equal(maxOverlap(runs), 2, 'the two groups overlapped')
})

test('setLimits (in memory): a limit set at run time holds from the next start, and null clears it', async () => {
  const { limited, free } = only(await inMemory('setLimits'), 'runs')
  assert.equal(maxOverlap(limited), 1)
  assert.equal(maxOverlap(free), 2, 'cleared: both workers run')
})
