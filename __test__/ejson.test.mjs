// Issue 13 from the public API: EJSON values through a task, its done event
// and IPC; BSON types in documents the plain driver wrote; what we store;
// and a document that cannot be read, beside valid ones.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Binary, BSONRegExp, BSONSymbol, Decimal128, Double, Int32, Long, ObjectId } from 'mongodb'
import { run, reportsOf } from './helpers.mjs'
import { setup, teardown, freshUrl, withDb } from './mongo.mjs'

before(setup)
after(teardown)

const OID = '5f1d7a2b9c8e4d3a2b1c0d9e'

/** What `kinds()` in fixtures/ejson.mjs makes of `everyType()` once carried. */
const everyTypeKinds = {
  when: 'Date 86400000',
  bytes: 'Uint8Array 1,2,3',
  buffer: 'Uint8Array 4,5',
  nan: 'number NaN',
  inf: 'number Infinity',
  negInf: 'number -Infinity',
  re: 'RegExp /a+b/i',
  id: `ObjectId ${OID}`,
  decimal: 'Decimal128 Decimal 12.50',
  nested: [{ at: 'Date 0' }]
}

test('every EJSON type keeps its type through a task, its done event and an IPC round trip', async () => {
  const result = await run('ejson.mjs', ['memory'])
  assert.equal(result.code, 0, result.stderr)
  const expected = { ...everyTypeKinds, lookAlike: { $date: 'not a date' } }
  const [done] = reportsOf(result, 'done')
  assert.ok(done, `no done event\n${result.stderr}`)
  assert.deepEqual(done.inWorker, expected, 'the task function sees every type')
  assert.deepEqual(reportsOf(result, 'ipc')[0].data, expected, 'the messageBroker gets every type')
  assert.deepEqual(done.viaIPC, expected, 'the IPC reply reaches the task with every type')
  assert.deepEqual(done.inDone, expected, 'the done event\'s value has every type')
  assert.deepEqual(done.taskData, expected, 'the done event\'s task has every type')
})

const now = Date.now()
const task = (_id, taskType, data) => ({
  _id, taskType, priority: 1, data, createdAt: new Date(now - 5000), onGoing: false, dueDate: new Date(now - 5000)
})

/** Every BSON type the plain driver writes that has an EJSON form. */
const bsonData = () => ({
  oid: new ObjectId(OID),
  bin: new Binary(Buffer.from([1, 2, 3])),
  uuid: new Binary(Buffer.alloc(16, 0xab), Binary.SUBTYPE_UUID),
  re: new BSONRegExp('x.y', 'ims'),
  dec: Decimal128.fromString('1.5'),
  nan: NaN,
  inf: -Infinity,
  long: Long.fromNumber(2 ** 40),
  int: new Int32(5),
  double: new Double(2.5),
  date: new Date(5),
  sym: new BSONSymbol('s'),
  nothing: null,
  meteorCustom: { EJSON$type: 'Distance', EJSON$value: { EJSONm: 3, EJSONparts: [{ EJSONkm: 1 }] } },
  dateTag: { $date: new Date(7) },
  other: { $foo: 1 }
})

const bsonKinds = {
  oid: `ObjectId ${OID}`,
  bin: 'Uint8Array 1,2,3',
  uuid: `Uint8Array ${Array(16).fill(0xab).join(',')}`,
  re: 'RegExp /x.y/ims',
  dec: 'Decimal128 Decimal 1.5',
  nan: 'number NaN',
  inf: 'number -Infinity',
  long: 2 ** 40,
  int: 5,
  double: 2.5,
  date: 'Date 5',
  sym: 's',
  nothing: null,
  meteorCustom: { $type: 'Distance', $value: { m: 3, parts: [{ km: 1 }] } },
  dateTag: 'Date 7',
  other: { $foo: 1 }
}

async function storedScenario () {
  const url = freshUrl()
  await withDb(url, (db) => db.collection('taskQueue').insertMany([
    task('valid00000000001', 'READ', { n: 1 }),
    task('bsonTypes0000001', 'READ', bsonData()),
    task('undecodable00001', 'READ', { nested: { $date: 'not a date' } }),
    task('valid00000000002', 'READ', { n: 2 }),
    task('valid00000000003', 'READ', { n: 3 }),
    task('parked0000000001', 'PARKED', bsonData())
  ]))
  const result = await run('ejson.mjs', ['stored'], { timeout: 60000, env: { MONGO_URL: url } })
  return { url, result }
}

let stored = null
const storedOnce = () => (stored = stored || storedScenario())

test('documents the plain driver wrote reach tasks with their BSON types as Meteor maps them', async () => {
  const { result } = await storedOnce()
  assert.equal(result.code, 0, result.stderr)
  const done = Object.fromEntries(reportsOf(result, 'done').map((e) => [e.task._id, e]))
  assert.deepEqual(done.bsonTypes0000001.value.data, bsonKinds)
  assert.deepEqual(done.bsonTypes0000001.task.data, bsonKinds, 'the done event\'s task too')
  const [calls] = reportsOf(result, 'calls')
  assert.equal(calls.parked.ok, true, calls.parked.message)
  assert.deepEqual(calls.parked.value.data, bsonKinds, 'findOne reads the same types')
})

test('a document that cannot be read fails alone: the others in its batch run, it is failed with a code and not claimed again', async () => {
  const { url, result } = await storedOnce()
  assert.equal(result.code, 0, result.stderr)
  const done = reportsOf(result, 'done').map((e) => e.task._id).sort()
  assert.deepEqual(done, ['afterTheFailure1', 'bsonTypes0000001', 'valid00000000001', 'valid00000000002', 'valid00000000003'],
    'the readable documents ran, and the task added after the failure')
  const [calls] = reportsOf(result, 'calls')
  assert.deepEqual(calls.settled.filter((e) => e.endsWith('undecodable00001')), ['error undecodable00001'],
    'the unreadable one failed once and did not run again, though a task below it in priority was claimed after it')
  assert.doesNotMatch(result.stderr, /unavailable|reachable again/, 'a decoding problem is not a database outage')
  await withDb(url, async (db) => {
    const bad = await db.collection('taskQueue').findOne({ _id: 'undecodable00001' })
    assert.equal(bad.failed, true)
    assert.equal(bad.onGoing, false)
    assert.equal(bad.lease, undefined)
    assert.equal(bad.attempts, 1, 'it was claimed once, never again')
    assert.equal(bad.lastError.code, 'ERR_UNDECODABLE_DOCUMENT')
    assert.equal(bad.lastError.name, 'UndecodableDocumentError')
    assert.match(bad.lastError.message, /_id "undecodable00001" cannot be read: data\.nested\.\$date: \$date must be/)
    assert.ok(bad.lastError.at instanceof Date)
  })
  assert.equal(calls.all.ok, false, 'find() meets the unreadable document')
  assert.match(calls.all.message, /_id "undecodable00001" cannot be read: data\.nested\.\$date/)
  assert.doesNotMatch(calls.all.message, /unavailable/)
  assert.equal(calls.count.value, 2, 'count() still works: the parked and the failed document')
})

test('a document that cannot be read ends with an error event whose code says why', async () => {
  const { result } = await storedOnce()
  const errors = reportsOf(result, 'error')
  assert.equal(errors.length, 1)
  assert.equal(errors[0].task._id, 'undecodable00001')
  assert.equal(errors[0].value.code, 'ERR_UNDECODABLE_DOCUMENT')
  assert.equal(errors[0].value.name, 'UndecodableDocumentError')
  assert.match(errors[0].value.message, /data\.nested\.\$date/)
})

test('what we store is the BSON Meteor stores, and reads back with every type; look-alike keys are refused', async () => {
  const url = freshUrl()
  const result = await run('ejson.mjs', ['ours'], { timeout: 60000, env: { MONGO_URL: url } })
  assert.equal(result.code, 0, result.stderr)
  const [ours] = reportsOf(result, 'ours')
  const [done] = reportsOf(result, 'done')
  assert.deepEqual(done.value.data, everyTypeKinds, 'a persistent task sees every type')
  assert.equal(ours.found.ok, true, ours.found.message)
  assert.deepEqual(ours.found.value.data, everyTypeKinds, 'findOne reads every type')
  assert.equal(ours.lookAlike.ok, false, 'an object MongoDB would give back as a tag is refused')
  assert.match(ours.lookAlike.message, /data\.lookAlike/)
  await withDb(url, async (db) => {
    const { data } = await db.collection('taskQueue').findOne({ _id: ours.parked }, { promoteValues: true })
    assert.ok(data.when instanceof Date)
    assert.ok(data.bytes instanceof Binary && data.bytes.sub_type === 0)
    assert.deepEqual([...data.buffer.buffer], [4, 5])
    assert.ok(Number.isNaN(data.nan))
    assert.equal(data.negInf, -Infinity)
    assert.ok(data.re instanceof RegExp && data.re.source === 'a+b' && data.re.flags === 'i')
    assert.ok(data.id instanceof ObjectId && data.id.toHexString() === OID)
    assert.ok(data.decimal instanceof Decimal128 && data.decimal.toString() === '12.50')
    assert.ok(data.nested[0].at instanceof Date)
  })
})
