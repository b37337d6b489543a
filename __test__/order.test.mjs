import { test } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'

test('200 in-memory tasks on one worker run by due date, then priority, then insertion', async () => {
  const result = await run('order.mjs')
  assert.equal(result.code, 0, result.stderr)
  const [{ tasks }] = reportsOf(result, 'queued')
  const ran = reportsOf(result, 'ran')
  assert.equal(ran.length, 200, `expected 200 done events, got ${ran.length}\n${result.stderr}`)
  assert.doesNotMatch(result.stdout, /nschwarz:cluster:STEP:/, "logs: 'error' hides the task lines")

  // Within each group (all due from the start; all due at the same later
  // time) tasks run by priority, then insertion. How the two groups meet
  // depends on the machine's speed, so only their own orders are compared.
  const rank = (a, b) => b.priority - a.priority || a.i - b.i
  const isLater = (i) => i % 3 === 0
  for (const later of [false, true]) {
    const expected = tasks.filter((t) => isLater(t.i) === later).sort(rank).map((t) => t.i)
    assert.deepEqual(ran.map((r) => r.i).filter((i) => isLater(i) === later), expected)
  }

  for (const r of ran) {
    const task = tasks[r.i]
    assert.ok(r.startedAt >= task.due, `task ${r.i} started ${task.due - r.startedAt} ms before its dueDate`)
  }
})
