// Compile test of the typings without `TaskTypes` augmented: any task type,
// data any object of EJSON values. Run by `npm run lint` (tsc --strict);
// each `@ts-expect-error` marks a call that must not compile. Never run.
import {
  Cluster, TaskQueue, ObjectId, Decimal128,
  type AnyTask, type AnyTaskDocument, type CallError, type ClusterStats, type Cursor,
  type EJSONValue, type ErrorCode, type Task, type TaskData, type TaskError, type TaskType,
  type ToggleIPC, type UpsertResult, type WorkerExitError, type ThrownError, type BrokerMessage,
  type Job, type WorkerInfo, type ProgressEvent, type TaskCancelledError, type Limits
} from 'meteor-cluster'
import { check, given, type Equal } from '../assert.js'

// Without the augmentation, any string is a task type and data is EJSON.
check<Equal<TaskType, string>>()
check<Equal<AnyTask, Task<TaskData, string>>>()
check<Equal<AnyTaskDocument['data'], TaskData>>()

interface Resize { url: string, sizes: number[], at?: Date }

/** An EJSON custom type, as Meteor's EJSON.addType takes them. */
class Money {
  constructor (readonly cents: number) {}
  typeName () { return 'money' }
  toJSONValue () { return { cents: this.cents } }
}

async function adds () {
  // addTask: every field, and what it resolves with.
  const id: string = await TaskQueue.addTask({
    taskType: 'resize',
    data: { url: 'https://x', sizes: [1, 2] },
    priority: 3,
    _id: 'myId',
    dueDate: new Date(),
    inMemory: true,
    retry: { limit: 3, delay: 500, backoff: 'exponential' },
    timeout: 10_000
  })
  void id
  await TaskQueue.addTask({ taskType: 'noData' })
  await TaskQueue.addTask({ taskType: 'every', repeat: { every: 60_000 } })
  await TaskQueue.addTask({ taskType: 'nightly', repeat: { cron: '0 3 * * *', tz: 'Europe/Paris' } })
  await TaskQueue.addTask({ taskType: 'nulls', _id: null, retry: null, timeout: null, repeat: null })

  // Data may hold every EJSON type, and be typed by an interface.
  const resize: Resize = { url: 'u', sizes: [] }
  await TaskQueue.addTask({ taskType: 'resize', data: resize })
  await TaskQueue.addTask({
    taskType: 'types',
    data: {
      when: new Date(),
      bytes: new Uint8Array(2),
      buffer: Buffer.from('x'),
      pattern: /a+/gi,
      notANumber: NaN,
      id: new ObjectId(),
      price: new Decimal128('12.50'),
      nested: [{ a: [1, 'two', null, true] }],
      missing: undefined,
      custom: new Money(5),
      withToJSON: new URL('https://example.com')
    }
  })
  // An array is an object too: the runtime takes it.
  await TaskQueue.addTask({ taskType: 'list', data: [1, 2, 3] })

  // A callback gets (error) or (null, _id).
  void TaskQueue.addTask({ taskType: 'cb' }, (error, taskId) => {
    if (error) {
      const code: ErrorCode | 'METEOR_CLUSTER_NO_ADDON' = error.code
      void code
      return
    }
    check<Equal<typeof taskId, string>>()
  })
  // A Node-style callback with its own annotations fits too.
  void TaskQueue.addTask({ taskType: 'cb' }, (error: Error | null, taskId: string | undefined) => { void error; void taskId })

  const ids: string[] = await TaskQueue.addTasks([
    { taskType: 'a', data: { n: 1 } },
    { taskType: 'b', data: { label: 'x' }, inMemory: true, priority: 2 }
  ])
  void ids
  void TaskQueue.addTasks([], (error, list) => { if (!error) check<Equal<typeof list, string[]>>() })

  // @ts-expect-error a function cannot be carried to a worker
  void TaskQueue.addTask({ taskType: 'x', data: { fn: () => 1 } })
  // @ts-expect-error EJSON has no form for a Map
  void TaskQueue.addTask({ taskType: 'x', data: { map: new Map<string, number>() } })
  // @ts-expect-error nor for a BigInt
  void TaskQueue.addTask({ taskType: 'x', data: { big: 1n } })
  // @ts-expect-error nor for a Set
  void TaskQueue.addTask({ taskType: 'x', data: { set: new Set([1]) } })
  // @ts-expect-error nor for a typed array other than Uint8Array
  void TaskQueue.addTask({ taskType: 'x', data: { floats: new Float64Array(1) } })
  // @ts-expect-error nor for a Promise (await it first)
  void TaskQueue.addTask({ taskType: 'x', data: { later: Promise.resolve(1) } })
  // @ts-expect-error deep inside too
  void TaskQueue.addTask({ taskType: 'x', data: { a: [{ b: Symbol('s') }] } })
  // @ts-expect-error data is an object
  void TaskQueue.addTask({ taskType: 'x', data: 5 })
  // @ts-expect-error taskType is required
  void TaskQueue.addTask({ data: {} })
  // @ts-expect-error taskType is a string
  void TaskQueue.addTask({ taskType: 42 })
  // @ts-expect-error priority is a number
  void TaskQueue.addTask({ taskType: 'x', priority: 'high' })
  // @ts-expect-error dueDate is a Date
  void TaskQueue.addTask({ taskType: 'x', dueDate: Date.now() })
  // @ts-expect-error a field addTask does not know
  void TaskQueue.addTask({ taskType: 'x', prority: 2 })
  // @ts-expect-error backoff is 'fixed' or 'exponential'
  void TaskQueue.addTask({ taskType: 'x', retry: { limit: 2, backoff: 'linear' } })
  // @ts-expect-error retry needs its limit
  void TaskQueue.addTask({ taskType: 'x', retry: { delay: 100 } })
  // @ts-expect-error timeout is a number of ms
  void TaskQueue.addTask({ taskType: 'x', timeout: '5s' })
  // @ts-expect-error repeat is every or cron, not both
  void TaskQueue.addTask({ taskType: 'x', repeat: { every: 1000, cron: '* * * * *' } })
  // @ts-expect-error a time zone goes with a cron expression
  void TaskQueue.addTask({ taskType: 'x', repeat: { every: 1000, tz: 'UTC' } })
  // @ts-expect-error the callback gets (error, _id)
  void TaskQueue.addTask({ taskType: 'x' }, (error: Error, taskId: number) => { void error; void taskId })
  // @ts-expect-error addTasks takes an array
  void TaskQueue.addTasks({ taskType: 'x' })
  // @ts-expect-error every entry is checked
  void TaskQueue.addTasks([{ taskType: 'x' }, { taskType: 'y', data: { f: () => 1 } }])
}

function listeners () {
  TaskQueue.addEventListener('done', (event) => {
    check<Equal<typeof event.value, EJSONValue | undefined>>()
    check<Equal<typeof event.task, Task>>()
    const created: Date = event.task.createdAt
    void created
  })
  TaskQueue.addEventListener('error', ({ value, task }) => {
    check<Equal<typeof value, TaskError>>()
    const message: string = value.message
    const name: string = value.name
    void message; void name; void task._id
    // @ts-expect-error not every error value has a stack (a timeout's has none)
    const stack: string = value.stack
    void stack
    // @ts-expect-error exitCode is a worker exit's; narrow first
    void value.exitCode
    if (value.code === 'ERR_WORKER_EXIT') {
      // A task may throw an error with any code: it is still a possibility.
      check<Equal<typeof value, WorkerExitError | ThrownError>>()
      if (value.name === 'WorkerExitError' && 'signal' in value) void value.signal
    }
    if (value.code === 'ERR_TASK_TIMEOUT') check<Equal<typeof value.name, string>>()
  })
  // Async listeners are fine: a rejection is logged.
  TaskQueue.addEventListener('retry', async ({ value, task, attempt, nextRunAt }) => {
    check<Equal<typeof attempt, number>>()
    check<Equal<typeof nextRunAt, Date>>()
    void value.message; void task.taskType
  })
  TaskQueue.removeEventListener('retry')
  // @ts-expect-error no such event
  TaskQueue.addEventListener('finished', () => {})
  // @ts-expect-error a retry event is not a done event
  TaskQueue.addEventListener('done', (event: { attempt: number }) => { void event })
  // @ts-expect-error no such event
  TaskQueue.removeEventListener('finished')
}

async function collection () {
  const one = await TaskQueue.findOne('someId')
  check<Equal<typeof one, AnyTaskDocument | undefined>>()
  if (one !== undefined) {
    void one.attempts; void one.lastError?.at.getTime(); void one.lease?.expires; void one.retry?.backoff
  }
  await TaskQueue.findOne()
  await TaskQueue.findOne({ taskType: 'resize', priority: { $gt: 2 }, 'data.url': /x/ }, { sort: { priority: -1 }, fields: { data: 0 } })
  await TaskQueue.findOne(null)
  await TaskQueue.findOne({ _id: undefined })
  await TaskQueue.findOne('id', (error, task) => { if (!error) check<Equal<typeof task, AnyTaskDocument | undefined>>() })
  await TaskQueue.findOne({}, { sort: { createdAt: 1 }, skip: 1 }, () => {})
  await TaskQueue.findOne(() => {})
  await TaskQueue.findOneAsync({ dueDate: { $lt: new Date() } }, { hint: 'meteorCluster_claim', maxTimeMs: 100 })

  const n: number = await TaskQueue.count({ failed: true })
  void n
  await TaskQueue.count()
  await TaskQueue.count((error, count) => { if (!error) check<Equal<typeof count, number>>() })
  await TaskQueue.count({}, { limit: 10, skip: 2 }, () => {})
  await TaskQueue.countAsync({ taskType: { $in: ['a', 'b'] } })

  const matched: number = await TaskQueue.update({ _id: 'x' }, { $set: { 'data.n': 2 }, $inc: { priority: 1 } })
  void matched
  await TaskQueue.update('x', { taskType: 'replaced', data: {} })
  await TaskQueue.update({}, { $unset: { failed: '' } }, { multi: true })
  await TaskQueue.update('x', { $set: { a: 1 } }, (error, count) => { if (!error) check<Equal<typeof count, number>>() })
  await TaskQueue.updateAsync({ _id: 'x' }, { $push: { 'data.list': 3 } }, { arrayFilters: [{ 'e.n': 1 }] }, () => {})
  const upserted: UpsertResult = await TaskQueue.upsert({ _id: 'x' }, { $setOnInsert: { taskType: 't' } }, { insertedId: 'x' })
  void upserted.numberAffected; void upserted.insertedId
  await TaskQueue.upsertAsync('y', { $set: { priority: 1 } })

  const removed: number = await TaskQueue.remove({ taskType: 'resize' })
  void removed
  await TaskQueue.remove('x', (error, count) => { if (!error) check<Equal<typeof count, number>>() })
  await TaskQueue.removeAsync({})

  // @ts-expect-error remove needs a selector ({} removes all)
  await TaskQueue.remove()
  // @ts-expect-error a callback is not a selector
  await TaskQueue.remove(() => {})
  // @ts-expect-error update needs a modifier
  await TaskQueue.update({ _id: 'x' })
  // @ts-expect-error the modifier is an object
  await TaskQueue.update({ _id: 'x' }, 'priority')
  // @ts-expect-error a selector is an object or an _id
  await TaskQueue.findOne([{ _id: 'x' }])
  // @ts-expect-error findOne takes no limit
  await TaskQueue.findOne({}, { limit: 1 })
  // @ts-expect-error transform must be null: it would run where MongoDB is read
  await TaskQueue.findOne({}, { transform: (doc: object) => doc })
  // @ts-expect-error a sort direction is 1, -1, 'asc' or 'desc'
  await TaskQueue.findOne({}, { sort: { priority: 'down' } })
  // @ts-expect-error an update option update does not know
  await TaskQueue.update({}, { $set: { a: 1 } }, { upsertt: true })
  // @ts-expect-error the count's callback gets a number
  await TaskQueue.count({}, (error: Error | null, count?: string) => { void error; void count })
}

async function cursors () {
  const cursor = TaskQueue.find({ taskType: 'resize' }, { sort: [['priority', 'desc'], 'createdAt'], skip: 1, limit: 10, projection: { data: 1 } })
  check<Equal<typeof cursor, Cursor<AnyTaskDocument>>>()
  TaskQueue.find()
  TaskQueue.find({}, { sort: ['taskType', ['priority', 'desc']] })
  TaskQueue.findAsync('id')
  TaskQueue.find({}, { sort: 'priority' })

  const tasks = await cursor.fetch()
  check<Equal<typeof tasks, AnyTaskDocument[]>>()
  await cursor.fetchAsync((error, list) => { if (!error) check<Equal<typeof list, AnyTaskDocument[]>>() })
  // `await cursor` fetches; `then` is fetch's.
  const awaited = await cursor
  check<Equal<typeof awaited, AnyTaskDocument[]>>()
  const length: number = await cursor.then((list) => list.length)
  void length
  await cursor.catch(() => []).finally(() => {})
  for await (const task of cursor) check<Equal<typeof task, AnyTaskDocument>>()

  const counted: number = await cursor.count()
  await cursor.count(true)
  await cursor.count((error, count) => { if (!error) check<Equal<typeof count, number>>() })
  await cursor.countAsync(false, () => {})
  void counted

  await cursor.forEach((task, index, same) => {
    check<Equal<typeof task, AnyTaskDocument>>()
    check<Equal<typeof index, number>>()
    check<Equal<typeof same, typeof cursor>>()
  })
  await cursor.forEachAsync(async (task) => { await new Promise((resolve) => setTimeout(resolve, task.priority)) })
  const context = { n: 0 }
  await cursor.forEach(function () { this.n++ }, context)
  await cursor.forEach(() => {}, (error) => { void error })

  const labels = await cursor.map((task, index) => `${task._id}@${index}`)
  check<Equal<typeof labels, string[]>>()
  const priorities = await cursor.mapAsync(async (task) => task.priority)
  check<Equal<typeof priorities, number[]>>()
  await cursor.map((task) => task._id, (error, list) => { if (!error) check<Equal<typeof list, string[]>>() })

  // @ts-expect-error find takes no callback: give it to fetch, forEach, map or count
  TaskQueue.find({}, {}, () => {})
  // @ts-expect-error the iteratee is a function
  await cursor.forEach('each')
  // @ts-expect-error a cursor has no toArray (that is the driver's)
  await cursor.toArray()
}

function inMemory () {
  const task = TaskQueue.inMemory.findById('id')
  check<Equal<typeof task, Task | undefined>>()
  // removeById returns the removed task, as upstream.
  const removed = TaskQueue.inMemory.removeById('id')
  check<Equal<typeof removed, Task | undefined>>()
  const all: Task[] = TaskQueue.inMemory.tasks()
  const due: Task[] = TaskQueue.inMemory.availableTasks()
  void all; void due
  // @ts-expect-error removeById does not say whether it removed: it returns the task
  const ok: boolean = TaskQueue.inMemory.removeById('id')
  void ok
}

function cluster () {
  const taskMap = {
    // A function's job may be annotated with the data it expects...
    RESIZE: (job: Job<Task<{ url: string }>>) => job.data.url.length,
    // ...or left to the contextual type; it reports progress and has a signal.
    ANY: async (job: Job) => {
      job.progress(50)
      job.progress({ step: 'b', at: new Date() })
      // @ts-expect-error progress is an EJSON value
      job.progress(() => 1)
      check<Equal<typeof job.signal, AbortSignal>>()
      return job.data
    },
    PING: (_job: Task, toggleIPC: ToggleIPC) =>
      toggleIPC((reply: string, closeIPC) => closeIPC(reply.toUpperCase()), (send) => send({ status: 4, data: 'ping' }))
  }
  const c = new Cluster(taskMap, {
    port: '3008',
    maxAvailableWorkers: 2,
    refreshRate: '500',
    inMemoryOnly: false,
    logs: 'error',
    keepAlive: 'always',
    autoInitialize: false,
    prefetch: 1,
    workerStartTimeout: 30_000,
    mongoUrl: 'mongodb://localhost:27017/app',
    collectionName: 'jobs',
    lease: 10_000,
    retry: { limit: 2 },
    taskTimeout: 60_000,
    cancelGrace: 1000,
    workerMaxTasks: 1000,
    workerMaxMemory: 512,
    workerExecArgv: ['--max-old-space-size=512'],
    workerEnv: { NODE_ENV: 'production' },
    limits: { REPORT: { concurrency: 2 }, IMPORT: { rate: { max: 10, per: 1000 }, perGroup: { concurrency: 1 } } },
    messageBroker: (respond, message) => {
      check<Equal<typeof message, BrokerMessage>>()
      const worker: number = message.id[0]
      void worker
      if (message.data === 'ping') respond('pong')
      respond({ at: new Date(), n: [1, 2] })
      // @ts-expect-error a reply must be EJSON
      respond(() => 'pong')
    }
  })
  new Cluster({ inline: (job) => { check<Equal<typeof job, Job<Task>>>(); return job._id } })
  new Cluster({}, { keepAlive: 5000, messageBroker: null, mongoUrl: null, retry: null, taskTimeout: null })
  new Cluster({}, { keepAlive: '5000', maxAvailableWorkers: '2' })

  c.initialize()
  c.setRefreshRate(250)
  c.setRefreshRate('250')
  c.pause()
  c.resume()
  const stats = c.stats()
  check<Equal<typeof stats, ClusterStats | null>>()
  if (stats !== null) {
    const paused: boolean = stats.paused
    const retried: number = stats.counters.retried
    const start: number | null = stats.counters.lastWorkerStartMs
    const reachable: boolean = stats.persistent.reachable
    void paused; void retried; void start; void reachable; void stats.inMemory.available
  }
  const closed: Promise<void> = c.close({ timeout: 5000 })
  void closed; void c.close(); void c.close(null)
  const master: boolean = Cluster.isMaster()
  const cpus: number = Cluster.maxWorkers()
  void master; void cpus
  process.once('SIGTERM', () => { void c.close({ timeout: 10_000 }).then(() => process.exit(0)) })

  // @ts-expect-error a taskMap entry is a function
  new Cluster({ RESIZE: 'resize' })
  // @ts-expect-error port is a number or a numeric string
  new Cluster({}, { port: 'eighty' })
  // @ts-expect-error logs is 'all' or 'error'
  new Cluster({}, { logs: 'debug' })
  // @ts-expect-error keepAlive is 'always', ms or null
  new Cluster({}, { keepAlive: 'sometimes' })
  // @ts-expect-error prefetch (ours) is strict: a number
  new Cluster({}, { prefetch: '64' })
  // @ts-expect-error an option Cluster does not know
  new Cluster({}, { maxWorkers: 2 })
  // @ts-expect-error close takes { timeout }
  void c.close(5000)
  // @ts-expect-error the broker gets (respond, message)
  new Cluster({}, { messageBroker: (message: string) => { void message } })
}

async function ipc (toggleIPC: ToggleIPC) {
  // Resolves with closeIPC's argument, or what onMessage returned.
  const one = await toggleIPC((reply) => `worker got ${String(reply)}`, (send) => send({ status: 4, data: 'ping' }))
  check<Equal<typeof one, string | undefined>>()
  const chained = await toggleIPC(
    (first) => toggleIPC((second) => [first, second], (send) => send({ status: 5, data: 'again' })),
    (send) => send({ status: 'start', data: { when: new Date() } })
  )
  check<Equal<typeof chained, EJSONValue[] | undefined>>()
  await toggleIPC((reply: { n: number }, closeIPC) => { closeIPC(reply.n) }, (send) => send({ status: 1, data: null, extra: [1] }))

  // @ts-expect-error a message needs its status
  await toggleIPC(() => 1, (send) => send({ data: 'x' }))
  // @ts-expect-error a message must be EJSON
  await toggleIPC(() => 1, (send) => send({ status: 1, data: () => 1 }))
  // @ts-expect-error a reply is an EJSON value, never a function
  await toggleIPC((reply: () => void) => reply(), (send) => send({ status: 1 }))
}

function values () {
  const id = new ObjectId()
  const hex: string = id.toHexString()
  const again = new ObjectId(hex)
  const same: boolean = again.equals(id)
  const oid: 'oid' = id.typeName()
  const valid: boolean = ObjectId.isValid(hex)
  const price = new Decimal128('12.50')
  const text: string = price.toString()
  const decimal: 'Decimal' = price.typeName()
  const copy: Decimal128 = price.clone()
  void same; void oid; void valid; void text; void decimal; void copy
  // @ts-expect-error a Decimal128 needs its text
  void new Decimal128()
  // @ts-expect-error a Decimal128 is made from a string (a number would lose digits)
  void new Decimal128(12.5)
  // @ts-expect-error an ObjectId is not a Decimal128
  const wrong: Decimal128 = id
  void wrong
}

function errors (error: CallError) {
  if (error.code === 'ERR_DUPLICATE_ID') check<Equal<typeof error.name, 'TaskQueueError'>>()
  if (error.code === 'ERR_INVALID_ARG') check<Equal<typeof error.name, 'TypeError'>>()
  const base: Error = error
  void base
  // @ts-expect-error not a code this package has
  if (error.code === 'ERR_CLUSTER_STOPPED') void error
}

void adds; void listeners; void collection; void cursors; void inMemory; void cluster; void ipc; void values; void errors
void given

async function steering (c: Cluster) {
  const workers: WorkerInfo[] = c.workers()
  for (const w of workers) {
    check<Equal<typeof w.state, 'starting' | 'ready' | 'running' | 'retiring'>>()
    check<Equal<typeof w.rssBytes, number | null>>()
    if (w.task !== null) check<Equal<typeof w.task.startedAt, Date>>()
  }
  const n: number = await TaskQueue.cancel('id', 'no longer needed')
  const m: number = await TaskQueue.cancel({ taskType: 'REPORT' })
  void n; void m
  TaskQueue.cancel('id', (error, count) => { if (!error) check<Equal<typeof count, number>>() })
  // @ts-expect-error the reason is a string
  TaskQueue.cancel('id', 42)
  const limits: Limits = { concurrency: 2, rate: { max: 10, per: 1000 }, perGroup: { concurrency: 1 } }
  await TaskQueue.setLimits('REPORT', limits)
  await TaskQueue.setLimits('REPORT', null)
  // @ts-expect-error a rate needs its window
  TaskQueue.setLimits('REPORT', { rate: { max: 10 } })
  await TaskQueue.addTask({ taskType: 'IMPORT', data: {}, group: 'tenant-42' })
  TaskQueue.addEventListener('done', ({ task }) => {
    check<Equal<typeof task.group, string | undefined>>()
  })
  TaskQueue.addEventListener('progress', (event) => {
    check<Equal<typeof event, ProgressEvent>>()
    const value: EJSONValue = event.value
    void value
  })
  TaskQueue.addEventListener('error', ({ value }) => {
    if (value.code === 'ERR_TASK_CANCELLED') {
      const cancelled: TaskCancelledError | ThrownError = value
      void cancelled
    }
  })
  const stats = c.stats()
  if (stats !== null) {
    const retired: number = stats.counters.workersRetired + stats.counters.workerStartFailures
    void retired
  }
}
void steering
