// A graceful shutdown: what a deploy's SIGTERM should do (Docker, Kubernetes,
// Galaxy send SIGTERM, then SIGKILL after a grace period). The handler is two
// lines (below): cluster.close({ timeout }) stops dispatching, hands back the
// tasks that have not started, waits up to `timeout` ms for the running ones,
// then stops their workers and hands those tasks back too (not failed, the
// attempt not counted), and resolves once every worker has exited.
//
// Here, with in-memory tasks and 2 workers, the script sends itself SIGTERM
// once both workers are busy:
// - SHORT (running, 1 s) finishes within the timeout: its `done` event comes;
// - LONG (running, 60 s) is still running when the 2 s timeout is up: its
//   worker is stopped and the task handed back, with no `error` event;
// - LATER (due in a minute) never started: it stays queued.
// In-memory tasks live in the master's memory, so the ones handed back end
// with this process; persistent tasks (the default) are handed back to
// MongoDB, where the next master, or another one, runs them.
import { Cluster, TaskQueue } from 'meteor-cluster'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const taskMap = {
  SHORT: () => sleep(1000).then(() => 'short task finished'),
  LONG: () => sleep(60000).then(() => 'long task finished'),
  LATER: () => 'later task finished'
}

const cluster = new Cluster(taskMap, { maxAvailableWorkers: 2, logs: 'error' })

if (Cluster.isMaster()) {
  // The two lines: on SIGTERM, close within the grace period, then exit.
  process.on('SIGTERM', () => cluster.close({ timeout: 2000 }).then(() => process.exit(0)))

  // What the example prints along the way.
  process.on('SIGTERM', () => console.log('SIGTERM: closing, waiting up to 2000 ms for running tasks'))
  process.on('exit', () => {
    const left = TaskQueue.inMemory.tasks().map((task) => `${task.taskType} (onGoing: ${task.onGoing})`)
    console.log(`closed; still queued: ${left.join(', ')}`)
  })
  TaskQueue.addEventListener('done', ({ value, task }) => console.log(`${task.taskType} done: ${value}`))
  TaskQueue.addEventListener('error', ({ value, task }) => console.log(`${task.taskType} failed: ${value.message}`))

  await TaskQueue.addTask({ taskType: 'LONG', priority: 2, inMemory: true })
  await TaskQueue.addTask({ taskType: 'SHORT', priority: 1, inMemory: true })
  await TaskQueue.addTask({ taskType: 'LATER', inMemory: true, dueDate: new Date(Date.now() + 60000) })

  // A deploy's SIGTERM comes at any time; here, once both tasks run.
  while (cluster.stats().readyWorkers < 2 || cluster.stats().running < 2) await sleep(50)
  await sleep(200)
  process.kill(process.pid, 'SIGTERM')
}

export { cluster }
