import { test } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'

test('200 in-memory tasks on one worker run by due date, then priority, then insertion', async () => {
  const result = await run('order.mjs')
  assert.equal(result.code, 0, result.stderr)
  const [{ tasks }] = reportsOf(result, 'queued')
  const ran = reportsOf(result, 'ran')
  assert.equal(ran.length, 200, `expected 200 done events, got ${ran.length}\n${result.stderr}`)

  const rank = (a, b) => b.priority - a.priority || a.i - b.i
  const now = tasks.filter((t) => t.i % 3 !== 0).sort(rank)
  const later = tasks.filter((t) => t.i % 3 === 0).sort(rank)
  assert.deepEqual(ran.map((r) => r.i), [...now, ...later].map((t) => t.i))

  for (const r of ran) {
    const task = tasks[r.i]
    assert.ok(r.startedAt >= task.due, `task ${r.i} started ${task.due - r.startedAt} ms before its dueDate`)
  }
})
