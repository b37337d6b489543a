'use strict'
// Every shape that crosses JS <-> Rust or master <-> worker, named once on
// this side (src/wire/ names them on the other; __test__/wire.test.mjs runs
// samples through both). Positional encodings stay where they are fast,
// with their indices named here. Values inside (task data, results, IPC
// messages) are EJSON JSON text (lib/codec.js).

const { decode, encode } = require('./codec')
const { isAscii } = require('buffer')

// ---------------------------------------------------------------- tasks

/**
 * A task row's fields, in order (`ROW_FIELDS` in src/wire/task.rs): runs
 * and outcome events carry a task as `[_id, taskType, priority, createdAt,
 * dueOffset, data, onGoing, extra?]`, dates as ms and `dueOffset =
 * dueDate - createdAt`; `extra`, `{ group?, startBy?, attempt?, queue?, carrier? }`,
 * only for a task with a group, a rate's start deadline or added in a traced span (the last three
 * for lib/tracing.js). An add row (the facade's batch of in-memory adds)
 * is the first six fields, then a traced add's carrier.
 */
const ROW = Object.freeze({ ID: 0, TYPE: 1, PRIORITY: 2, CREATED_AT: 3, DUE_OFFSET: 4, DATA: 5, ON_GOING: 6, EXTRA: 7 })

/**
 * An add row; `typeJson` is the task type as JSON text, `data` EJSON
 * text, `carrier` a traced add's carrier as JSON text, or null.
 */
function addRow (id, typeJson, priority, createdAt, dueDate, data, carrier) {
  const traced = carrier === null || carrier === undefined ? '' : `,${carrier}`
  return `["${id}",${typeJson},${priority},${createdAt},${dueDate - createdAt},${data}${traced}]`
}

/**
 * An add row whose data refers to `blobCount` blobs (`encodeParts`), in an
 * eighth field (after the carrier, `null` when untraced): the batch's blobs
 * are handed over with it, in order.
 */
function addRowWithBlobs (id, typeJson, priority, createdAt, dueDate, data, carrier, blobCount) {
  const traced = carrier === null || carrier === undefined ? 'null' : carrier
  return `["${id}",${typeJson},${priority},${createdAt},${dueDate - createdAt},${data},${traced},${blobCount}]`
}

/** A batch of add rows, as `Master.addTasks` takes it. */
function addBatch (rows) {
  return `[${rows.join(',')}]`
}

/**
 * A task as task functions and listeners get it (one shape for every task
 * object); `group` only when it has one.
 */
function taskObject (_id, taskType, priority, createdAt, dueDate, data, onGoing, group) {
  const task = { _id, taskType, priority, createdAt: new Date(createdAt), dueDate: new Date(dueDate), data, onGoing }
  if (group !== undefined) task.group = group
  return task
}

/**
 * Gives `task` the data of `part` (a large payload handed over beside the
 * events), opened (`open(part)`) and decoded (`partValue`, with `release`)
 * when first read: a listener that does not look at it costs nothing.
 */
function setPartData (task, part, open, release) {
  const own = (value) => Object.defineProperty(task, 'data', { value, writable: true, enumerable: true, configurable: true })
  Object.defineProperty(task, 'data', {
    get () {
      const data = partValue(open(part), release)
      own(data)
      return data
    },
    set: own,
    enumerable: true,
    configurable: true
  })
}

/**
 * The task of a row (its data already decoded). Anything else (a document
 * that could not be read as a task) is the object it was.
 */
function taskFromRow (row) {
  if (!Array.isArray(row)) return row
  const createdAt = row[ROW.CREATED_AT]
  const extra = row[ROW.EXTRA]
  return taskObject(row[ROW.ID], row[ROW.TYPE], row[ROW.PRIORITY], createdAt,
    createdAt + row[ROW.DUE_OFFSET], row[ROW.DATA], row[ROW.ON_GOING], extra === undefined ? undefined : extra.group)
}

/** A task in the object form calls answer with, decoded: its dates as Dates. */
function taskFromObject (task) {
  task.createdAt = new Date(task.createdAt)
  task.dueDate = new Date(task.dueDate)
  return task
}

// ------------------------------------------------- master <-> worker

/**
 * Framing, in both directions (src/wire/framing.rs): a little-endian u32
 * header, then that many bytes. Its low 30 bits are the length (at most
 * `MAX_BYTES`: more means a corrupt stream), its top two the kind: a JSON
 * message, or a blob (bytes or UTF-8 text) of the next JSON message, which
 * refers to the blobs sent before it as `{"$binary": i}` (lib/codec.js).
 */
const FRAME = Object.freeze({
  HEADER_BYTES: 4,
  MAX_BYTES: 512 * 1024 * 1024,
  LENGTH_BITS: 0x3fffffff,
  KIND_SHIFT: 30,
  JSON: 0,
  BYTES: 1,
  TEXT: 2
})

/** The header of a frame of `kind` and `length` bytes, written at `at`. */
function writeFrameHeader (buffer, at, kind, length) {
  buffer.writeUInt32LE(((kind << FRAME.KIND_SHIFT) | length) >>> 0, at)
}

/**
 * The kinds of blobs handed between JS and the addon (`Part` in
 * src/bindings/parts.rs, and the blobs of adds and replies), a letter each
 * in a `kinds` string.
 */
const BLOB_KINDS = Object.freeze({ TEXT: 't', BYTES: 'b' })

/**
 * Blobs as the addon takes them (`encodeParts` gives strings and
 * Uint8Arrays), and their kinds: a string as its UTF-8 bytes, written into
 * a Buffer `alloc(length)` gives (in the master, the addon's own memory,
 * which the blob then keeps: `allocBlob`). Writing UTF-8 in JS is several
 * times faster than the addon's string conversion.
 */
function addonBlobs (blobs, alloc) {
  const bytes = new Array(blobs.length)
  let kinds = ''
  for (let i = 0; i < blobs.length; i++) {
    const blob = blobs[i]
    if (typeof blob === 'string') {
      const length = Buffer.byteLength(blob, 'utf8')
      const buffer = alloc(length)
      // As long in UTF-8 as in code units: ASCII, whose bytes Latin-1
      // writes the same, at several times the speed.
      buffer.write(blob, 0, length === blob.length ? 'latin1' : 'utf8')
      bytes[i] = buffer
      kinds += BLOB_KINDS.TEXT
    } else {
      bytes[i] = blob
      kinds += BLOB_KINDS.BYTES
    }
  }
  return { bytes, kinds }
}

/**
 * UTF-8 bytes as a string: Latin-1 decoding when they are ASCII (the
 * same string, made faster; before Node 18.15 there is no quick test).
 */
const textOf = typeof isAscii === 'function'
  ? (bytes, start, end) => {
      const ascii = start === 0 && end === bytes.length ? isAscii(bytes) : isAscii(bytes.subarray(start, end))
      return bytes.toString(ascii ? 'latin1' : 'utf8', start, end)
    }
  : (bytes, start, end) => bytes.toString('utf8', start, end)

/** A Buffer's bytes as a plain Uint8Array; a copy unless it has its memory to itself. */
function ownBytes (buffer) {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) {
    return new Uint8Array(buffer.buffer, 0, buffer.byteLength)
  }
  return new Uint8Array(buffer)
}

/**
 * The value of an opened part (a large payload handed over beside the
 * events, `openPart`): its text as a Buffer, and its blobs, decoded with
 * `decode`. Buffers read into strings are then let go of (`release`), so
 * their memory does not wait for a collection.
 */
function partValue ({ json, kinds, blobs }, release) {
  const values = new Array(blobs.length)
  for (let i = 0; i < blobs.length; i++) {
    const blob = blobs[i]
    if (kinds[i] === BLOB_KINDS.TEXT) {
      values[i] = textOf(blob, 0, blob.length)
      release(blob)
    } else {
      values[i] = ownBytes(blob)
    }
  }
  const text = textOf(json, 0, json.length)
  release(json)
  return decode(text, values)
}

/**
 * What a worker writes to its master's ring (`ToMaster` in
 * src/wire/frames.rs), each a JSON text; the addon writes `done` and
 * `failed` frames itself (`workerDone`, `workerFailed`), with the run's
 * time by its own clock. JSON arguments are EJSON text.
 */
const frames = {
  ready: () => '{"type":"ready"}',
  recalled: (runs) => `{"type":"recalled","runs":${JSON.stringify(runs)}}`,
  ipc: (run, msgJson) => `{"type":"ipc","run":${run},"msg":${msgJson}}`,
  progress: (run, valueJson) => `{"type":"progress","run":${run},"value":${valueJson}}`,
  request: (req, op, argsJson) => `{"type":"request","req":${req},"op":${JSON.stringify(op)},"args":${argsJson}}`
}

/**
 * What a master writes to a worker (`ToWorker`): frames, each a JSON array
 * of runs, `[run, taskRow]`, and messages of these types.
 */
const TO_WORKER = Object.freeze({ IPC_REPLY: 'ipcReply', REPLY: 'reply', RECALL: 'recall', ABORT: 'abort', STOP: 'stop' })

/** Where a run keeps its number and its task row. */
const RUN = Object.freeze({ NUMBER: 0, ROW: 1 })

// ------------------------------------------------- dispatcher -> JS

/** The types of the events the dispatcher hands JS (`JsEvent` in src/wire/events.rs). */
const EVENT = Object.freeze({
  DONE: 'done',
  DONE_BATCH: 'doneBatch',
  ERROR: 'error',
  RETRY: 'retry',
  IPC: 'ipc',
  REPLY: 'reply',
  SPAWNED: 'spawned',
  RETIRED: 'retired',
  CLOSED: 'closed',
  FATAL: 'fatal',
  TIMER: 'timer',
  PROGRESS: 'progress'
})

/**
 * Calls `deliver(value, task)` for each task of a `doneBatch` event, in
 * order, until it returns `false`. The columns: `types` as runs `[type,
 * count, ...]`, `createdAt` as offsets from `dateBase`, `dueDates` as
 * offsets from `createdAt`, `undefinedAt` the tasks that returned
 * `undefined` (their value is `null` in `values`).
 */
function readDoneBatch ({ dateBase, ids, types, priorities, createdAt, dueDates, data, values, undefinedAt }, deliver) {
  for (const i of undefinedAt) values[i] = undefined
  let run = 0
  let type
  let left = 0
  for (let i = 0; i < ids.length; i++) {
    if (left === 0) {
      type = types[run]
      left = types[run + 1]
      run += 2
    }
    left--
    const created = dateBase + createdAt[i]
    const task = taskObject(ids[i], type, priorities[i], created, created + dueDates[i], data[i], true)
    if (deliver(values[i], task) === false) return
  }
}

// ---------------------------------------------------------------- requests

/** Request operations (`Op` in src/wire/request.rs): `TaskQueue` calls answered by a reply. */
const OPS = Object.freeze({
  ADD_TASK: 'addTask',
  ADD_TASKS: 'addTasks',
  FIND: 'find',
  FIND_ONE: 'findOne',
  COUNT: 'count',
  REMOVE: 'remove',
  UPDATE: 'update',
  CANCEL: 'cancel',
  METRICS: 'metrics',
  SET_LIMITS: 'setLimits'
})

/**
 * A collection call's arguments (`CollectionArgs`): `{ selector, modifier,
 * options }` as given, each EJSON-encoded (`null` for undefined). Throws
 * what the codec refuses.
 */
function collectionArgs (args) {
  const parts = []
  for (const key of Object.keys(args)) {
    const json = encode(args[key], key)
    parts.push(`${JSON.stringify(key)}:${json === undefined ? 'null' : json}`)
  }
  return `{${parts.join(',')}}`
}

/**
 * A checked task as the arguments of an `addTask` request (`TaskArgs`):
 * `data` and `policy` are JSON text already; data that refers to blobs
 * says how many (the request's blobs are handed over with it, in order).
 */
function taskArgs (task) {
  const policy = task.policy === undefined ? '' : `,${task.policy.slice(1, -1)}`
  const blobs = task.blobs !== undefined && task.blobs.length > 0 ? `,"blobs":${task.blobs.length}` : ''
  const trace = task.trace === null || task.trace === undefined ? '' : `,"trace":${task.trace}`
  const group = task.group === undefined ? '' : `,"group":${JSON.stringify(task.group)}`
  return `{"_id":${JSON.stringify(task._id)},"taskType":${JSON.stringify(task.taskType)},` +
    `"priority":${task.priority},"createdAt":${task.createdAt},"dueDate":${task.dueDate},` +
    `"inMemory":${task.inMemory},"data":${task.data}${policy}${trace}${group}${blobs}}`
}

// ---------------------------------------------------------------- dashboard

/** The dashboard's calls into the addon (`BoardOp` in src/wire/board.rs), `Board.call(op, args)`. */
const BOARD_OPS = Object.freeze({
  OVERVIEW: 'overview',
  LIST: 'list',
  TASK: 'task',
  MASTERS: 'masters',
  RETRY: 'retry',
  RETRY_FAILED: 'retryFailed',
  RUN_NOW: 'runNow',
  CANCEL: 'cancel',
  REMOVE: 'remove',
  REMOVE_FAILED: 'removeFailed',
  PAUSE: 'pause',
  RESUME: 'resume'
})

/** A task's states as the dashboard counts and filters them (`TaskState`). */
const TASK_STATES = Object.freeze(['due', 'scheduled', 'running', 'failed', 'recurring'])

/** The orders of a task list (`Sort`): priority and createdAt descending, dueDate ascending. */
const SORTS = Object.freeze(['priority', 'dueDate', 'createdAt'])

/**
 * The arguments of a `list` call (`ListArgs`), from checked values:
 * `after` is the `next` cursor of the page before, carried as it came.
 */
function boardListArgs ({ taskType, state, idPrefix, sort, after, limit }) {
  const args = { sort, limit }
  if (taskType !== undefined) args.taskType = taskType
  if (state !== undefined) args.state = state
  if (idPrefix !== undefined) args.idPrefix = idPrefix
  if (after !== undefined) args.after = after
  return JSON.stringify(args)
}

/** The arguments of a call on one task (`IdArgs`), a type's failed tasks (`TypeArgs`) or a master (`MasterArgs`). */
const boardArgs = {
  id: (id) => JSON.stringify({ id }),
  taskType: (taskType) => JSON.stringify({ taskType }),
  master: (master) => JSON.stringify({ master })
}

/**
 * What `Board.call` resolves with (`wire::board::answer`): the answer, or
 * throws the error `errorFrom` makes of it.
 */
function readBoardAnswer (json, errorFrom) {
  const { ok, value } = JSON.parse(json)
  if (!ok) throw errorFrom(value)
  return value
}

module.exports = {
  ROW,
  addRow,
  addRowWithBlobs,
  addBatch,
  taskObject,
  taskFromRow,
  taskFromObject,
  setPartData,
  FRAME,
  writeFrameHeader,
  BLOB_KINDS,
  addonBlobs,
  textOf,
  partValue,
  frames,
  TO_WORKER,
  RUN,
  EVENT,
  readDoneBatch,
  OPS,
  collectionArgs,
  taskArgs,
  BOARD_OPS,
  TASK_STATES,
  SORTS,
  boardListArgs,
  boardArgs,
  readBoardAnswer
}
