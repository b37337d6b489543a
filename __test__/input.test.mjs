// Bad arguments to the public API, each tried in this test process:
// argument checks are plain JS and throw before anything reaches the
// native dispatcher. Every refusal is a TypeError with code
// ERR_INVALID_ARG, thrown at once (not a rejected promise), whose message
// names the field, the type (and value) it got and what it expects. The
// options upstream lacked are strict; upstream's own options are lenient
// (warned about, never thrown: options.test.mjs).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster, TaskQueue } from '../index.js'

/** What `attempt()` threw at once; fails when it returned instead (a rejected promise is not "at once"). */
function thrownBy (attempt) {
  let returned
  try {
    returned = attempt()
  } catch (error) {
    return error
  }
  if (returned && typeof returned.then === 'function') returned.then(undefined, () => {})
  assert.fail(`did not throw; returned ${returned && typeof returned.then === 'function' ? 'a promise' : String(returned)}`)
}

/**
 * One test: `attempt` throws a TypeError (ERR_INVALID_ARG) whose message
 * matches `message`. An in-memory `addTask` refused must leave the
 * in-memory queue empty (`queuesNothing`): an add is buffered before the
 * dispatcher sees it, and `inMemory.tasks()` hands the buffer over first.
 */
function refused (name, attempt, message, { queuesNothing = false } = {}) {
  test(name, () => {
    const error = thrownBy(attempt)
    assert.ok(error instanceof TypeError, `threw ${error && error.name}, not a TypeError: ${error && error.message}`)
    assert.match(error.message, message)
    assert.equal(error.code, 'ERR_INVALID_ARG')
    if (queuesNothing) assert.deepEqual(TaskQueue.inMemory.tasks(), [], 'nothing was queued')
  })
}

/** A valid in-memory task, for one field to be spoiled. */
const good = { taskType: 'T', data: {}, inMemory: true }
const addTask = (name, args, message) => refused(name, () => TaskQueue.addTask(args), message, { queuesNothing: true })

// addTask's own fields.
addTask('addTask() without an argument is refused: it must be an object', undefined,
  /its argument must be an object.*got undefined/)
addTask('addTask without a taskType is refused', { data: {}, inMemory: true },
  /taskType must be a non-empty string, got undefined/)
addTask('addTask with a numeric taskType is refused, showing the number', { ...good, taskType: 42 },
  /taskType must be a non-empty string, got number 42/)
addTask('addTask with an empty taskType is refused', { ...good, taskType: '' },
  /taskType must be a non-empty string, got string ""/)
addTask('addTask with string data is refused: data must be an object', { ...good, data: 'text' },
  /data must be an object.*got string "text"/)
addTask('addTask with null data is refused', { ...good, data: null },
  /data must be an object.*got null/)
addTask('addTask with a fractional priority is refused: priority must be an integer', { ...good, priority: 1.5 },
  /priority must be an integer, got number 1.5/)
addTask('addTask with a numeric string as priority is refused, not converted', { ...good, priority: '3' },
  /priority must be an integer, got string "3"/)
addTask('addTask with a numeric _id is refused: _id must be a non-empty string', { ...good, _id: 7 },
  /_id must be a non-empty string or undefined, got number 7/)
addTask('addTask with a string dueDate is refused: dueDate must be a Date', { ...good, dueDate: '2024-01-01' },
  /dueDate must be a valid Date, got string/)
addTask('addTask with an invalid Date as dueDate is refused', { ...good, dueDate: new Date('nope') },
  /dueDate must be a valid Date, got Date/)
addTask('addTask with inMemory "yes" is refused: inMemory must be a boolean', { ...good, inMemory: 'yes' },
  /inMemory must be a boolean, got string "yes"/)

// Data a worker could not be sent: each refusal names the value's path and what it is.
const circular = { a: 1 }
circular.self = circular
addTask('addTask with a function in its data is refused, naming data.fn', { ...good, data: { fn: () => 1 } },
  /data\.fn is a function, which cannot be carried/)
addTask('addTask with a symbol in its data is refused, naming data.s', { ...good, data: { s: Symbol('x') } },
  /data\.s is a symbol, which cannot be carried/)
addTask('addTask with a BigInt in its data is refused, naming data.n', { ...good, data: { n: 10n } },
  /data\.n is a bigint, which cannot be carried/)
addTask('addTask with circular data is refused, naming where the cycle closes', { ...good, data: circular },
  /data\.self is a circular reference/)
addTask('addTask with a Map in its data is refused, naming data.m', { ...good, data: { m: new Map() } },
  /data\.m is a Map object, which cannot be carried/)
addTask('addTask with a Set inside an array in its data is refused, naming data.list[0]', { ...good, data: { list: [new Set()] } },
  /data\.list\[0\] is a Set object, which cannot be carried/)
addTask('addTask with a class instance in its data is refused, naming the class and saying EJSON does not know it',
  { ...good, data: { p: new (class Point {})() } },
  /data\.p is a Point object, which cannot be carried.*EJSON knows no such type/)
addTask('addTask with a Float64Array in its data is refused, naming data.f', { ...good, data: { f: new Float64Array(1) } },
  /data\.f is a Float64Array object, which cannot be carried/)

// A task's retry and timeout policy.
addTask('addTask with a negative retry.limit is refused', { ...good, retry: { limit: -1 } },
  /retry\.limit must be a whole number of retries \(0 or more\), got number -1/)
addTask('addTask with an unknown retry.backoff is refused, listing the two kinds', { ...good, retry: { limit: 2, backoff: 'linear' } },
  /retry\.backoff must be "fixed" or "exponential", got string "linear"/)
addTask('addTask with a timeout of 0 is refused: it must be positive', { ...good, timeout: 0 },
  /timeout must be a positive whole number of ms, got number 0/)
addTask('addTask with a numeric string as timeout is refused, not converted', { ...good, timeout: '500' },
  /timeout must be a positive whole number of ms, got string "500"/)

// addTasks checks every entry before it queues any.
refused('addTasks of something other than an array is refused', () => TaskQueue.addTasks({ ...good }),
  /TaskQueue\.addTasks: tasks must be an array of tasks, got object/, { queuesNothing: true })
refused('addTasks with one bad entry is refused naming its index, and queues none of the good ones',
  () => TaskQueue.addTasks([{ ...good }, { ...good, priority: 'high' }, { ...good }]),
  /TaskQueue\.addTasks: tasks\[1\]\.priority must be an integer, got string "high"/, { queuesNothing: true })

// Listeners.
refused('addEventListener with an unknown event type is refused, listing the four types',
  () => TaskQueue.addEventListener('finished', () => {}),
  /eventType must be "done", "error", "retry" or "progress", got string "finished"/)
refused('addEventListener with a listener that is not a function is refused',
  () => TaskQueue.addEventListener('done', 'nope'),
  /callback must be a function, got string "nope"/)
refused('removeEventListener with an unknown event type is refused',
  () => TaskQueue.removeEventListener('finished'),
  /TaskQueue\.removeEventListener: eventType must be "done", "error", "retry" or "progress", got string "finished"/)

// new Cluster: the taskMap, and the options upstream lacked (strict).
refused('new Cluster with a taskMap entry that is not a function is refused, naming the entry',
  () => new Cluster({ A: () => 1, B: 'not a function' }, { autoInitialize: false }),
  /taskMap\["B"\] must be a function, got string "not a function"/)
refused('new Cluster(null) is refused: taskMap must be an object', () => new Cluster(null),
  /taskMap must be an object/)
refused('new Cluster with prefetch "8" is refused, not converted', () => new Cluster({}, { prefetch: '8', autoInitialize: false }),
  /prefetch must be a positive integer, got string "8"/)
refused('new Cluster with workerStartTimeout "100" is refused, not converted',
  () => new Cluster({}, { workerStartTimeout: '100', autoInitialize: false }),
  /workerStartTimeout must be a positive integer \(ms\), got string "100"/)
refused('new Cluster with a numeric mongoUrl is refused: it must be a mongodb:// URL',
  () => new Cluster({}, { mongoUrl: 5, autoInitialize: false }),
  /mongoUrl must be a mongodb:\/\/ URL, got number 5/)
refused('new Cluster with an empty collectionName is refused', () => new Cluster({}, { collectionName: '', autoInitialize: false }),
  /collectionName must be a non-empty string, got string ""/)
refused('new Cluster with lease "3000" is refused, not converted', () => new Cluster({}, { lease: '3000', autoInitialize: false }),
  /lease must be an integer number of ms, at least 100, got string "3000"/)
refused('new Cluster with a number as its retry option is refused: retry must be { limit, delay, backoff }',
  () => new Cluster({}, { retry: 3, autoInitialize: false }),
  /retry must be an object \{ limit, delay, backoff \}, got number 3/)
refused('new Cluster with taskTimeout "500" is refused, not converted', () => new Cluster({}, { taskTimeout: '500', autoInitialize: false }),
  /taskTimeout must be a positive whole number of ms, got string "500"/)

// close: the one case that needs a Cluster (it configures the dispatcher, never initialized).
refused('cluster.close with a negative timeout is refused', () => new Cluster({}, { maxAvailableWorkers: 1, autoInitialize: false }).close({ timeout: -1 }),
  /cluster\.close: timeout must be a whole number of ms, or nothing.*got number -1/)

// Steering: TaskQueue.cancel and the options of recycling.
refused('cancel with neither an _id nor a selector is refused', () => TaskQueue.cancel(42), /TaskQueue\.cancel: idOrSelector must be a task's _id or a selector, got number 42/)
refused('cancel with an empty _id is refused', () => TaskQueue.cancel(''), /TaskQueue\.cancel: idOrSelector must be a task's _id or a selector, got string ""/)
refused('cancel with a reason that is not a string is refused', () => TaskQueue.cancel('id', { why: 1 }), /TaskQueue\.cancel: reason must be a string, or nothing, got object/)
refused('new Cluster with a negative cancelGrace is refused', () => new Cluster({}, { cancelGrace: -1 }), /new Cluster: cancelGrace must be a whole number of ms \(0 or more\), got number -1/)
refused('new Cluster with workerMaxTasks of 0 is refused', () => new Cluster({}, { workerMaxTasks: 0 }), /new Cluster: workerMaxTasks must be a positive whole number of runs, or nothing, got number 0/)
refused('new Cluster with a fractional workerMaxMemory is refused', () => new Cluster({}, { workerMaxMemory: 1.5 }), /new Cluster: workerMaxMemory must be a positive whole number of MiB, or nothing, got number 1.5/)
refused('new Cluster with workerExecArgv that is not an array of strings is refused', () => new Cluster({}, { workerExecArgv: '--inspect' }), /new Cluster: workerExecArgv must be an array of strings/)
refused('new Cluster with a workerEnv value that is not a string is refused', () => new Cluster({}, { workerEnv: { N: 1 } }), /new Cluster: workerEnv must be an object of strings/)

// Flow control: limits are strict (a typo would lift a limit), and a group is a string.
addTask('addTask with a numeric group is refused', { ...good, group: 42 },
  /TaskQueue\.addTask: group must be a string \(a tenant, a customer\.\.\.\), or nothing, got number 42/)
refused('setLimits without a taskType is refused', () => TaskQueue.setLimits('', { concurrency: 1 }),
  /TaskQueue\.setLimits: taskType must be a non-empty string, got string ""/)
refused('setLimits without limits is refused (null clears them)', () => TaskQueue.setLimits('T'),
  /TaskQueue\.setLimits: limits must be an object \{ concurrency, rate, perGroup \}, or null to clear them, got undefined/)
refused('setLimits with a concurrency of 0 is refused', () => TaskQueue.setLimits('T', { concurrency: 0 }),
  /TaskQueue\.setLimits: limits\.concurrency must be a positive whole number of runs at once, got number 0/)
refused('setLimits with a misspelt field is refused, naming the closest one', () => TaskQueue.setLimits('T', { concurency: 2 }),
  /TaskQueue\.setLimits: limits has no field "concurency" \(did you mean concurrency\?\)/)
refused('setLimits with a rate without its window is refused', () => TaskQueue.setLimits('T', { rate: { max: 10 } }),
  /TaskQueue\.setLimits: limits\.rate\.per must be a positive whole number of ms, got undefined/)
refused('setLimits with perGroup.perGroup is refused', () => TaskQueue.setLimits('T', { perGroup: { perGroup: {} } }),
  /TaskQueue\.setLimits: limits\.perGroup has no field "perGroup"; its fields are concurrency, rate/)
refused('new Cluster with limits of a type that are not an object is refused, naming the type', () => new Cluster({}, { limits: { T: 5 } }),
  /new Cluster: limits\["T"\] must be an object like \{ concurrency: 2, rate: \{ max: 10, per: 1000 \} \}, got number 5/)
refused('new Cluster with a fractional rate.max is refused', () => new Cluster({}, { limits: { T: { rate: { max: 1.5, per: 1000 } } } }),
  /new Cluster: limits\["T"\]\.rate\.max must be a positive whole number of starts, got number 1\.5/)
