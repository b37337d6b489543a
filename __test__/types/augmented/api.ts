// Compile test of the typings with `TaskTypes` augmented (task-types.ts):
// adds are checked against it, the taskMap's jobs and the listeners' tasks
// are typed by it. Run by `npm run lint` (tsc --strict); each
// `@ts-expect-error` marks what must not compile. Never run.
import {
  Cluster, TaskQueue, ObjectId,
  type AnyTask, type AnyTaskDocument, type NewTask, type ObjectIdLike, type Task,
  type TaskDataOf, type TaskDocument, type TaskMap, type TaskOf, type TaskType, type Cursor, type Job
} from 'meteor-cluster'
import { check, given, type Equal } from '../assert.js'

type Resize = { url: string, width?: number }
type ReportRead = { day: Date, ids: ObjectIdLike[], raw?: Uint8Array, tags: string[], rows: Array<number | null> }

// The task types are the augmentation's keys; data is read back as EJSON
// carries it (a Buffer as a Uint8Array, an ObjectId as ObjectIdLike).
check<Equal<TaskType, 'resize' | 'report' | 'cleanup'>>()
check<Equal<TaskDataOf<'resize'>, Resize>>()
check<Equal<TaskDataOf<'report'>, ReportRead>>()
check<Equal<TaskOf<'resize'>, Task<Resize, 'resize'>>>()
check<Equal<AnyTask, Task<Resize, 'resize'> | Task<ReportRead, 'report'> | Task<Record<string, never>, 'cleanup'>>>()
check<Equal<AnyTaskDocument, TaskDocument<Resize, 'resize'> | TaskDocument<ReportRead, 'report'> | TaskDocument<Record<string, never>, 'cleanup'>>>()

async function adds (url: string, someType: string) {
  const id: string = await TaskQueue.addTask({ taskType: 'resize', data: { url } })
  void id
  await TaskQueue.addTask({ taskType: 'resize', data: { url, width: 200 }, priority: 2, retry: { limit: 3 }, timeout: 1000 })
  await TaskQueue.addTask({
    taskType: 'report',
    data: { day: new Date(), ids: [new ObjectId()], raw: Buffer.from('x'), tags: ['a'], rows: [1, undefined] },
    repeat: { cron: '0 3 * * *', tz: 'Europe/Paris' },
    _id: 'nightlyReport'
  })
  // A type whose data may be empty needs none.
  await TaskQueue.addTask({ taskType: 'cleanup' })
  await TaskQueue.addTask({ taskType: 'cleanup', data: {} }, (error, taskId) => { if (!error) check<Equal<typeof taskId, string>>() })
  const ids: string[] = await TaskQueue.addTasks([
    { taskType: 'resize', data: { url } },
    { taskType: 'cleanup', inMemory: true }
  ])
  void ids
  // A task built apart is typed by NewTask.
  const built: NewTask<'resize'> = { taskType: 'resize', data: { url } }
  const any: NewTask = built
  await TaskQueue.addTask(any)
  await TaskQueue.addTasks([built, any])

  // @ts-expect-error an unknown task type
  void TaskQueue.addTask({ taskType: 'resise', data: { url } })
  // @ts-expect-error a task type must be one of TaskTypes' keys, not any string
  void TaskQueue.addTask({ taskType: someType, data: { url } })
  // @ts-expect-error url is a string
  void TaskQueue.addTask({ taskType: 'resize', data: { url: 42 } })
  // @ts-expect-error resize's data is required: url has no default
  void TaskQueue.addTask({ taskType: 'resize' })
  // @ts-expect-error url is missing
  void TaskQueue.addTask({ taskType: 'resize', data: { width: 100 } })
  // @ts-expect-error a field resize's data does not have
  void TaskQueue.addTask({ taskType: 'resize', data: { url, height: 100 } })
  // @ts-expect-error another type's data
  void TaskQueue.addTask({ taskType: 'cleanup', data: { url } })
  // @ts-expect-error raw is a Buffer
  void TaskQueue.addTask({ taskType: 'report', data: { day: new Date(), ids: [], raw: 'bytes', tags: [], rows: [] } })
  // @ts-expect-error day is a Date, not its number
  void TaskQueue.addTask({ taskType: 'report', data: { day: Date.now(), ids: [], tags: [], rows: [] } })
  // @ts-expect-error every entry of addTasks is checked
  void TaskQueue.addTasks([{ taskType: 'resize', data: { url } }, { taskType: 'resize', data: {} }])
  // @ts-expect-error NewTask<'resize'> is resize's
  const wrong: NewTask<'resize'> = { taskType: 'cleanup' }
  void wrong
}

function taskMap () {
  const cluster = new Cluster({
    resize: (job) => {
      check<Equal<typeof job, Job<Task<Resize, 'resize'>>>>()
      job.progress(10)
      const width: number = job.data.width ?? 100
      return { url: job.data.url, width }
    },
    report: async (job, toggleIPC) => {
      check<Equal<typeof job.data.raw, Uint8Array | undefined>>()
      check<Equal<typeof job.data.ids, ObjectIdLike[]>>()
      check<Equal<typeof job.data.rows, Array<number | null>>>()
      const hex: string[] = job.data.ids.map((id) => id.toHexString())
      await toggleIPC((reply) => reply, (send) => send({ status: 'report', data: { day: job.data.day, hex } }))
      // @ts-expect-error a Uint8Array is not a Buffer: EJSON brings binary back as a Uint8Array
      job.data.raw?.toString('base64')
      // @ts-expect-error report's data has no url
      void job.data.url
      return hex.length
    },
    cleanup: () => {}
  }, { retry: { limit: 1 } })
  void cluster

  // A taskMap built apart, as the README shows it: TaskMap types its jobs.
  const apart: TaskMap = {
    resize: async (job) => job.data.url.length + (job.data.width ?? 0),
    cleanup: (job) => { check<Equal<typeof job.data, Record<string, never>>>() }
  }
  new Cluster(apart)
  // @ts-expect-error TaskMap knows the task types
  const typo: TaskMap = { resise: () => {} }
  void typo

  // A master may run only some of the task types (masters may share a collection).
  new Cluster({ resize: (job: TaskOf<'resize'>) => job.data.url })
  // A job annotated with its task type, or one wider.
  new Cluster({ resize: (job: Task<{ url: string }>) => job.data.url })

  // @ts-expect-error a task type TaskTypes does not have
  new Cluster({ resise: () => {} })
  // @ts-expect-error the job of resize is not a report
  new Cluster({ resize: (job: TaskOf<'report'>) => job.data.day })
  // @ts-expect-error resize's url is a string
  new Cluster({ resize: (job: Task<{ url: number }>) => job.data.url })
}

async function reads () {
  TaskQueue.addEventListener('done', ({ task, value }) => {
    check<Equal<typeof task, AnyTask>>()
    // The listeners see the union; taskType tells its members apart.
    if (task.taskType === 'resize') check<Equal<typeof task.data, Resize>>()
    else if (task.taskType === 'report') check<Equal<typeof task.data.day, Date>>()
    else check<Equal<typeof task.taskType, 'cleanup'>>()
    void value
  })
  TaskQueue.addEventListener('retry', ({ task, attempt }) => {
    if (task.taskType === 'resize') void `${task.data.url} attempt ${attempt}`
    // @ts-expect-error narrow by taskType first: not every task has a url
    void task.data.url
  })
  TaskQueue.addEventListener('error', ({ task, value }) => {
    // @ts-expect-error no such task type
    if (task.taskType === 'resise') void value
  })

  const inMemory = TaskQueue.inMemory.findById('id')
  check<Equal<typeof inMemory, AnyTask | undefined>>()
  if (inMemory?.taskType === 'resize') check<Equal<typeof inMemory.data.url, string>>()

  const cursor = TaskQueue.find({ taskType: 'report' })
  check<Equal<typeof cursor, Cursor<AnyTaskDocument>>>()
  for await (const doc of cursor) {
    if (doc.taskType === 'report') check<Equal<typeof doc.data.tags, string[]>>()
    void doc.lastError?.message
  }
  const found = await TaskQueue.findOne({ taskType: 'resize' })
  if (found?.taskType === 'resize') check<Equal<typeof found.data.width, number | undefined>>()
}

void adds; void taskMap; void reads; void given
