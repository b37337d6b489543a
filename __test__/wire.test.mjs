// The wire protocol, both sides against each other: every shape that
// crosses JS <-> Rust or master <-> worker, built on one side (lib/wire.js,
// or the addon's src/wire/ through its debug-only `wireProbe`) and read on
// the other, for a table of samples. A shape that changes on one side only
// fails here, naming the sample.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('../lib/binding.js')
const wire = require('../lib/wire.js')
const { codes } = require('../lib/errors.js')
const { FrameReader, CHUNK_BYTES } = require('../lib/frame-reader.js')

const probe = (kind, input) => binding.wireProbe(kind, typeof input === 'string' ? input : JSON.stringify(input))

/** Tasks with what tends to break an encoding: escapes, unicode, big and negative numbers, dates far apart. */
const SAMPLES = [
  { _id: 'plain', taskType: 'T', priority: 1, createdAt: 1700000000000, dueDate: 1700000000000, data: {} },
  { _id: 'q"uote\\back', taskType: 'type "with" quotes', priority: -5, createdAt: 1, dueDate: 2, data: { s: 'a"b\\c\n' } },
  { _id: 'ünïcødé-🚀', taskType: 'Ţÿpé', priority: 9007199254740991, createdAt: 1700000000123, dueDate: 1800000000456, data: { emoji: '🚀', nested: [1, [2, { x: null }]] } },
  { _id: 'due-before-created', taskType: 'T', priority: 0, createdAt: 1700000000000, dueDate: 1600000000000, data: { at: { $date: 5 }, bin: { $binary: 'AAEC' } } },
  { _id: 'z', taskType: 'x', priority: -9007199254740991, createdAt: 0, dueDate: 0, data: { big: 1.5e300, neg: -0.25, t: true, f: false } }
]

const taskOf = (s) => ({ ...s, createdAt: new Date(s.createdAt), dueDate: new Date(s.dueDate) })

/**
 * The frames in `bytes` as the worker's reader gets them, when the socket
 * hands them over in reads of the `sizes` given (the last one repeated).
 */
function readFrames (bytes, sizes) {
  const frames = []
  const reader = new FrameReader((kind, buffer, start, end) => {
    if (kind === wire.FRAME.BYTES) frames.push(new Uint8Array(buffer.subarray(start, end)))
    else frames.push(`${kind === wire.FRAME.TEXT ? 'text:' : ''}${buffer.toString('utf8', start, end)}`)
  })
  let at = 0
  for (let i = 0; at < bytes.length; i++) {
    const into = reader.next()
    const n = Math.min(into.length, sizes[Math.min(i, sizes.length - 1)], bytes.length - at)
    bytes.copy(into, 0, at, at + n)
    reader.onRead(n, into)
    at += n
  }
  return frames
}

test('both sides name the same row fields, request operations, error codes and frame limit', () => {
  const names = JSON.parse(probe('names', ''))
  assert.equal(names.maxFrame, wire.FRAME.MAX_BYTES)
  assert.deepEqual(names.rowFields.map((_, i) => i), Object.values(wire.ROW).sort((a, b) => a - b))
  assert.deepEqual(Object.keys(wire.ROW).map((key) => names.rowFields[wire.ROW[key]]),
    ['_id', 'taskType', 'priority', 'createdAt', 'dueOffset', 'data', 'onGoing', 'extra'])
  assert.deepEqual(Object.values(wire.OPS).sort(), [...names.ops].sort())
  assert.deepEqual(Object.values(codes).sort(), names.codes.map(([code]) => code).sort())
})

test('a run row Rust writes is read by JS as the task it was', () => {
  for (const s of SAMPLES) {
    const row = JSON.parse(probe('row', s))
    assert.deepEqual(wire.taskFromRow(row), { ...taskOf(s), onGoing: true }, s._id)
  }
})

test('a traced task\'s run row carries what its run span needs: its attempt, its queue and its add\'s carrier', () => {
  const carrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'k=v' }
  const row = JSON.parse(probe('runRow', { ...SAMPLES[1], trace: carrier, failures: 2 }))
  assert.deepEqual(row[wire.ROW.EXTRA], { attempt: 3, queue: 'persistent', carrier })
  assert.deepEqual(wire.taskFromRow(row), { ...taskOf(SAMPLES[1]), onGoing: true })
  assert.equal(JSON.parse(probe('runRow', SAMPLES[1])).length, wire.ROW.EXTRA, 'an untraced row has no such field')
})

test('a task\'s group and a rate\'s start deadline travel in its run row (the group in its object form too), traced or not', () => {
  const group = 'tenant "42" ✓'
  const row = JSON.parse(probe('runRow', { ...SAMPLES[1], group }))
  assert.deepEqual(row[wire.ROW.EXTRA], { group })
  assert.deepEqual(wire.taskFromRow(row), { ...taskOf(SAMPLES[1]), onGoing: true, group })
  const carrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }
  const traced = JSON.parse(probe('runRow', { ...SAMPLES[1], group, trace: carrier }))
  assert.deepEqual(traced[wire.ROW.EXTRA], { group, attempt: 1, queue: 'persistent', carrier })
  const due = JSON.parse(probe('runRow', { ...SAMPLES[1], startBy: 1700000000123 }))
  assert.deepEqual(due[wire.ROW.EXTRA], { startBy: 1700000000123 })
  const all = JSON.parse(probe('runRow', { ...SAMPLES[1], group, startBy: 5, trace: carrier }))
  assert.deepEqual(all[wire.ROW.EXTRA], { group, startBy: 5, attempt: 1, queue: 'persistent', carrier })
  const object = JSON.parse(probe('object', { ...SAMPLES[1], group }))
  assert.equal(object.group, group)
})

test('the object form Rust answers calls with is read by JS as the task it was', () => {
  for (const s of SAMPLES) {
    const object = JSON.parse(probe('object', s))
    // The codec turns {"$date": ms} into Dates; here they are read as numbers.
    object.createdAt = object.createdAt.$date
    object.dueDate = object.dueDate.$date
    assert.deepEqual(wire.taskFromObject(object), { ...taskOf(s), onGoing: false }, s._id)
  }
})

test('add rows JS writes are read by Rust with every field, in one batch, a traced one with its carrier', () => {
  const carrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }
  const traced = (i) => i === 2 ? JSON.stringify(carrier) : null
  const rows = SAMPLES.map((s, i) => wire.addRow(s._id.replace(/["\\]/g, '_'), JSON.stringify(s.taskType), s.priority, s.createdAt, s.dueDate, JSON.stringify(s.data), traced(i)))
  const read = JSON.parse(probe('addRows', wire.addBatch(rows)))
  assert.deepEqual(read, SAMPLES.map((s, i) => ({ ...s, _id: s._id.replace(/["\\]/g, '_'), ...(i === 2 ? { trace: carrier } : {}) })))
})

test('addTask and addTasks arguments JS writes are read by Rust, createdAt from JS', () => {
  for (const s of SAMPLES) {
    const args = wire.taskArgs({ ...s, data: JSON.stringify(s.data), inMemory: true })
    assert.deepEqual(JSON.parse(probe('request', { op: wire.OPS.ADD_TASK, args: JSON.parse(args) })),
      [{ ...s, inMemory: true, madeId: false }], s._id)
  }
  const many = `[${SAMPLES.map((s) => wire.taskArgs({ ...s, _id: null, data: JSON.stringify(s.data), inMemory: false })).join(',')}]`
  const read = JSON.parse(probe('request', { op: wire.OPS.ADD_TASKS, args: JSON.parse(many) }))
  assert.equal(read.length, SAMPLES.length)
  for (const [i, t] of read.entries()) {
    assert.equal(t.madeId, true)
    assert.equal(t._id.length, 17, 'an _id made by the core')
    assert.deepEqual({ ...t, _id: SAMPLES[i]._id, madeId: false, inMemory: true }, { ...SAMPLES[i], madeId: false, inMemory: true })
  }
})

test('every frame a worker writes is read by the master as what was meant', () => {
  const cases = [
    [wire.frames.ready(), { type: 'ready' }],
    [wire.frames.recalled([3, 9007199254740991]), { type: 'recalled', runs: [3, 9007199254740991] }],
    [wire.frames.recalled([]), { type: 'recalled', runs: [] }],
    [wire.frames.ipc(4, '{"status":"ü","data":[1]}'), { type: 'ipc', run: 4, msg: { status: 'ü', data: [1] } }],
    [wire.frames.progress(8, '42.5'), { type: 'progress', run: 8, value: 42.5 }],
    [wire.frames.progress(8, '{"step":"b","at":{"$date":5}}'), { type: 'progress', run: 8, value: { step: 'b', at: { $date: 5 } } }],
    [wire.frames.request(12, wire.OPS.FIND, '{"selector":{"a":1}}'), { type: 'request', req: 12, op: 'find', args: { selector: { a: 1 } } }]
  ]
  for (const op of Object.values(wire.OPS)) {
    cases.push([wire.frames.request(1, op, '{}'), { type: 'request', req: 1, op, args: {} }])
  }
  for (const [frame, meant] of cases) assert.deepEqual(JSON.parse(probe('frame', frame)), meant, frame)
})

test('a line the master writes is read by a worker as runs and messages, in order', () => {
  const items = [
    [5, SAMPLES[1]],
    { type: wire.TO_WORKER.RECALL, runs: [1, 2] },
    [6, SAMPLES[2]],
    { type: wire.TO_WORKER.IPC_REPLY, run: 6, msg: { ok: 'ü"' } },
    { type: wire.TO_WORKER.REPLY, req: 3, ok: false, value: { name: 'TypeError', message: 'm' } },
    { type: wire.TO_WORKER.ABORT, run: 6, reason: { name: 'TaskCancelledError', message: 'm', code: 'ERR_TASK_CANCELLED' } },
    { type: wire.TO_WORKER.STOP }
  ]
  const bytes = binding.wireProbeBytes('line', JSON.stringify(items))
  const frames = readFrames(bytes, [bytes.length])
  assert.equal(frames.length, 1, 'one frame')
  const read = JSON.parse(frames[0])
  assert.equal(read.length, items.length)
  for (const [i, item] of items.entries()) {
    if (Array.isArray(item)) {
      assert.ok(Array.isArray(read[i]), `item ${i} is a run`)
      assert.equal(read[i][wire.RUN.NUMBER], item[0])
      assert.deepEqual(wire.taskFromRow(read[i][wire.RUN.ROW]), { ...taskOf(item[1]), onGoing: true })
    } else {
      assert.deepEqual(read[i], item)
    }
  }
})

test('frames of any size are read whole, however the socket splits them', () => {
  const texts = ['[]', '[1]', 'x'.repeat(CHUNK_BYTES - 9), 'é'.repeat(CHUNK_BYTES + 3), '[' + '7,'.repeat(3 * CHUNK_BYTES) + '0]', '[0]']
  const blob = Uint8Array.from({ length: CHUNK_BYTES * 2 + 5 }, (_, i) => i & 255)
  const frame = (kind, body) => {
    const head = Buffer.alloc(wire.FRAME.HEADER_BYTES)
    wire.writeFrameHeader(head, 0, kind, body.length)
    return Buffer.concat([head, body])
  }
  const bytes = Buffer.concat([
    ...texts.map((text) => frame(wire.FRAME.JSON, Buffer.from(text))),
    frame(wire.FRAME.BYTES, blob),
    frame(wire.FRAME.BYTES, Buffer.from([7])),
    frame(wire.FRAME.TEXT, Buffer.from('é'.repeat(CHUNK_BYTES)))
  ])
  const expected = [...texts, blob, Uint8Array.from([7]), `text:${'é'.repeat(CHUNK_BYTES)}`]
  for (const sizes of [[bytes.length], [1], [3, 5, 7], [CHUNK_BYTES], [CHUNK_BYTES - 1, 2], [100, CHUNK_BYTES * 2]]) {
    assert.deepEqual(readFrames(bytes, sizes), expected, `reads of ${sizes}`)
  }
  const huge = Buffer.alloc(wire.FRAME.HEADER_BYTES)
  huge.writeUInt32LE(wire.FRAME.MAX_BYTES + 1)
  assert.throws(() => readFrames(huge, [4]), /corrupt/)
  huge.writeUInt32LE((3 << wire.FRAME.KIND_SHIFT) >>> 0)
  assert.throws(() => readFrames(huge, [4]), /corrupt/)
})

test('large text frames are read into one kept buffer, let go of when a larger one comes; bytes get their own', () => {
  const frame = (kind, body) => {
    const head = Buffer.alloc(wire.FRAME.HEADER_BYTES)
    wire.writeFrameHeader(head, 0, kind, body.length)
    return Buffer.concat([head, body])
  }
  const released = []
  const seen = []
  const reader = new FrameReader((kind, buffer, start, end) => seen.push({ kind, buffer, length: end - start, first: buffer[start] }), (b) => released.push(b))
  const feed = (bytes) => {
    for (let at = 0; at < bytes.length;) {
      const into = reader.next()
      const n = Math.min(into.length, bytes.length - at)
      bytes.copy(into, 0, at, at + n)
      reader.onRead(n, into)
      at += n
    }
  }
  feed(frame(wire.FRAME.TEXT, Buffer.from('a'.repeat(3 * CHUNK_BYTES))))
  feed(frame(wire.FRAME.JSON, Buffer.from('"' + 'b'.repeat(2 * CHUNK_BYTES) + '"')))
  feed(frame(wire.FRAME.BYTES, Buffer.alloc(2 * CHUNK_BYTES, 1)))
  feed(frame(wire.FRAME.TEXT, Buffer.from('c'.repeat(4 * CHUNK_BYTES))))
  assert.deepEqual(seen.map((s) => [s.length, String.fromCharCode(s.first)]),
    [[3 * CHUNK_BYTES, 'a'], [2 * CHUNK_BYTES + 2, '"'], [2 * CHUNK_BYTES, '\x01'], [4 * CHUNK_BYTES, 'c']])
  assert.equal(seen[0].buffer.buffer, seen[1].buffer.buffer, 'the second is read into the first one\'s buffer')
  assert.notEqual(seen[2].buffer.buffer, seen[0].buffer.buffer, 'bytes are not read into the kept buffer')
  assert.equal(seen[2].buffer.buffer.byteLength, 2 * CHUNK_BYTES, 'bytes have a buffer of their own size')
  assert.equal(released.length, 1, 'the kept buffer, too small for the last frame, was let go of')
  assert.equal(released[0].buffer, seen[0].buffer.buffer)
  clearTimeout(reader.spareTimer)
})

test('a run whose data has blobs comes in a frame of its own after them, and a worker reads the data it was', () => {
  const { encodeParts, decode, BLOB_MIN } = require('../lib/codec.js')
  const data = { s: 'é'.repeat(BLOB_MIN), b: Uint8Array.from({ length: BLOB_MIN }, (_, i) => i & 255), when: new Date(5), own: { $binary: 1 } }
  const { json, blobs } = encodeParts(data, 'data')
  const sample = { ...SAMPLES[1], data: JSON.parse(json), blobs: blobs.map((b) => typeof b === 'string' ? { text: b } : { bytes: [...b] }) }
  const items = [{ type: wire.TO_WORKER.STOP }, [5, sample], [6, SAMPLES[0]]]
  const bytes = binding.wireProbeBytes('line', JSON.stringify(items))
  // As the worker reads them: blobs gathered for the next JSON frame.
  const messages = []
  let pending = []
  const reader = new FrameReader((kind, buffer, start, end) => {
    if (kind === wire.FRAME.JSON) {
      messages.push(...decode(buffer.toString('utf8', start, end), pending))
      pending = []
    } else if (kind === wire.FRAME.TEXT) {
      pending.push(buffer.toString('utf8', start, end))
    } else {
      pending.push(reader.isShared(buffer) ? new Uint8Array(buffer.subarray(start, end)) : buffer)
    }
  })
  for (let at = 0; at < bytes.length;) {
    const into = reader.next()
    const n = Math.min(into.length, bytes.length - at)
    bytes.copy(into, 0, at, at + n)
    reader.onRead(n, into)
    at += n
  }
  assert.equal(messages.length, 3)
  assert.deepEqual(messages[0], { type: wire.TO_WORKER.STOP })
  const task = wire.taskFromRow(messages[1][wire.RUN.ROW])
  assert.deepEqual(task, { ...taskOf(SAMPLES[1]), data, onGoing: true })
  assert.equal(Object.getPrototypeOf(task.data.b), Uint8Array.prototype)
  assert.deepEqual(wire.taskFromRow(messages[2][wire.RUN.ROW]), { ...taskOf(SAMPLES[0]), onGoing: true })
})

test('large data and values go beside the events as parts, and JS reads them as they were', () => {
  const { encodeParts, BLOB_MIN } = require('../lib/codec.js')
  const data = { rows: ['x'.repeat(BLOB_MIN), 'short'], bin: Uint8Array.from({ length: BLOB_MIN + 1 }, (_, i) => (i * 7) & 255) }
  const value = { pdf: Uint8Array.from({ length: BLOB_MIN }, (_, i) => i & 255), text: 'ü'.repeat(BLOB_MIN) }
  const parts = (v) => {
    const { json, blobs } = encodeParts(v, 'data')
    return { json: JSON.parse(json), blobs: blobs.map((b) => typeof b === 'string' ? { text: b } : { bytes: [...b] }) }
  }
  const large = parts(data)
  const big = { ...SAMPLES[2], data: large.json, blobs: large.blobs }
  const returned = parts(value)
  const handover = binding.wireProbeHandover(JSON.stringify([
    { task: SAMPLES[0], value: 1 },
    { task: big, value: 2 },
    { task: SAMPLES[1], value: returned.json, valueBlobs: returned.blobs },
    { task: big, error: true }
  ]))
  assert.equal(typeof handover, 'object', 'events that name parts come with them')
  const events = JSON.parse(handover.json)
  const types = events.map((e) => e.type)
  assert.deepEqual(types, [wire.EVENT.DONE, wire.EVENT.DONE, wire.EVENT.DONE, wire.EVENT.ERROR])
  // As master.js builds a listener's { value, task }.
  const taskOfEvent = (event) => {
    const task = wire.taskFromRow(event.task)
    if (event.dataPart !== undefined) wire.setPartData(task, handover.parts[event.dataPart], binding.openPart, binding.releaseBuffer)
    return task
  }
  assert.deepEqual(taskOfEvent(events[0]), { ...taskOf(SAMPLES[0]), onGoing: true })
  assert.equal(events[1].task[wire.ROW.DATA], null, 'large data is not in the row')
  assert.deepEqual(taskOfEvent(events[1]), { ...taskOf(SAMPLES[2]), data, onGoing: true })
  assert.equal(events[1].value, 2)
  assert.equal(events[2].value, undefined)
  const back = wire.partValue(binding.openPart(handover.parts[events[2].valuePart]), binding.releaseBuffer)
  assert.deepEqual(back, value)
  assert.equal(Object.getPrototypeOf(back.pdf), Uint8Array.prototype)
  assert.deepEqual(taskOfEvent(events[3]).data, data)
  assert.equal(binding.openPart(handover.parts[events[2].valuePart]), null, 'a part opens once')
  // With nothing large, the events are the JSON alone.
  assert.equal(typeof binding.wireProbeHandover(JSON.stringify([{ task: SAMPLES[0], value: 1 }])), 'string')
})

test('events Rust hands over are read by JS: done in a batch (columns) or alone, error, retry', () => {
  const values = [{ v: 1 }, 0, undefined, 'ü"', [1, 2]]
  for (const count of [1, SAMPLES.length]) {
    const outcomes = SAMPLES.slice(0, count).map((task, i) => ({ task, value: values[i] }))
    const events = JSON.parse(probe('events', outcomes))
    const [done, error, retry] = events
    const delivered = []
    if (count === 1) {
      assert.equal(done.type, wire.EVENT.DONE)
      delivered.push({ value: done.value, task: wire.taskFromRow(done.task) })
    } else {
      assert.equal(done.type, wire.EVENT.DONE_BATCH)
      wire.readDoneBatch(done, (value, task) => { delivered.push({ value, task }) })
    }
    assert.deepEqual(delivered, outcomes.map(({ task, value }) => ({ value, task: { ...taskOf(task), onGoing: true } })))
    const last = SAMPLES[count - 1]
    assert.equal(error.type, wire.EVENT.ERROR)
    assert.deepEqual(wire.taskFromRow(error.task), { ...taskOf(last), onGoing: true })
    assert.equal(retry.type, wire.EVENT.RETRY)
    assert.equal(retry.attempt, 2)
    assert.deepEqual(retry.nextRunAt, { $date: last.dueDate })
  }
})

test('a doneBatch stops delivering when the listener is gone', () => {
  const outcomes = SAMPLES.map((task) => ({ task, value: 1 }))
  const [batch] = JSON.parse(probe('events', outcomes))
  let seen = 0
  wire.readDoneBatch(batch, () => ++seen < 2)
  assert.equal(seen, 2)
})

test('the dashboard\'s calls: both sides name the same ops, states and sorts', () => {
  const names = JSON.parse(probe('names', ''))
  assert.deepEqual(Object.values(wire.BOARD_OPS).sort(), [...names.boardOps].sort())
  assert.deepEqual([...wire.TASK_STATES], names.taskStates)
  assert.deepEqual([...wire.SORTS], names.sorts)
})

test('the dashboard\'s arguments JS writes are read by Rust as meant, and a field Rust does not know is refused', () => {
  const board = (op, args) => JSON.parse(probe('board', { op, args: JSON.parse(args) }))
  const full = { taskType: 'ty "p" ü', state: 'failed', idPrefix: 'a\\b', sort: 'dueDate', after: 'WzEsMl0', limit: 50 }
  assert.deepEqual(board(wire.BOARD_OPS.LIST, wire.boardListArgs(full)), full)
  assert.deepEqual(board(wire.BOARD_OPS.LIST, wire.boardListArgs({ sort: 'priority', limit: 1 })),
    { taskType: null, state: null, idPrefix: null, sort: 'priority', after: null, limit: 1 })
  for (const state of wire.TASK_STATES) assert.equal(board(wire.BOARD_OPS.LIST, wire.boardListArgs({ state, sort: 'createdAt', limit: 2 })).state, state)
  for (const op of [wire.BOARD_OPS.TASK, wire.BOARD_OPS.RETRY, wire.BOARD_OPS.RUN_NOW, wire.BOARD_OPS.CANCEL, wire.BOARD_OPS.REMOVE]) {
    assert.deepEqual(board(op, wire.boardArgs.id('x"ü')), { id: 'x"ü' }, op)
  }
  for (const op of [wire.BOARD_OPS.RETRY_FAILED, wire.BOARD_OPS.REMOVE_FAILED]) {
    assert.deepEqual(board(op, wire.boardArgs.taskType('T')), { taskType: 'T' }, op)
  }
  for (const op of [wire.BOARD_OPS.PAUSE, wire.BOARD_OPS.RESUME]) {
    assert.deepEqual(board(op, wire.boardArgs.master('h:1:x')), { master: 'h:1:x' }, op)
  }
  assert.throws(() => board(wire.BOARD_OPS.LIST, JSON.stringify({ sort: 'priority', limit: 1, extra: 1 })), /unknown field/)
  assert.throws(() => board(wire.BOARD_OPS.LIST, JSON.stringify({ sort: 'size', limit: 1 })), /unknown variant/)
})

test('a dashboard answer Rust writes is read by JS: the value, or the error with its name and code', () => {
  const names = JSON.parse(probe('names', ''))
  const { errorFrom } = require('../lib/errors.js')
  const value = { now: 5, tasks: [{ _id: 'ü"', data: { at: { $date: 1 } } }], next: null }
  assert.deepEqual(wire.readBoardAnswer(probe('boardAnswer', { ok: true, value }), errorFrom), value)
  for (const code of ['ERR_NOT_FOUND', 'ERR_INVALID_ARG', 'ERR_MONGO_UNAVAILABLE']) {
    assert.throws(() => wire.readBoardAnswer(probe('boardAnswer', { ok: false, value: code }), errorFrom),
      (error) => error.code === code && error.message === 'm "q"' && error.name === names.codes.find(([c]) => c === code)[1])
  }
})
