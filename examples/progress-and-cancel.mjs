// Steering tasks while they run, in memory (no MongoDB needed):
// - an IMPORT task works through 5 batches, reporting its progress after
//   each (`job.progress`): the master prints each `progress` event;
// - a second IMPORT is cancelled while it runs (`TaskQueue.cancel` with a
//   reason): its `job.signal` is aborted, the task stops at its next batch
//   and ends with an `error` event, `ERR_TASK_CANCELLED`, the reason as its
//   message; its worker keeps serving;
// - a third, queued behind, is cancelled before it starts: it ends at once;
// - `cluster.workers()` shows what each worker runs.
// Every process runs this file: the master queues the tasks, the workers
// run them. It exits by itself when all three are settled.
import { Cluster, TaskQueue } from 'meteor-cluster'

const taskMap = {
  IMPORT: async (job, toggleIPC) => {
    const { batches, name } = job.data
    for (let batch = 1; batch <= batches; batch++) {
      // Stop where it is safe to, once cancelled (or timed out).
      job.signal.throwIfAborted()
      await new Promise((resolve) => setTimeout(resolve, 100)) // a batch's work
      job.progress(Math.round((batch / batches) * 100))
      // Tell the master a batch is done (it cancels "second" after its first).
      if (batch === 1) await toggleIPC((reply, close) => close(reply), (send) => send({ status: 1, data: name }))
    }
    return `${name}: ${batches} batches imported`
  }
}

let cluster = null
const messageBroker = (respond, message) => {
  if (message.data === 'second') {
    const running = cluster.workers().filter((w) => w.state === 'running').map((w) => w.task.taskType)
    console.log(`workers running: ${running.join(', ')}`)
    TaskQueue.cancel(ids.second, 'the upload was withdrawn').then((n) => console.log(`cancelled ${n} task`))
  }
  respond('go on')
}
cluster = new Cluster(taskMap, { maxAvailableWorkers: 1, logs: 'error', messageBroker })
const ids = {}

if (Cluster.isMaster()) {
  let settled = 0
  const settle = () => { if (++settled === 3) cluster.close() }
  TaskQueue.addEventListener('progress', ({ value, task }) => console.log(`${task.data.name}: ${value}%`))
  TaskQueue.addEventListener('done', ({ value }) => { console.log(value); settle() })
  TaskQueue.addEventListener('error', ({ value, task }) => {
    console.log(`${task.data.name}: ${value.code}: ${value.message}`)
    settle()
  })
  ids.first = await TaskQueue.addTask({ taskType: 'IMPORT', data: { name: 'first', batches: 5 }, inMemory: true, priority: 3 })
  ids.second = await TaskQueue.addTask({ taskType: 'IMPORT', data: { name: 'second', batches: 5 }, inMemory: true, priority: 2 })
  ids.third = await TaskQueue.addTask({ taskType: 'IMPORT', data: { name: 'third', batches: 5 }, inMemory: true, priority: 1 })
  // The third has not started (one worker, lower priority): it ends at once.
  console.log(`cancelled ${await TaskQueue.cancel(ids.third, 'not needed after all')} task`)
}
