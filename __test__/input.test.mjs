import { test } from 'node:test'
import assert from 'node:assert/strict'
import { run, reportsOf } from './helpers.mjs'

const expected = {
  'no argument': /its argument must be an object.*got undefined/,
  'missing taskType': /taskType must be a non-empty string, got undefined/,
  'numeric taskType': /taskType must be a non-empty string, got number 42/,
  'empty taskType': /taskType must be a non-empty string, got string ""/,
  'string data': /data must be an object.*got string "text"/,
  'null data': /data must be an object.*got null/,
  'fractional priority': /priority must be an integer, got number 1.5/,
  'string priority': /priority must be an integer, got string "3"/,
  'numeric _id': /_id must be a non-empty string or undefined, got number 7/,
  'string dueDate': /dueDate must be a valid Date, got string/,
  'invalid dueDate': /dueDate must be a valid Date, got Date/,
  'string inMemory': /inMemory must be a boolean, got string "yes"/,
  'function in data': /data\.fn is a function, which cannot be carried/,
  'symbol in data': /data\.s is a symbol, which cannot be carried/,
  'BigInt in data': /data\.n is a bigint, which cannot be carried/,
  'circular data': /data\.self is a circular reference/,
  'Map in data': /data\.m is a Map object, which cannot be carried/,
  'Set in data': /data\.list\[0\] is a Set object, which cannot be carried/,
  'class instance in data': /data\.p is a Point object, which cannot be carried.*EJSON knows no such type/,
  'Float64Array in data': /data\.f is a Float64Array object, which cannot be carried/,
  'unknown event type': /eventType must be "done", "error" or "retry", got string "finished"/,
  'non-function listener': /callback must be a function, got string "nope"/,
  'taskMap entry not a function': /taskMap\["B"\] must be a function, got string "not a function"/,
  'taskMap not an object': /taskMap must be an object/,
  'string prefetch': /prefetch must be a positive integer, got string "8"/,
  'string workerStartTimeout': /workerStartTimeout must be a positive integer \(ms\), got string "100"/,
  'numeric mongoUrl': /mongoUrl must be a mongodb:\/\/ URL, got number 5/,
  'empty collectionName': /collectionName must be a non-empty string, got string ""/,
  'string lease': /lease must be an integer number of ms, at least 100, got string "3000"/,
  'negative retry limit': /retry\.limit must be a whole number of retries \(0 or more\), got number -1/,
  'unknown retry backoff': /retry\.backoff must be "fixed" or "exponential", got string "linear"/,
  'zero timeout': /timeout must be a positive whole number of ms, got number 0/,
  'string timeout': /timeout must be a positive whole number of ms, got string "500"/,
  'retry option not an object': /retry must be an object \{ limit, delay, backoff \}, got number 3/,
  'string taskTimeout': /taskTimeout must be a positive whole number of ms, got string "500"/,
  'negative close timeout': /cluster\.close: timeout must be a whole number of ms, or nothing.*got number -1/
}

test('bad arguments throw a TypeError (code ERR_INVALID_ARG) at once, naming the field, what it got and what it expects; nothing is queued; options upstream lacked stay strict', async () => {
  const result = await run('bad-input.mjs')
  assert.equal(result.code, 0, result.stderr)
  const attempts = Object.fromEntries(reportsOf(result, 'attempt').map((a) => [a.label, a]))
  for (const [label, message] of Object.entries(expected)) {
    const attempt = attempts[label]
    assert.ok(attempt, `case ${label} did not run`)
    assert.equal(attempt.threw, true, `${label}: did not throw`)
    assert.equal(attempt.isTypeError, true, `${label}: threw ${attempt.name}, not a TypeError`)
    assert.match(attempt.message, message, label)
    assert.equal(attempt.code, 'ERR_INVALID_ARG', label)
  }
  assert.deepEqual(reportsOf(result, 'queued'), [{ kind: 'queued', tasks: 0 }])
})
