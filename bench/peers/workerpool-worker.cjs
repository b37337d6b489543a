// workerpool's worker process: one method that returns its input.
require('workerpool').worker({ echo: (x) => x })
