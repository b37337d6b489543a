// The upstream README's basic usage, as a plain Node script with in-memory
// tasks. Every process runs this file: the master queues the tasks, the
// workers run them. It exits by itself once every task is done.
import { Cluster, TaskQueue } from 'meteor-cluster'

const taskMap = {
  TEST: (job) => console.log(`testing ${job._id} at position ${job.data.position}`),
  SYNC: () => console.log('this is a synchrone task'),
  ASYNC: (job) => new Promise((resolve) => setTimeout(() => {
    console.log('this is an asynchrone task')
    resolve()
  }, job.data.timeout))
}

function inMemoryTask (priority, position) {
  return TaskQueue.addTask({ taskType: 'TEST', priority, data: { position }, inMemory: true })
}

// The seed's example uses two cores' worth of workers at most.
const cluster = new Cluster(taskMap, { maxAvailableWorkers: 2 })

if (Cluster.isMaster()) {
  TaskQueue.addEventListener('done', ({ task }) => console.log(`done: ${task.taskType} ${task._id}`))
  TaskQueue.addEventListener('error', ({ value, task }) => console.error(`error: ${task.taskType} ${value.message}`))

  TaskQueue.addTask({ taskType: 'SYNC', data: {}, inMemory: true })
  TaskQueue.addTask({ taskType: 'ASYNC', data: { timeout: 500 }, priority: 6, inMemory: true })

  inMemoryTask(8, 1)
  inMemoryTask(1, 2)
  inMemoryTask(3, 3)
  inMemoryTask(8, 4)
  inMemoryTask(8, 5)
}

export { cluster }
