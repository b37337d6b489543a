// Append-only JSON-lines files: how every process of a chaos run records
// what it did. Each record is one write(2) to a file opened with O_APPEND,
// so it is in the kernel as soon as the call returns and survives a SIGKILL
// of the writer (not a crash of the machine, which the chaos run does not
// simulate).
import { openSync, writeSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** A journal file; `write(record)` appends one line, with the time. */
export function openJournal (path) {
  const fd = openSync(path, 'a')
  return {
    path,
    write (record) {
      const line = JSON.stringify({ t: Date.now(), ...record })
      writeSync(fd, line + '\n')
      return line
    }
  }
}

/**
 * Every record of the journals in `dir` whose file name starts with
 * `prefix`, each with `file` (its file's name). A last line cut short by a
 * SIGKILL mid-write cannot happen with one small write, but is skipped and
 * counted rather than trusted.
 */
export function readJournals (dir, prefix) {
  const records = []
  let torn = 0
  for (const file of readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue
      try {
        records.push({ file, ...JSON.parse(line) })
      } catch {
        torn++
      }
    }
  }
  return { records, torn }
}
