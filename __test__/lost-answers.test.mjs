// A write whose answer never comes back (the database crashed, the network
// dropped) must not lose or double a task. Each case lets one command reach
// the database, then cuts the connection before its answer
// (scripts/chaos/repro/cut-answer.mjs, found by the chaos run). The script
// prints one line per task; each test checks every line here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../scripts/chaos/repro/cut-answer.mjs', import.meta.url))
const TASKS = 8

/** Runs one case; the script's line for each of its tasks, by task number. */
function cut (...args) {
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 120000 })
  const output = `${result.stdout}\n${result.stderr}`
  assert.match(result.stdout, new RegExp(`^${args[0]}: the answer to the master's \\w+ was cut after the database applied it$`, 'm'),
    `the cut happened:\n${output}`)
  const tasks = [...result.stdout.matchAll(/^ {2}(?:ok |BAD) task (\d+): (.*)$/gm)].map((m) => [Number(m[1]), m[2]])
  assert.deepEqual(tasks.map(([n]) => n), [...Array(TASKS).keys()], `a line for each task:\n${output}`)
  assert.equal(result.status, 0, output)
  return tasks
}

/** Every task: its add answered, run once, done once, and removed from the collection. */
function everyTaskRanOnce (tasks) {
  for (const [n, line] of tasks) {
    assert.equal(line, 'added, ran 1×, events [done], gone from the collection', `task ${n}`)
  }
}

test('a claim applied but never answered: its tasks are not stranded (their lease is not renewed, another claim runs them)', () => {
  everyTaskRanOnce(cut('claim'))
})

test('an insert applied but never answered, the database crashing before the driver retries: addTask resolves, the task runs once', () => {
  everyTaskRanOnce(cut('insert', '--crash'))
})

test('a completion applied but never answered: the task is not run again', () => {
  everyTaskRanOnce(cut('complete'))
})
