// The end of a chaos run: waiting, after the last fault, until the running
// masters owe nothing (every add answered, every in-memory task reported)
// and no unfailed persistent task is left in the collection. It looks
// again whenever something changes: a master's record, or a change in the
// collection (a change stream); nothing else can end the wait.

/**
 * Resolves true once drained, false if `limitMs` passed first. `say(text)`
 * prints progress every `everyMs`.
 */
export async function drain ({ masters, names, tracker, collection, limitMs, say, everyMs = 5000 }) {
  let wake = null
  const nudge = () => {
    if (wake !== null) wake()
    wake = null
  }
  const changes = collection.watch([])
  changes.on('change', nudge)
  changes.on('error', nudge)
  const stopFollowing = tracker.follow(nudge)
  const until = Date.now() + limitMs
  const limit = setTimeout(nudge, limitMs)
  let left = null
  let owed = { adds: 0, inMemory: 0 }
  const progress = setInterval(() => {
    say(`draining: ${left} persistent tasks in the collection, ${owed.inMemory} in-memory tasks and ${owed.adds} adds unanswered`)
  }, everyMs)
  try {
    for (;;) {
      // Armed before looking, so a change while we look is not missed.
      const changed = new Promise((resolve) => { wake = resolve })
      owed = tracker.outstanding(names.map((name) => masters.proc(name)).filter(Boolean))
      left = await collection.countDocuments({ failed: { $ne: true } })
      if (owed.adds === 0 && owed.inMemory === 0 && left === 0) return true
      if (Date.now() >= until) return false
      await changed
    }
  } finally {
    clearTimeout(limit)
    clearInterval(progress)
    stopFollowing()
    await changes.close()
  }
}
