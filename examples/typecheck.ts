// Compiled with `tsc --noEmit --strict -p examples` to check index.d.ts
// against the way the README uses the API.
import { Cluster, TaskQueue, type Job, type Task, type ToggleIPC } from 'meteor-cluster'

const taskMap = {
  SYNC: (job: Task) => job.data,
  ASYNC: async (job: Job<Task<{ timeout: number }>>) => {
    job.progress(50)
    return job.signal.aborted ? 0 : job.data.timeout
  },
  PING: (_job: Task, toggleIPC: ToggleIPC) =>
    toggleIPC((msg: string, closeIPC) => closeIPC(msg), (send) => send({ status: 4, data: 'ping' }))
}

const cluster = new Cluster(taskMap, {
  maxAvailableWorkers: Cluster.maxWorkers() - 1,
  keepAlive: 'always',
  messageBroker: (respond, msg) => { if (msg.data === 'ping') respond('pong') }
})

if (Cluster.isMaster()) {
  TaskQueue.addEventListener('done', ({ value, task }) => console.log(value, task._id, task.createdAt.getTime()))
  TaskQueue.addEventListener('error', ({ value }) => console.error(value.message, value.stack))
  const id: Promise<string> = TaskQueue.addTask({ taskType: 'SYNC', data: { when: new Date() }, priority: 2, inMemory: true })
  void id.then((taskId) => TaskQueue.inMemory.findById(taskId)?.onGoing)
  cluster.setRefreshRate(500)
  const started: number | null | undefined = cluster.stats()?.counters.lastWorkerStartMs
  void started
  void cluster.close()
}
