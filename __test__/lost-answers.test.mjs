// A write whose answer never comes back (the database crashed, the network
// dropped) must not lose or double a task. Each case lets one command reach
// the database, then cuts the connection before its answer
// (scripts/chaos/repro/cut-answer.mjs, found by the chaos run).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../scripts/chaos/repro/cut-answer.mjs', import.meta.url))

function cut (...args) {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120000 })
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`)
  assert.match(result.stdout, /every task was added once, ran once and was removed/)
}

test('a claim applied but never answered: its tasks are not stranded (their lease is not renewed, another claim runs them)', () => {
  cut('claim')
})

test('an insert applied but never answered, the database crashing before the driver retries: addTask resolves, the task runs once', () => {
  cut('insert', '--crash')
})

test('a completion applied but never answered: the task is not run again', () => {
  cut('complete')
})
