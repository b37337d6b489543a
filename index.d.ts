// Public typings of meteor-cluster, written by hand (binding.d.ts is the
// addon's, generated and private). Checked by `npm run lint` against
// examples/ and the compile tests in __test__/types/. In order:
//
//   EJSON values   in ejson.d.ts: what task data, results, IPC messages and
//                  documents hold (EJSONValue, EJSONCompatible, Decoded,
//                  ObjectId, Decimal128), re-exported here
//   task types     TaskTypes (augment it), Task, NewTask, TaskMap, TaskDocument
//   errors         ErrorCode, the error values of `error` and `retry`, call errors
//   TaskQueue      adds, listeners, collection calls, the Cursor, inMemory
//   Cluster        options, stats, lifecycle
//   IPC            toggleIPC and the messageBroker

import type {
  CarriedBSON, Decoded, EJSONCompatible, EJSONCustomType, EJSONObject, EJSONValue, ObjectIdLike
} from './ejson'

export { ObjectId, Decimal128 } from './ejson'
export type {
  JSONValue, EJSONCustomType, EJSONTypeTag, ObjectIdLike, Decimal128Like, EJSONValue, EJSONObject,
  EJSONCompatible, Decoded
} from './ejson'

// ----------------------------------------------------------- task types --

/**
 * Your task types and their data. Empty here: augment it to have
 * `addTask`, the taskMap and the listeners checked against it.
 *
 * ```ts
 * declare module 'meteor-cluster' {
 *   interface TaskTypes {
 *     resize: { url: string, width?: number }
 *   }
 * }
 * ```
 *
 * Augmented, a `taskType` must be one of its keys and `data` its type; the
 * taskMap's functions and the listeners get tasks typed by it. Left
 * empty, any string is a task type and data is any object of EJSON values.
 */
export interface TaskTypes {}

/** Whether `TaskTypes` was augmented (has any key). */
type Typed = [keyof TaskTypes] extends [never] ? false : true

/** A task type: a key of `TaskTypes`, or any string while it is empty. */
export type TaskType = Typed extends true ? keyof TaskTypes & string : string

/** Task data when `TaskTypes` is not augmented: an object of EJSON values. */
export type TaskData = EJSONObject

/** What `data` holds for task type `K`, as the task function reads it. */
export type TaskDataOf<K extends TaskType> = Typed extends true
  ? K extends keyof TaskTypes ? Decoded<TaskTypes[K]> : never
  : TaskData

/**
 * A task as task functions, listeners and `inMemory` see it. `Data` is its
 * data's type, `Type` its task type.
 */
export interface Task<Data = TaskData, Type extends string = string> {
  /** Its id: the one given to `addTask`, or a Meteor-style 17-character random id. */
  _id: string
  /** Which function of the taskMap runs it. */
  taskType: Type
  /** Its data, as EJSON carried it. */
  data: Data
  /** Higher runs first. */
  priority: number
  /** When it was added. */
  createdAt: Date
  /** Not started before this; for a recurring task, the occurrence this run is. */
  dueDate: Date
  /** Running, or sent ahead to a worker. */
  onGoing: boolean
  /**
   * The latest `job.progress(value)` of its run in progress (in-memory
   * task objects, and persistent documents); absent before the first.
   */
  progress?: EJSONValue
  /** Its `group` (a tenant, a customer...), when it was added with one. */
  group?: string
}

/**
 * What a task function gets: the task, and what steers it while it runs.
 * It serializes as the plain task (`toJSON`).
 */
export type Job<T extends Task = AnyTask> = T & {
  /**
   * Reports how far along the task is: a number from 0 to 100, or any
   * EJSON value. The master fires a `progress` event; a persistent task's
   * document keeps the latest in `progress`. Cheap in a tight loop: only
   * the latest value is sent (at most every 100 ms, and always before the
   * task's outcome).
   */
  progress(value: EJSONValue): void
  /**
   * Aborted when the task is cancelled (`TaskQueue.cancel`, reason a
   * `TaskCancelledError`) or runs past its time limit (a
   * `TaskTimeoutError`). A task that then ends within `cancelGrace` keeps
   * its worker; one that does not has its worker stopped.
   */
  readonly signal: AbortSignal
}

/**
 * The task of type `K`. With `TaskTypes` augmented and `K` a union, a
 * union of tasks that `taskType` tells apart.
 */
export type TaskOf<K extends TaskType = TaskType> = Typed extends true
  ? K extends keyof TaskTypes ? Task<Decoded<TaskTypes[K]>, K> : never
  : Task<TaskData, K>

/** Any task: with `TaskTypes` augmented, a union that `taskType` tells apart. */
export type AnyTask = TaskOf<TaskType>

/** How a failed attempt is retried. */
export interface RetryOptions {
  /** How many retries after the first attempt (0 or more, whole). */
  limit: number
  /** ms before a retry; default 1000. With `'exponential'`, the first retry's. */
  delay?: number
  /**
   * `'fixed'` (default) waits `delay` each time; `'exponential'` waits
   * `delay × 2^(attempt − 1)` after attempt `attempt` (at most 30 days).
   */
  backoff?: 'fixed' | 'exponential'
}

/**
 * How a task repeats: every `every` ms, or on a cron schedule (5 fields,
 * or 6 with seconds first) in the time zone `tz` (IANA, like
 * `'Europe/Paris'`; default UTC). An invalid expression or zone throws a
 * TypeError at `addTask`.
 */
export type RepeatOptions =
  | { /** ms between runs (a positive whole number). */ every: number, cron?: undefined, tz?: undefined }
  | { /** A cron expression, like `'0 3 * * *'`. */ cron: string, /** An IANA time zone; default UTC. */ tz?: string, every?: undefined }

/** The fields of a task to add, but `data`. */
export interface NewTaskFields<Type extends string = string> {
  /** Which function of the taskMap runs it. */
  taskType: Type
  /** Higher runs first; an integer, default 1. */
  priority?: number
  /**
   * Its id; default a Meteor-style 17-character random id. A task with this
   * id existing fails the add with `ERR_DUPLICATE_ID`, except for a
   * recurring task: its `_id` names the series, and adding it again is a
   * no-op that resolves with that `_id`.
   */
  _id?: string | null
  /** Not started before this date; default now. */
  dueDate?: Date
  /** Keep the task in the master's memory instead of MongoDB; default false. */
  inMemory?: boolean
  /**
   * Run it again after a failed attempt (a throw, a rejection, its worker's
   * death, a timeout); default the Cluster's `retry` option, else none.
   */
  retry?: RetryOptions | null
  /**
   * ms a run may take; then it fails with `TaskTimeoutError` and its worker
   * is stopped. Default the Cluster's `taskTimeout` option, else none.
   */
  timeout?: number | null
  /**
   * Run it again after each run (done, or failed with the retries spent),
   * under the same `_id`, until `TaskQueue.remove({ _id })` or
   * `inMemory.removeById(_id)`.
   */
  repeat?: RepeatOptions | null
  /**
   * Any string (a tenant, a customer...): within a task type, groups take
   * turns at equal priority, so one group's backlog does not starve
   * another's; `perGroup` limits bound each group. Tasks without one form
   * a group of their own. Stored as `group`.
   */
  group?: string
}

/** At most `max` starts in any window of `per` ms. */
export interface RateLimit {
  /** Starts per window (a positive whole number). */
  max: number
  /** The window, in ms (a positive whole number). */
  per: number
}

/** A concurrency and a rate, each optional. */
export interface LimitBounds {
  /** At most this many running at once. */
  concurrency?: number
  /** At most `max` starts in any window of `per` ms. */
  rate?: RateLimit
}

/**
 * A task type's limits. For persistent tasks they hold across every master
 * sharing the collection (they live in `<collection>.limits`); in-memory
 * tasks obey them within their master. A task waiting on a limit is not
 * failed and not counted as an attempt, and other types keep running.
 */
export interface Limits extends LimitBounds {
  /** The bounds of each group of the type, on its own. */
  perGroup?: LimitBounds
}

/** `data` of a new task: optional when `{}` is a valid one (its default). */
type DataField<D> = {} extends D
  ? { /** The task's data; default `{}`. */ data?: D }
  : { /** The task's data. */ data: D }

/**
 * A task to add, of type `K`, with `TaskTypes` augmented; a union over the
 * task types by default, that `taskType` tells apart.
 */
export type NewTask<K extends TaskType = TaskType> = Typed extends true
  ? K extends keyof TaskTypes ? NewTaskFields<K> & DataField<EJSONCompatible<TaskTypes[K]>> : never
  : NewTaskFields<K> & { /** The task's data, an object; default `{}`. */ data?: TaskData }

/**
 * The function that runs tasks of type `K` in a worker. What it returns
 * (awaited when a Promise) is the `done` event's `value`; it must be an
 * EJSON value, or the task fails with a TypeError saying why. A throw or a
 * rejection fails the task (or retries it); the worker keeps serving.
 */
export type TaskFunction<K extends TaskType = TaskType> =
  (job: Job<TaskOf<K>>, toggleIPC: ToggleIPC) => unknown

/**
 * A task function of the untyped taskMap. Its `job` may be annotated with a
 * narrower data type (`job: Task<{ timeout: number }>`), as a method's
 * parameter may: the data is whatever the task was added with.
 */
type LooseTaskFunction = {
  bivariance(job: Job<Task>, toggleIPC: ToggleIPC): unknown
}['bivariance']

/**
 * `new Cluster`'s first argument: a function per task type. With
 * `TaskTypes` augmented, any of its keys (a master runs only the task
 * types of its own taskMap, so masters may share a collection) and no
 * others.
 */
export type TaskMap = Typed extends true
  ? { [K in TaskType]?: TaskFunction<K> }
  : { [taskType: string]: LooseTaskFunction }

/** Why a persistent task failed last, as stored in its document. */
export interface StoredError {
  /** The error's name (`'WorkerExitError'`, `'TypeError'`...). */
  name: string
  /** What happened. */
  message: string
  /** Where, when the error had a stack. */
  stack?: string
  /** Its `code`, when it had one. */
  code?: EJSONValue
  /** The signal that killed the worker, for a `WorkerExitError` by signal. */
  signal?: string
  /** When the attempt failed. */
  at: Date
}

/**
 * A persistent task's document, as `find` and `findOne` read it (with
 * `fields`/`projection`, only the fields asked for are there). The fields
 * past `onGoing` are this package's additions to upstream's shape.
 */
export interface TaskDocument<Data = TaskData, Type extends string = string> extends Task<Data, Type> {
  /** Attempts claimed so far (the running one included); reset for each run of a series. */
  attempts?: number
  /** `true` once it failed for good: it stays, and is not claimed again. */
  failed?: boolean
  /** Why its last attempt failed (kept between retries). */
  lastError?: StoredError
  /** When it failed for good. */
  failedAt?: Date
  /** While claimed: which master holds it, under which claim, until when unless renewed. */
  lease?: { owner: string, token: string, expires: Date }
  /** Its retry policy, with the defaults filled in. */
  retry?: Required<RetryOptions>
  /** Its time limit per run, in ms. */
  timeout?: number
  /** Its repetition. */
  repeat?: RepeatOptions
  /** While a run of its series waits for a retry: when that occurrence was due (the series goes on from there). */
  slot?: Date
  /** A cancel asked for it (`TaskQueue.cancel`): by which cancel, why, when. */
  cancel?: { token: string, reason: string, at: Date }
}

/** Any task's document: with `TaskTypes` augmented, a union that `taskType` tells apart. */
export type AnyTaskDocument = Typed extends true
  ? { [K in TaskType]: TaskDocument<TaskDataOf<K>, K> }[TaskType]
  : TaskDocument

// --------------------------------------------------------------- errors --

/**
 * Every error code, with the `name` of the errors that carry it (defined
 * once, in `src/error.rs`).
 */
export interface ErrorNames {
  /** A bad argument: a task field, a selector, a modifier, an option, a callback. */
  ERR_INVALID_ARG: 'TypeError'
  /** A task (in memory or persistent) with this `_id` exists. */
  ERR_DUPLICATE_ID: 'TaskQueueError'
  /** MongoDB could not be reached (after about 5 s). */
  ERR_MONGO_UNAVAILABLE: 'TaskQueueError'
  /** The MongoDB URL or settings cannot work (no database name...). */
  ERR_MONGO_CONFIG: 'TaskQueueError'
  /** MongoDB refused or failed the operation; its message says why. */
  ERR_MONGO: 'TaskQueueError'
  /** A persistent call with no MongoDB: `inMemoryOnly`, or no `MONGO_URL`/`mongoUrl`. */
  ERR_NO_PERSISTENT_QUEUE: 'TaskQueueError'
  /** The cluster was closed. */
  ERR_CLOSED: 'ClusterError'
  /** The master's dispatcher failed and stopped (a bug; the message says where). */
  ERR_DISPATCHER_FAILED: 'ClusterError'
  /** The worker running the task ended. */
  ERR_WORKER_EXIT: 'WorkerExitError'
  /** The task ran longer than its `timeout`. */
  ERR_TASK_TIMEOUT: 'TaskTimeoutError'
  /** The task was cancelled (`TaskQueue.cancel`). */
  ERR_TASK_CANCELLED: 'TaskCancelledError'
  /** The worker's taskMap has no function for the task's type. */
  ERR_UNKNOWN_TASK_TYPE: 'Error'
  /** A persistent task's document cannot be read (its message says what and where). */
  ERR_UNDECODABLE_DOCUMENT: 'UndecodableDocumentError'
  /** A master-only call made in a worker. */
  ERR_MASTER_ONLY: 'Error'
  /** A persistent task larger than MongoDB stores in one document (16 MB); it was not sent. */
  ERR_DOCUMENT_TOO_LARGE: 'TaskQueueError'
  /** A dashboard action found no task (or master) in the state it needs: it changed meanwhile. */
  ERR_NOT_FOUND: 'NotFoundError'
}

/** The stable codes errors carry. */
export type ErrorCode = keyof ErrorNames

/**
 * The error of a failed `TaskQueue` call (what its promise rejects with,
 * and its callback gets): an `Error` with a `code` and the matching `name`.
 * When the native addon cannot be loaded, the code is
 * `'METEOR_CLUSTER_NO_ADDON'`.
 */
export type CallError =
  | { [C in ErrorCode]: Error & { name: ErrorNames[C], code: C } }[ErrorCode]
  | (Error & { code: 'METEOR_CLUSTER_NO_ADDON' })

/** A task's worker process ended while it ran. */
export interface WorkerExitError {
  name: 'WorkerExitError'
  code: 'ERR_WORKER_EXIT'
  /** Which worker (id and pid), how it ended, and which task it ran. */
  message: string
  /** `WorkerExitError: ` and the message (there is no JS stack to give). */
  stack: string
  /** Its exit code, or `null` when a signal killed it. */
  exitCode: number | null
  /** The signal that killed it (`'SIGKILL'`), or `null` when it exited. */
  signal: string | null
}

/**
 * A run took longer than its `timeout`: its `job.signal` was aborted with
 * this error, and its worker stopped if it did not end within `cancelGrace`.
 */
export interface TaskTimeoutError {
  name: 'TaskTimeoutError'
  code: 'ERR_TASK_TIMEOUT'
  /** Which task, and its timeout in ms (and whether its worker was stopped). */
  message: string
  /** Not set today: the error is made by the master, not thrown by the task. */
  stack?: string
}

/**
 * The task was cancelled (`TaskQueue.cancel`): queued, it ended at once;
 * running, its `job.signal` was aborted with this error. Never retried.
 */
export interface TaskCancelledError {
  name: 'TaskCancelledError'
  code: 'ERR_TASK_CANCELLED'
  /** The cancel's `reason`, when one was given (and whether its worker was stopped). */
  message: string
  /** Not set: the error is made by the master. */
  stack?: string
}

/** A persistent task whose document cannot be read; it fails alone. */
export interface UndecodableDocumentError {
  name: 'UndecodableDocumentError'
  code: 'ERR_UNDECODABLE_DOCUMENT'
  /** The document's `_id`, and what cannot be read where. */
  message: string
  /** Not set today: the error is made by the master. */
  stack?: string
}

/** The worker's taskMap has no function for the task's type. */
export interface UnknownTaskTypeError {
  name: 'Error'
  code: 'ERR_UNKNOWN_TASK_TYPE'
  /** Names the task type. */
  message: string
  /** Where the worker found out. */
  stack: string
}

/**
 * What the task function threw or rejected with. An `Error` comes as its
 * `name`, `message`, `stack` and every own field that EJSON can carry
 * (`code` included); anything else as `{ name: 'Error', message:
 * String(it), stack: '', value: it }`. A result EJSON cannot carry fails the
 * task with the codec's `TypeError`.
 */
export interface ThrownError {
  /** The error's `name`, or `'Error'` for a thrown non-Error. */
  name: string
  /** The error's `message`, or the thrown value as a string. */
  message: string
  /** The error's stack in the worker; `''` for a thrown non-Error. */
  stack: string
  /** The error's `code`, if it had one (a `TaskQueue` call's error has an `ErrorCode`). */
  code?: EJSONValue
  /** The error's other own fields, as EJSON carried them. */
  [field: string]: EJSONValue | undefined
}

/**
 * The `value` of an `error` or `retry` event: a plain object, not an
 * `Error`. Tell them apart by `code`; a task may throw errors with any
 * code, so after `code === 'ERR_WORKER_EXIT'` the type is still
 * `WorkerExitError | ThrownError`.
 */
export type TaskError =
  | WorkerExitError
  | TaskTimeoutError
  | TaskCancelledError
  | UndecodableDocumentError
  | UnknownTaskTypeError
  | ThrownError

// ------------------------------------------------------------ TaskQueue --

/**
 * A Node-style callback: `(error)` when the call failed, `(null, result)`
 * when it succeeded. After `if (error) return`, `result` is a `T`.
 */
export type Callback<T> = (...args: [error: CallError, result: undefined] | [error: null, result: T]) => void

/** A task finished: `value` is what its function returned (`undefined` for nothing). */
export interface DoneEvent<T = AnyTask> {
  /** The task function's return value, as EJSON carried it. */
  value: EJSONValue | undefined
  /** The task (read from its EJSON only when this is read). */
  task: T
}

/** A task failed for good: no retries were left (or none were asked for). */
export interface ErrorEvent<T = AnyTask> {
  /** Why its last attempt failed. */
  value: TaskError
  /** The task. */
  task: T
}

/** An attempt failed and the task will run again at `nextRunAt`. */
export interface RetryEvent<T = AnyTask> {
  /** Why the attempt failed. */
  value: TaskError
  /** The task. */
  task: T
  /** The attempt that failed, from 1. */
  attempt: number
  /** When the next attempt is due. */
  nextRunAt: Date
}

/** A running task reported progress (`job.progress(value)`). */
export interface ProgressEvent<T = AnyTask> {
  /** The value reported (the latest of a burst). */
  value: EJSONValue
  /** The task. */
  task: T
}

/** The events `TaskQueue.addEventListener` takes, by type. */
export interface TaskEvents {
  /** A task finished. */
  done: DoneEvent
  /** A task failed for good. */
  error: ErrorEvent
  /** A failed attempt will be retried. */
  retry: RetryEvent
  /** A running task reported progress; a task's progress events come before its `done` or `error`. */
  progress: ProgressEvent
}

/** A value a query may hold: anything EJSON carries, `undefined` fields being left out. */
export type QueryValue =
  | string | number | boolean | null | undefined
  | Date | Uint8Array | RegExp | EJSONCustomType | CarriedBSON
  | readonly QueryValue[]
  | { readonly [key: string]: QueryValue }

/**
 * Which persistent tasks: a MongoDB query (`{ taskType: 'resize', failed:
 * true }`, `{ priority: { $gt: 2 } }`, dotted paths like `'data.url'`), or
 * an `_id`. `undefined`, `null`, `''` and `{ _id: undefined }` match
 * nothing, as in Meteor.
 */
export type Selector = string | { readonly [field: string]: QueryValue } | null | undefined

/** A sort direction: ascending or descending (the words in any case). */
export type SortDirection = 1 | -1 | 'asc' | 'desc' | 'ascending' | 'descending'

/**
 * Meteor's sort forms: `{ priority: -1, createdAt: 1 }`, a field name, or
 * an array of field names (ascending) and `[field, direction]` pairs, as
 * `[['priority', 'desc'], 'createdAt']`. (`['priority', 'desc']` is two
 * field names, which Meteor reads so too: refused.)
 */
export type SortSpecifier =
  | string
  | { readonly [field: string]: SortDirection }
  | ReadonlyArray<string | readonly [field: string, direction?: SortDirection]>

/** The options of `find` and `count`. Reactivity options are accepted and ignored. */
export interface FindOptions {
  /** The order; see `SortSpecifier`. */
  sort?: SortSpecifier | null
  /** How many matching tasks to leave out first (a whole number). */
  skip?: number | null
  /** At most this many (a whole number; 0 means no limit). */
  limit?: number | null
  /** Fields to include (`{ data: 1 }`) or to exclude (`{ data: 0 }`), not both (`_id` aside). */
  fields?: { readonly [field: string]: 0 | 1 | boolean | { readonly [operator: string]: QueryValue } } | null
  /** The same as `fields`, under the driver's name. */
  projection?: { readonly [field: string]: 0 | 1 | boolean | { readonly [operator: string]: QueryValue } } | null
  /** The index to use: its name or its key pattern (`{ priority: -1 }`). */
  hint?: string | { readonly [field: string]: number | string } | null
  /** ms MongoDB may spend on the query. */
  maxTimeMs?: number | null
  /** The same as `maxTimeMs`, under the driver's name. */
  maxTimeMS?: number | null
  /** Meteor's reactivity option: ignored (a fetch reads the same without it). */
  reactive?: boolean
  /** Meteor's reactivity option: ignored. */
  disableOplog?: boolean
  /** Meteor's reactivity option: ignored. */
  pollingIntervalMs?: number
  /** Meteor's reactivity option: ignored. */
  pollingThrottleMs?: number
  /** Only `null`: a function cannot run where MongoDB is read; transform what you fetch. */
  transform?: null
}

/** The options of `findOne`: `find`'s but `limit`. */
export type FindOneOptions = Omit<FindOptions, 'limit'>

/** The update operators `update` takes. */
export type UpdateOperator =
  | '$set' | '$unset' | '$inc' | '$mul' | '$rename' | '$setOnInsert' | '$min' | '$max'
  | '$currentDate' | '$push' | '$pull' | '$pullAll' | '$addToSet' | '$pop' | '$bit'

/**
 * An update: operators (`{ $set: { 'data.url': u }, $inc: { priority: 1 } }`),
 * or, without any `$` key, the fields of a document that replaces the
 * matched one (keeping its `_id`). Mixing both is refused.
 */
export type Modifier =
  | { readonly [Op in UpdateOperator]?: { readonly [field: string]: QueryValue } }
  | { readonly [field: string]: QueryValue }

/** The options of `update` (and `upsert`). */
export interface UpdateOptions {
  /** Update every matching document, not only the first. A replacement cannot. */
  multi?: boolean
  /** Insert a document when none matches. */
  upsert?: boolean
  /** MongoDB's filters for `$[identifier]` in the modifier's paths. */
  arrayFilters?: ReadonlyArray<{ readonly [field: string]: QueryValue }> | null
  /** The `_id` an upsert inserts with, when neither the selector nor the modifier gives one. */
  insertedId?: string | null
}

/** What `upsert` resolves with. */
export interface UpsertResult {
  /** How many documents matched, or 1 inserted. */
  numberAffected: number
  /** The inserted document's `_id`, when one was inserted. */
  insertedId?: string | ObjectIdLike
}

/**
 * What `TaskQueue.find()` returns: Meteor's cursor, with Promises. It
 * reads nothing until a method asks, and each method reads afresh. Meteor
 * 2's methods and Meteor 3's `…Async` ones are the same here; each takes an
 * optional Node-style callback last. `await cursor` fetches, and
 * `for await (const task of cursor)` iterates.
 */
export interface Cursor<T = AnyTaskDocument> extends PromiseLike<T[]>, AsyncIterable<T> {
  /** Every matching task, as an array. */
  fetch(callback?: Callback<T[]>): Promise<T[]>
  /** The same as `fetch`. */
  fetchAsync: Cursor<T>['fetch']

  /** How many tasks match; `skip` and `limit` count only when `applySkipLimit` is true, as in Meteor. */
  count(applySkipLimit?: boolean, callback?: Callback<number>): Promise<number>
  count(callback: Callback<number>): Promise<number>
  /** The same as `count`. */
  countAsync: Cursor<T>['count']

  /**
   * Calls `iteratee(task, index, cursor)` for each task in turn, awaiting
   * what it returns before the next; resolves when all are done.
   */
  forEach(iteratee: (task: T, index: number, cursor: this) => unknown, callback?: Callback<undefined>): Promise<void>
  forEach<This>(iteratee: (this: This, task: T, index: number, cursor: this) => unknown, thisArg: This, callback?: Callback<undefined>): Promise<void>
  /** The same as `forEach`. */
  forEachAsync: Cursor<T>['forEach']

  /** As `forEach`, and resolves with what `iteratee` returned (awaited), in order. */
  map<U>(iteratee: (task: T, index: number, cursor: this) => U, callback?: Callback<Array<Awaited<U>>>): Promise<Array<Awaited<U>>>
  map<U, This>(iteratee: (this: This, task: T, index: number, cursor: this) => U, thisArg: This, callback?: Callback<Array<Awaited<U>>>): Promise<Array<Awaited<U>>>
  /** The same as `map`. */
  mapAsync: Cursor<T>['map']

  /** `fetch()`, then: what makes `await cursor` give the tasks. */
  then<R1 = T[], R2 = never>(
    onFulfilled?: ((tasks: T[]) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null
  ): Promise<R1 | R2>
  /** `fetch()`, then `catch`. */
  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T[] | R>
  /** `fetch()`, then `finally`. */
  finally(onFinally?: (() => void) | null): Promise<T[]>
  /** Fetches once, on the first `next()`, then gives the tasks one by one. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T>
}

/** The master's in-memory tasks, read and removed synchronously. Master only (a worker throws). */
export interface InMemoryQueue {
  /** The in-memory task with this `_id`, or `undefined`. */
  findById(id: string): AnyTask | undefined
  /** Removes the task (ending its series, for a recurring one); returns it, or `undefined`. */
  removeById(id: string): AnyTask | undefined
  /** Every in-memory task, running ones included. */
  tasks(): AnyTask[]
  /** In-memory tasks that could start now, in the order they will run. */
  availableTasks(): AnyTask[]
}

/**
 * The queue: the same object in the master and in workers (where calls are
 * forwarded to the master). Every call but `inMemory`'s returns a Promise
 * and takes a trailing Node-style callback; a failed call that nothing
 * awaits, `then`s or catches, and that has no callback, is logged instead of
 * becoming an unhandled rejection.
 */
export interface TaskQueueCommon {
  /**
   * One listener per type (a new one replaces the last): `done` and `error`
   * get `{ value, task }`, `retry` gets `{ value, task, attempt, nextRunAt }`.
   * In the master; in a worker it does nothing.
   */
  addEventListener<E extends keyof TaskEvents>(type: E, callback: (event: TaskEvents[E]) => void): void
  /** Removes the listener of this type. */
  removeEventListener(type: keyof TaskEvents): void

  /** The first persistent task matching `selector` (default: any), or `undefined`. */
  findOne(selector?: Selector, options?: FindOneOptions | null, callback?: Callback<AnyTaskDocument | undefined>): Promise<AnyTaskDocument | undefined>
  findOne(selector: Selector, callback: Callback<AnyTaskDocument | undefined>): Promise<AnyTaskDocument | undefined>
  findOne(callback: Callback<AnyTaskDocument | undefined>): Promise<AnyTaskDocument | undefined>
  /** The same as `findOne`. */
  findOneAsync: TaskQueueCommon['findOne']

  /** A cursor over the persistent tasks matching `selector` (default: all). It takes no callback. */
  find(selector?: Selector, options?: FindOptions | null): Cursor
  /** The same as `find`. */
  findAsync: TaskQueueCommon['find']

  /** How many persistent tasks match (options `skip`, `limit`...). */
  count(selector?: Selector, options?: FindOptions | null, callback?: Callback<number>): Promise<number>
  count(selector: Selector, callback: Callback<number>): Promise<number>
  count(callback: Callback<number>): Promise<number>
  /** The same as `count`. */
  countAsync: TaskQueueCommon['count']

  /**
   * Meteor's update: one document unless `multi`; `upsert` inserts when
   * none matches. Resolves with how many documents matched (or 1 inserted).
   */
  update(selector: Selector, modifier: Modifier, options?: UpdateOptions | null, callback?: Callback<number>): Promise<number>
  update(selector: Selector, modifier: Modifier, callback: Callback<number>): Promise<number>
  /** The same as `update`. */
  updateAsync: TaskQueueCommon['update']

  /** `update` with `upsert: true`; resolves with `{ numberAffected, insertedId }`. */
  upsert(selector: Selector, modifier: Modifier, options?: UpdateOptions | null, callback?: Callback<UpsertResult>): Promise<UpsertResult>
  upsert(selector: Selector, modifier: Modifier, callback: Callback<UpsertResult>): Promise<UpsertResult>
  /** The same as `upsert`. */
  upsertAsync: TaskQueueCommon['upsert']

  /**
   * Removes every matching persistent task (ending its series, for a
   * recurring one); resolves with how many. `{}` removes all; no selector
   * is refused.
   */
  remove(selector: Selector, callback?: Callback<number>): Promise<number>
  /** The same as `remove`. */
  removeAsync: TaskQueueCommon['remove']

  /**
   * Cancels a task by `_id` (in memory or persistent) or the persistent
   * tasks `selector` matches (as `remove` takes it). A queued task ends at
   * once; a running one has its `job.signal` aborted, and its worker is
   * stopped if it does not end within `cancelGrace`. Each fires `error`
   * with `ERR_TASK_CANCELLED` (message: `reason`, when given), is never
   * retried (a series ends), and a persistent one stays as a failed
   * document. A task another master runs is reached through MongoDB.
   * Resolves with how many tasks it cancelled. In the master and in workers.
   */
  cancel(idOrSelector: string | Selector, reason?: string, callback?: Callback<number>): Promise<number>
  cancel(idOrSelector: string | Selector, callback: Callback<number>): Promise<number>

  /**
   * Replaces `taskType`'s limits (no merge; `null` clears them). Resolves
   * once they are stored; every master obeys them within a second (or
   * `refreshRate`). In the master and in workers.
   */
  setLimits(taskType: TaskType, limits: Limits | null, callback?: Callback<void>): Promise<void>

  /** The master's in-memory tasks. */
  inMemory: InMemoryQueue
}

/** `TaskQueue`'s adds when `TaskTypes` is augmented: checked against it. */
export interface TypedTaskAdds {
  /**
   * Queues a task; resolves with its `_id` (a persistent task's once
   * MongoDB acknowledged it). Bad arguments throw a TypeError at once, or
   * go to the callback when there is one.
   */
  addTask<K extends TaskType>(task: NewTask<K>, callback?: Callback<string>): Promise<string>
  /**
   * Queues several tasks (the persistent ones in one insert); resolves with
   * their `_id`s, in order. A bad entry throws a TypeError naming its index
   * and field, and nothing is queued.
   */
  addTasks(tasks: readonly NewTask[], callback?: Callback<string[]>): Promise<string[]>
}

/** `TaskQueue`'s adds when `TaskTypes` is not augmented: any task type, data any EJSON object. */
export interface UntypedTaskAdds {
  /**
   * Queues a task; resolves with its `_id` (a persistent task's once
   * MongoDB acknowledged it). Bad arguments throw a TypeError at once, or
   * go to the callback when there is one. `data` must be EJSON all through.
   */
  addTask<Data extends object = TaskData>(
    task: NewTaskFields & { /** The task's data, an object; default `{}`. */ data?: Data & EJSONCompatible<Data> },
    callback?: Callback<string>
  ): Promise<string>
  /**
   * Queues several tasks (the persistent ones in one insert); resolves with
   * their `_id`s, in order. A bad entry throws a TypeError naming its index
   * and field, and nothing is queued.
   */
  addTasks<Data extends object = TaskData>(
    tasks: ReadonlyArray<NewTaskFields & { /** The task's data, an object; default `{}`. */ data?: Data & EJSONCompatible<Data> }>,
    callback?: Callback<string[]>
  ): Promise<string[]>
}

/** The type of `TaskQueue`. */
export type TaskQueueApi = TaskQueueCommon & (Typed extends true ? TypedTaskAdds : UntypedTaskAdds)

/** The queue (see `TaskQueueCommon`). */
export declare const TaskQueue: TaskQueueApi

// -------------------------------------------------------------- Cluster --

/** A number, or a numeric string as upstream read it (`'3008'`). */
export type NumberLike = number | `${number}`

/** `new Cluster`'s options. Upstream's are lenient: a bad value is warned about and replaced; ours throw a TypeError. */
export interface ClusterOptions {
  /** Given to each worker as its `PORT`; default 3008. */
  port?: NumberLike
  /**
   * The most workers at once; default the CPU count. Clamped to 1…CPU count
   * with upstream's warnings (and its warning when it is every CPU).
   */
  maxAvailableWorkers?: NumberLike
  /**
   * ms between looks for tasks other processes added (a change stream makes
   * it immediate where the server has one); also how long an idle worker
   * lingers. Default 1000.
   */
  refreshRate?: NumberLike
  /** Only run in-memory tasks; never touch MongoDB. Default false. */
  inMemoryOnly?: boolean
  /** The master's side of IPC: gets each message a task sends. Default none (messages are dropped with a warning). */
  messageBroker?: MessageBroker | null
  /**
   * `'all'` (default) logs each task's start and end; `'error'` only
   * warnings and errors; `'json'` everything, as one JSON object per line
   * (also `METEOR_CLUSTER_LOGS=json`).
   */
  logs?: 'all' | 'error' | 'json'
  /**
   * `'always'`: keep `maxAvailableWorkers` workers up; a number (ms):
   * keep workers that long after the last task; default `null`: stop idle
   * workers after `refreshRate`.
   */
  keepAlive?: 'always' | NumberLike | null
  /** Default true; when false nothing is dispatched before `cluster.initialize()`. */
  autoInitialize?: boolean
  /**
   * Runs a worker may hold: the one it runs and those sent ahead (they still
   * run one at a time, and a better task added later still runs first).
   * Default 256; 1 gives upstream's one task per worker. Persistent tasks are
   * sent at most 2 ahead, and a worker holds at most about a MiB of task data
   * ahead.
   */
  prefetch?: number
  /** ms a new worker has to build its `Cluster` before it is killed. Default 60000. */
  workerStartTimeout?: number
  /**
   * The MongoDB URL (`mongodb://` or `mongodb+srv://`), with its database;
   * default `MONGO_URL`. `null`: no persistent queue.
   */
  mongoUrl?: string | null
  /** The collection of persistent tasks; default `'taskQueue'`. */
  collectionName?: string
  /** ms a claimed task is held without renewal (at least 100); after a master dies its tasks come back this long after. Default 30000. */
  lease?: number
  /** The retry policy of every task added without its own `retry`. Default none. */
  retry?: RetryOptions | null
  /** The time limit in ms of every run of a task added without its own `timeout`. Default none. */
  taskTimeout?: number | null
  /**
   * ms a cancelled or timed-out run has to end once its `job.signal` is
   * aborted, before its worker is stopped. Default 5000.
   */
  cancelGrace?: number
  /** Retire a worker after this many runs (a fresh one takes over). Default none. */
  workerMaxTasks?: number | null
  /**
   * Retire a worker whose resident memory (read from the system between
   * runs; Linux) passes this many MiB, after its run. Default none.
   */
  workerMaxMemory?: number | null
  /** Node options for every worker, after the master's (`['--max-old-space-size=512']`). Default none. */
  workerExecArgv?: string[]
  /** What every worker's environment adds to the master's. Default none. */
  workerEnv?: { [name: string]: string }
  /**
   * Limits by task type, written when the master starts: they replace the
   * stored limits of the types named (others are left alone). Default none.
   */
  limits?: { [taskType: string]: Limits }
}

/** A worker as `cluster.workers()` shows it. */
export interface WorkerInfo {
  /** Its id (`cluster.worker.id` in the worker). */
  id: number
  pid: number
  /**
   * `'starting'` (not ready yet), `'ready'` (idle), `'running'` (a task),
   * `'retiring'` (retired or stopping: it takes no more tasks).
   */
  state: 'starting' | 'ready' | 'running' | 'retiring'
  /** The task it runs. */
  task: { _id: string, taskType: string, startedAt: Date } | null
  /** Runs it finished. */
  runs: number
  /** Its resident memory, read from the system (null where it does not say: only Linux does). */
  rssBytes: number | null
  /** When it was spawned. */
  startedAt: Date
}

/** What `cluster.stats()` returns: a snapshot of the master. */
export interface ClusterStats {
  /** Worker processes up or starting (not those being stopped). */
  workers: number
  /** Workers ready to run tasks. */
  readyWorkers: number
  /** Tasks running, or sent ahead to a worker. */
  running: number
  /** The in-memory queue. */
  inMemory: {
    /** Tasks queued and not running (due or scheduled). */
    queued: number
    /** Tasks that could start now. */
    available: number
  }
  /** The persistent side. */
  persistent: {
    /** Whether this master has a persistent queue (a MongoDB URL, not `inMemoryOnly`). */
    enabled: boolean
    /** Whether MongoDB answers. */
    reachable: boolean
    /** Tasks claimed and not finished. */
    claimed: number
    /** Outcomes not written to MongoDB yet. */
    unwritten: number
    /** Tasks added and not inserted yet. */
    inserting: number
  }
  /** Whether `pause()` is in force. */
  paused: boolean
  /** Since the master started. */
  counters: {
    /** Tasks done. */
    done: number
    /** Tasks failed for good. */
    failed: number
    /** Failed attempts retried. */
    retried: number
    /** Workers started. */
    workersStarted: number
    /** Workers exited. */
    workersExited: number
    /** Workers retired by `workerMaxTasks` or `workerMaxMemory`. */
    workersRetired: number
    /** Workers that died, or timed out, before they were ready. */
    workerStartFailures: number
    /** ms from spawn to ready of the most recent worker; `null` before the first. */
    lastWorkerStartMs: number | null
  }
  /** The last worker exits that were not clean stops (a crash, a kill, a failed start), newest first, each with the task it was blamed for (if any); `at` in ms. */
  recentExits: WorkerExit[]
}

/** A worker's end, as `stats().recentExits` and the dashboard show it. */
export interface WorkerExit {
  /** When it ended (ms since the epoch). */
  at: number
  id: number
  pid: number
  /** Its exit code, or `null` when a signal ended it. */
  code: number | null
  signal: string | null
  /** The run it was blamed for (it died running it), or `null`. */
  task: { _id: string, taskType: string } | null
}

/** `cluster.close`'s options. */
export interface CloseOptions {
  /**
   * ms running tasks have to finish; then their workers are stopped and
   * they are handed back (not failed, the attempt not counted). Default:
   * wait for them.
   */
  timeout?: number
}

/**
 * The pool. The same script runs in the master and in every worker:
 * `new Cluster(taskMap, options)` configures the pool in the master and
 * serves `taskMap` in a worker.
 */
export declare class Cluster {
  /** A taskMap entry that is not a function, or a bad option of ours, throws a TypeError. */
  constructor(taskMap: TaskMap, options?: ClusterOptions)
  /** `true` in the master process, `false` in a worker. */
  static isMaster(): boolean
  /** The most workers this machine can have at once: the CPUs this process may use. */
  static maxWorkers(): number
  /** Starts dispatching; needed once when `autoInitialize` is false. */
  initialize(): void
  /** How often, in ms, the master looks for tasks other processes added. */
  setRefreshRate(refreshRate: NumberLike): void
  /** A snapshot of the master; `null` in a worker. */
  stats(): ClusterStats | null
  /** Each live worker, what it runs and its memory (synchronous; master only: throws `ERR_MASTER_ONLY` in a worker). */
  workers(): WorkerInfo[]
  /**
   * The master's metrics as Prometheus text (exposition format 0.0.4):
   * tasks added and finished (by type, queue, outcome), worker exits, run
   * and wait histograms, queue depth and workers. Rejects with
   * `ERR_MASTER_ONLY` in a worker.
   */
  metrics(): Promise<string>
  /**
   * Stops dispatching, hands back claimed and sent-ahead tasks that have not
   * started, lets running tasks finish (within `timeout`), then stops every
   * worker. The same promise to every caller until it resolves; resolves at
   * once in a worker.
   */
  close(options?: CloseOptions | null): Promise<void>
  /** Stops starting tasks (and claiming persistent ones); running tasks finish. */
  pause(): void
  /** Starts tasks again after `pause()`. */
  resume(): void
}

// ------------------------------------------------------------------ IPC --

/** What a task sends to the master's `messageBroker`. */
export interface IpcMessage {
  /** A status of the app's choosing. */
  status: number | string
  /** What the message says. */
  data?: unknown
}

/** A message as the `messageBroker` gets it: the task's, with the worker's id. */
export interface BrokerMessage {
  /** The sending worker's id, in an array (as upstream). */
  id: [workerId: number]
  /** The message's status. */
  status: number | string
  /** The message's data, as EJSON carried it. */
  data?: EJSONValue
  /** Other fields the task sent. */
  [field: string]: EJSONValue | undefined
}

/** Sends a reply to the task whose message the broker got (an EJSON value). */
export type Respond = <Reply>(reply: Reply & EJSONCompatible<Reply>) => void

/**
 * The master's handler of IPC messages: `respond(reply)` reaches the
 * task's `onMessage(reply, closeIPC)`. Runs in Meteor's environment in a
 * Meteor server; a throw or a rejection is logged.
 */
export type MessageBroker = (respond: Respond, message: BrokerMessage) => void

/** Sends a message to the master's `messageBroker` (an EJSON object). */
export type SendToMaster = <Message extends IpcMessage>(message: Message & EJSONCompatible<Message>) => void

/**
 * Inside a task: `initialize(send)` sends messages to the master's
 * `messageBroker`; its `respond(reply)` reaches `onMessage(reply, closeIPC)`.
 * Resolves with `closeIPC`'s argument, or else with what `onMessage`
 * returned for the first reply (awaited: it can chain another `toggleIPC`).
 * `Reply` is what the broker responds with; annotate `onMessage`'s first
 * parameter to say it.
 */
export type ToggleIPC = <Reply extends EJSONValue = EJSONValue, Result = unknown>(
  onMessage: (reply: Reply, closeIPC: (result?: Result) => void) => Result | PromiseLike<Result> | void,
  initialize: (send: SendToMaster) => void
) => Promise<Result | undefined>
