// Public typings of meteor-cluster (hand-written; binding.d.ts is generated).

/** A task as task functions and listeners see it. */
export interface Task<Data = Record<string, unknown>> {
  _id: string
  taskType: string
  data: Data
  priority: number
  createdAt: Date
  dueDate: Date
  onGoing: boolean
}

export interface NewTask<Data = Record<string, unknown>> {
  taskType: string
  /** Any object of JSON values and Dates; defaults to `{}`. */
  data?: Data
  /** Higher runs first; an integer, default 1. */
  priority?: number
  /** Default: a Meteor-style 17-character random id. */
  _id?: string
  /** Not started before this date; default now. */
  dueDate?: Date
  /** Keep the task in the master's memory instead of MongoDB; default false. */
  inMemory?: boolean
}

/** What a task that throws or rejects (or whose worker dies) reports. */
export interface TaskError {
  name: string
  message: string
  stack: string
  /** Set when the worker process exited mid-task. */
  code?: number | null
  signal?: string | null
  [field: string]: unknown
}

export interface DoneEvent<Value = unknown> {
  value: Value
  task: Task
}

export interface ErrorEvent {
  value: TaskError
  task: Task
}

export interface IpcMessage<Data = unknown> {
  status: number
  data: Data
}

/**
 * Inside a task: `initialize(send)` sends messages to the master's
 * `messageBroker`; each `respond(x)` there reaches `onMessage(x, closeIPC)`.
 * Resolves with `closeIPC`'s argument, or else with `onMessage`'s return value.
 */
export type ToggleIPC = <Result = unknown>(
  onMessage: (msg: any, closeIPC: (result?: Result) => void) => Result | Promise<Result> | void,
  initialize: (sendMessageToMaster: (msg: IpcMessage) => void) => void
) => Promise<Result>

export type TaskFunction = (job: Task<any>, toggleIPC: ToggleIPC) => unknown

export interface ClusterOptions {
  /** Given to each worker as its PORT environment variable; default 3008. */
  port?: number
  /** Default: the CPU count; clamped to [1, CPU count] with a warning. */
  maxAvailableWorkers?: number
  /** ms; paces polling MongoDB for tasks other processes added, and how long an idle worker lingers. Default 1000. */
  refreshRate?: number
  /** Only run in-memory tasks; never touch MongoDB. Default false. */
  inMemoryOnly?: boolean
  /** The master's handler of IPC messages from tasks. */
  messageBroker?: ((respond: (reply: unknown) => void, msg: IpcMessage<any>) => void) | null
  /** 'all' (default) logs each task's start and end; 'error' only warnings and errors. */
  logs?: 'all' | 'error'
  /** 'always': keep maxAvailableWorkers alive; a number: keep workers that many ms after the last task. */
  keepAlive?: 'always' | number | null
  /** Default true; when false nothing is dispatched before `initialize()`. */
  autoInitialize?: boolean
  /**
   * Runs a worker may hold: the one it runs and those sent ahead (they still run one at a time,
   * and a better task added later still runs first). Default 64; 1 gives upstream's one task
   * per worker. Persistent tasks are sent at most 2 ahead, so other masters get their share,
   * and a worker holds at most about a MiB of task data ahead.
   */
  prefetch?: number
  /** ms a new worker has to construct its Cluster before it is killed. Default 60000. */
  workerStartTimeout?: number
}

export interface ClusterStats {
  workers: number
  readyWorkers: number
  running: number
  inMemory: { queued: number, available: number }
  persistent: { enabled: boolean, reachable: boolean, claimed: number, unwritten: number, inserting: number }
  counters: {
    done: number
    failed: number
    workersStarted: number
    workersExited: number
    /** ms from spawn to ready of the most recent worker. */
    lastWorkerStartMs: number | null
  }
}

export declare class Cluster {
  constructor(taskMap: Record<string, TaskFunction>, options?: ClusterOptions)
  /** true in the master process, false in a worker. */
  static isMaster(): boolean
  /** The CPU count: the most workers there can be at once. */
  static maxWorkers(): number
  setRefreshRate(refreshRate: number): void
  /** Starts dispatching when `autoInitialize` is false. */
  initialize(): void
  /** A snapshot of the master (`null` in a worker). */
  stats(): ClusterStats | null
  /** Lets running tasks finish and stops every worker; the same promise for every caller. */
  close(): Promise<void>
}

export interface InMemoryQueue {
  findById(id: string): Task | undefined
  removeById(id: string): boolean
  tasks(): Task[]
  availableTasks(): Task[]
}

export interface TaskQueueApi {
  /** Resolves with the task's `_id`; bad arguments throw a TypeError at once. */
  addTask<Data = Record<string, unknown>>(task: NewTask<Data>): Promise<string>
  addEventListener(type: 'done', callback: (event: DoneEvent) => void): void
  addEventListener(type: 'error', callback: (event: ErrorEvent) => void): void
  removeEventListener(type: 'done' | 'error'): void
  /** Master only. */
  inMemory: InMemoryQueue
}

export declare const TaskQueue: TaskQueueApi
