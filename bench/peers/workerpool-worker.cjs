// workerpool's worker process: the echo, and the CPU-bound task.
const { hashTask } = require('../lib/work.cjs')
require('workerpool').worker({ echo: (x) => x, hash: hashTask })
