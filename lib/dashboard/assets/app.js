// The meteor-cluster dashboard page: four views (overview, tasks, one task,
// masters), each refreshed every POLL_MS from the handler's JSON routes.
// Every value the queue holds is shown as text (textContent through `h`),
// never as HTML. Actions are POSTs with the page's CSRF token, each after
// a confirmation in a <dialog>.
(function () {
  'use strict'

  const meta = (name) => document.querySelector(`meta[name="mc-${name}"]`).content
  const BASE = meta('base')
  const TOKEN = meta('csrf')
  const READ_ONLY = meta('read-only') === 'true'
  const USER = meta('user')
  const EMBEDDED = meta('mode') === 'embedded'
  const POLL_MS = 2000
  const STATES = ['due', 'scheduled', 'running', 'failed', 'recurring']
  const SORTS = { priority: 'Priority (highest first)', dueDate: 'Due date (soonest first)', createdAt: 'Created (newest first)' }

  // ------------------------------------------------------------ DOM

  /** An element; string and number children become text nodes, never markup. */
  function h (tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue
      if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
      else if (key === 'class') el.className = value
      else el.setAttribute(key, value === true ? '' : String(value))
    }
    append(el, children)
    return el
  }

  function append (el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue
      el.append(child instanceof Node ? child : document.createTextNode(String(child)))
    }
  }

  /**
   * Replaces `el`'s content in one step (no flicker). A keyboard user's
   * focus inside it moves to the same control in the new content (same
   * tag, link target, action and text), so a refresh never drops it.
   */
  function fill (el, ...children) {
    const focused = document.activeElement
    const key = focused && focused !== el && el.contains(focused) ? focusKey(focused) : null
    const fragment = document.createDocumentFragment()
    append(fragment, children)
    el.replaceChildren(fragment)
    if (key !== null) {
      const again = [...el.querySelectorAll(key.tag)].find((candidate) => focusKey(candidate).id === key.id)
      if (again) again.focus({ preventScroll: true })
    }
  }

  function focusKey (node) {
    const tag = node.tagName.toLowerCase()
    return { tag, id: [tag, node.getAttribute('href'), node.getAttribute('data-action'), node.textContent].join('\n') }
  }

  // ------------------------------------------------------------ formats

  const num = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–')
  const pad = (n) => String(n).padStart(2, '0')
  function date (ms) {
    if (typeof ms !== 'number') return '–'
    const d = new Date(ms)
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  }
  function span (ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '–'
    const s = Math.abs(ms) / 1000
    if (s < 1) return `${Math.round(Math.abs(ms))} ms`
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
  }
  const ago = (ms, now) => (typeof ms === 'number' ? (ms > now ? `in ${span(ms - now)}` : `${span(now - ms)} ago`) : '–')
  function bytes (n) {
    if (typeof n !== 'number') return '–'
    return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${(n / (1 << 20)).toFixed(0)} MiB`
  }
  function stateOf (task, now) {
    if (task.failed === true) return 'failed'
    if (task.onGoing) return 'running'
    return typeof task.dueDate === 'number' && task.dueDate > now ? 'scheduled' : 'due'
  }
  const badge = (text, kind) => h('span', { class: `badge ${kind || text}` }, text)
  const taskLink = (id) => h('a', { href: `#/task/${encodeURIComponent(id)}` }, String(id))
  const json = (value) => JSON.stringify(value, null, 2)

  // ------------------------------------------------------------ server

  class ApiError extends Error {}

  async function api (path, options = {}) {
    const response = await fetch(`${BASE}/api${path}`, {
      method: options.method || 'GET',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'X-CSRF-Token': TOKEN, ...(options.method === 'POST' ? { 'Content-Type': 'application/json' } : {}) },
      body: options.method === 'POST' ? '{}' : undefined
    })
    let body = null
    try {
      body = await response.json()
    } catch {
      throw new ApiError(`${response.status} ${response.statusText}`)
    }
    if (!response.ok) throw new ApiError(body && body.error ? body.error : `${response.status} ${response.statusText}`)
    return body
  }

  // ------------------------------------------------------------ status, toasts, confirmation

  const status = document.getElementById('status')
  function setStatus (text, isError) {
    status.textContent = text
    status.classList.toggle('error', Boolean(isError))
  }

  let toastTimer = null
  function toast (text, isError) {
    let el = document.querySelector('.toast')
    if (!el) {
      el = h('div', { class: 'toast', role: 'alert' })
      document.body.append(el)
    }
    el.textContent = text
    el.classList.toggle('error', Boolean(isError))
    clearTimeout(toastTimer)
    toastTimer = setTimeout(() => el.remove(), 6000)
  }

  const dialog = document.getElementById('confirm')
  /** Asks in the page; resolves true when confirmed. */
  function confirmInPage (question, label) {
    document.getElementById('confirm-text').textContent = question
    document.getElementById('confirm-ok').textContent = label || 'Confirm'
    dialog.returnValue = ''
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true })
      dialog.showModal()
      document.getElementById('confirm-ok').focus()
    })
  }

  /** An action: confirmed, posted, its outcome told; the view refreshes. */
  async function act (path, question, label) {
    if (!(await confirmInPage(question, label))) return
    try {
      const result = await api(path, { method: 'POST' })
      toast(`${label || 'Done'}: ${num(result.changed)} changed`)
    } catch (error) {
      toast(error.message, true)
    }
    refresh()
  }

  const actionButton = (text, path, question, kind) => READ_ONLY
    ? null
    : h('button', { type: 'button', class: kind || 'secondary', 'data-action': text, onclick: () => act(path, question, text) }, text)

  // ------------------------------------------------------------ views

  const main = document.getElementById('main')

  /** Overview: counts per type and state, the oldest wait, the last hour. */
  function overviewView () {
    const counts = h('section', { class: 'card', 'aria-labelledby': 'counts-title' })
    const memory = h('section', { class: 'card', hidden: true })
    const chartCard = h('section', { class: 'card', 'aria-labelledby': 'chart-title' },
      h('h2', { id: 'chart-title' }, 'Done and failed per minute, last hour'),
      h('p', { class: 'muted small', id: 'chart-note' }),
      h('div', { class: 'chart', id: 'chart', role: 'img', 'aria-label': 'Tasks done and failed per minute over the last hour' }))
    const limitsCard = h('section', { class: 'card', 'aria-labelledby': 'limits-title', hidden: true })
    fill(main, counts, limitsCard, chartCard, memory)
    let plot = null
    let lastChart = null
    const onResize = () => { if (plot) plot.setSize({ width: chartWidth(), height: 240 }) }
    window.addEventListener('resize', onResize)
    const chartWidth = () => Math.max(260, document.getElementById('chart').clientWidth)

    async function update () {
      const o = await api('/overview')
      renderCounts(counts, o)
      renderLimits(limitsCard, o.persistent)
      if (o.inMemory) {
        memory.hidden = false
        fill(memory, h('h2', {}, 'In memory (this process)'),
          h('div', { class: 'kpis' },
            kpi('queued', o.inMemory.queued), kpi('due now', o.inMemory.available), kpi('running', o.inMemory.running)),
          h('a', { href: '#/tasks?where=memory' }, 'List in-memory tasks'))
      }
      document.getElementById('chart-note').textContent = o.masters > 0
        ? `From the counters of ${o.masters} live master${o.masters === 1 ? '' : 's'} (tasks each ran), updated with their heartbeats.`
        : 'No live master reports to the registry yet.'
      const data = [o.history.minutes.map((m) => m / 1000), o.history.done, o.history.failed]
      const key = JSON.stringify(data)
      if (typeof window.uPlot !== 'function') {
        fill(document.getElementById('chart'), h('p', { class: 'muted' }, 'The chart library did not load.'))
      } else if (plot === null) {
        plot = new window.uPlot({
          width: chartWidth(),
          height: 240,
          series: [{}, { label: 'done', stroke: '#1a7f37', fill: 'rgba(26,127,55,0.08)', width: 2, points: { show: false } }, { label: 'failed', stroke: '#cf222e', width: 2, points: { show: false } }],
          axes: [{}, { label: 'tasks / min', size: 60 }],
          scales: { x: { time: true } }
        }, data, document.getElementById('chart'))
        lastChart = key
      } else if (key !== lastChart) {
        plot.setData(data)
        lastChart = key
      }
    }
    return { update, unmount: () => { window.removeEventListener('resize', onResize); if (plot) plot.destroy() } }
  }

  const kpi = (label, value) => h('div', {}, h('strong', {}, typeof value === 'string' ? value : num(value)), h('span', { class: 'muted small' }, label))

  function renderCounts (card, o) {
    const p = o.persistent
    if (!p) {
      fill(card, h('h2', { id: 'counts-title' }, 'Persistent queue'), h('p', { class: 'muted' }, 'No persistent queue: this dashboard has no MongoDB URL.'))
      return
    }
    const now = p.now
    const wait = typeof p.oldestDueAt === 'number' ? span(now - p.oldestDueAt) : 'nothing due'
    const head = h('div', { class: 'kpis' },
      kpi('tasks (estimated)', p.estimatedTotal),
      kpi('oldest due task has waited', wait))
    const c = p.counts
    let body
    let note
    if (c === null) {
      body = h('p', { class: 'muted' }, 'Counting in the background…')
      note = 'Counts per type and state come from a scan of the collection, made in the background.'
    } else if (c.error) {
      body = h('p', { class: 'error-text' }, `The last count failed: ${c.error}`)
    } else {
      const totals = Object.fromEntries([...STATES, 'total'].map((s) => [s, c.byType.reduce((sum, t) => sum + t[s], 0)]))
      const cell = (type, state, n) => h('td', { class: 'num' }, n > 0
        ? h('a', { href: `#/tasks?${new URLSearchParams({ ...(type === null ? {} : { type }), state })}`, 'aria-label': `${num(n)} ${state}${type === null ? '' : ` ${type}`} tasks` }, num(n))
        : '0')
      const rows = c.byType.map((t) => h('tr', {},
        h('td', { class: 'id' }, h('a', { href: `#/tasks?${new URLSearchParams({ type: t.taskType })}` }, t.taskType)),
        STATES.map((s) => cell(t.taskType, s, t[s])),
        h('td', { class: 'num' }, num(t.total)),
        h('td', {}, t.failed > 0 && !READ_ONLY
          ? h('div', { class: 'actions' },
            actionButton('Retry failed', `/types/${encodeURIComponent(t.taskType)}/retry-failed`, `Retry all ${num(t.failed)} failed tasks of type "${t.taskType}"? They become due now, attempts and errors reset.`, 'small primary'),
            actionButton('Remove failed', `/types/${encodeURIComponent(t.taskType)}/remove-failed`, `Remove all ${num(t.failed)} failed tasks of type "${t.taskType}"? This cannot be undone.`, 'small danger'))
          : null)))
      body = h('div', { class: 'scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Type'), STATES.map((s) => h('th', { scope: 'col', class: 'num' }, s)), h('th', { scope: 'col', class: 'num' }, 'total'), h('th', { scope: 'col' }, h('span', { class: 'hide-narrow' }, 'Actions')))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'The queue is empty.'))),
        rows.length > 1 ? h('tfoot', {}, h('tr', { class: 'total' }, h('td', {}, 'All types'), STATES.map((s) => cell(null, s, totals[s])), h('td', { class: 'num' }, num(totals.total)), h('td', {}))) : null))
      note = `Counted ${span(now - c.at)} ago (the count took ${span(c.ms)}; counts are refreshed in the background every few seconds, so they lag a little).`
    }
    fill(card, h('h2', { id: 'counts-title' }, 'Persistent queue'), head, body, note ? h('p', { class: 'muted small', id: 'counts-note' }, note) : null)
  }

  const windowText = (ms) => ms % 3600000 === 0 ? `${ms / 3600000} h` : ms % 60000 === 0 ? `${ms / 60000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${num(ms)} ms`
  const rateText = (rate) => rate ? `${num(rate.max)} per ${windowText(rate.per)}` : '–'

  /** The limits documents: each limited type's bounds and what the fleet uses of them now. */
  function renderLimits (card, p) {
    const limits = p && Array.isArray(p.limits) ? p.limits : []
    card.hidden = limits.length === 0
    if (card.hidden) return
    const rows = limits.map((l) => {
      const bounds = l.limits || {}
      const group = bounds.perGroup
      return h('tr', {},
        h('td', { class: 'id' }, h('a', { href: `#/tasks?${new URLSearchParams({ type: l.taskType })}` }, l.taskType)),
        h('td', { class: 'num' }, bounds.concurrency === undefined ? '–' : num(bounds.concurrency)),
        h('td', { class: 'num' }, num(l.inUse.running)),
        h('td', {}, rateText(bounds.rate)),
        h('td', { class: 'num' }, l.inUse.startsInWindow === null ? '–' : num(l.inUse.startsInWindow)),
        h('td', {}, group ? [group.concurrency === undefined ? null : `concurrency ${num(group.concurrency)}`, group.concurrency !== undefined && group.rate ? ', ' : null, group.rate ? `rate ${rateText(group.rate)}` : null] : '–'),
        h('td', { class: 'num' }, num(l.inUse.masters)))
    })
    fill(card, h('h2', { id: 'limits-title' }, 'Limits'),
      h('div', { class: 'scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Type', 'Concurrency', 'Running', 'Rate', 'Starts in window', 'Per group', 'Masters holding'].map((c, i) => h('th', { scope: 'col', class: [1, 2, 4, 6].includes(i) ? 'num' : null }, c)))),
        h('tbody', {}, rows))),
      h('p', { class: 'muted small' }, 'Fleet-wide, from the limits documents every master obeys (set by the Cluster\'s limits option or TaskQueue.setLimits; the latest written wins).'))
  }

  /** Tasks: filters, a page, keyset paging (previous pages kept as a stack of cursors). */
  function tasksView (params) {
    const query = {
      type: params.get('type') || '',
      state: params.get('state') || '',
      prefix: params.get('prefix') || '',
      sort: params.get('sort') || 'priority',
      where: params.get('where') || 'persistent'
    }
    const cursors = [null]
    const field = (label, control) => h('label', {}, label, control)
    const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); apply() } },
      field('Type', h('input', { name: 'type', value: query.type, placeholder: 'any', autocomplete: 'off' })),
      field('State', h('select', { name: 'state' }, h('option', { value: '' }, 'any'), STATES.map((s) => h('option', { value: s, selected: s === query.state }, s)))),
      field('_id starts with', h('input', { name: 'prefix', value: query.prefix, placeholder: 'prefix', autocomplete: 'off' })),
      field('Sort by', h('select', { name: 'sort' }, Object.entries(SORTS).map(([v, t]) => h('option', { value: v, selected: v === query.sort }, t)))),
      EMBEDDED ? field('Queue', h('select', { name: 'where' }, h('option', { value: 'persistent', selected: query.where !== 'memory' }, 'persistent'), h('option', { value: 'memory', selected: query.where === 'memory' }, 'in memory (this process)'))) : null,
      h('button', { type: 'submit', class: 'primary' }, 'Apply'))
    function apply () {
      const data = new FormData(form)
      const next = new URLSearchParams()
      for (const [key, value] of data.entries()) if (value !== '' && !(key === 'sort' && value === 'priority') && !(key === 'where' && value === 'persistent')) next.set(key, value)
      location.hash = `#/tasks${next.toString() ? `?${next}` : ''}`
    }
    const table = h('div', { class: 'scroll' })
    const pager = h('div', { class: 'pager' })
    const info = h('p', { class: 'muted small' })
    fill(main, h('section', { class: 'card' }, h('h2', {}, 'Tasks'), form, info, table, pager))
    let page = null

    async function update () {
      const search = new URLSearchParams()
      for (const [key, value] of Object.entries(query)) if (value !== '') search.set(key, value)
      const after = cursors[cursors.length - 1]
      if (after) search.set('after', after)
      page = await api(`/tasks?${search}`)
      const now = page.now
      const rows = page.tasks.map((t) => {
        const state = stateOf(t, now)
        return h('tr', {},
          h('td', { class: 'id' }, taskLink(t._id)),
          h('td', {}, t.taskType === undefined ? '–' : String(t.taskType)),
          h('td', {}, badge(state), t.repeat ? [' ', badge('recurring')] : null, t.inMemory ? [' ', badge('memory')] : null, t.undecodable ? [' ', badge('unreadable', 'failed')] : null),
          h('td', { class: 'num' }, num(t.priority)),
          h('td', { class: 'hide-narrow date' }, date(t.dueDate)),
          h('td', { class: 'hide-narrow date' }, date(t.createdAt)),
          h('td', { class: 'num hide-narrow' }, num(t.attempts || 0)),
          h('td', {}, progressOf(t.progress)))
      })
      fill(table, h('table', {},
        h('thead', {}, h('tr', {}, ['_id', 'Type', 'State', 'Priority'].map((c) => h('th', { scope: 'col', class: c === 'Priority' ? 'num' : null }, c)),
          h('th', { scope: 'col', class: 'hide-narrow' }, 'Due'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Created'), h('th', { scope: 'col', class: 'num hide-narrow' }, 'Attempts'), h('th', { scope: 'col' }, 'Progress'))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No task matches.')))))
      info.textContent = `Page ${cursors.length}, ${page.tasks.length} task${page.tasks.length === 1 ? '' : 's'}${page.more ? ' (more in memory: narrow the filter)' : ''}, ${SORTS[query.sort].toLowerCase()}.`
      fill(pager,
        cursors.length > 1 ? h('button', { type: 'button', onclick: () => { cursors.length = 1; refresh() } }, 'First page') : null,
        cursors.length > 1 ? h('button', { type: 'button', onclick: () => { cursors.pop(); refresh() } }, 'Previous page') : null,
        page.next ? h('button', { type: 'button', class: 'primary', id: 'next-page', onclick: () => { cursors.push(page.next); refresh() } }, 'Next page') : null)
    }
    return { update }
  }

  function progressOf (value) {
    if (value === undefined || value === null) return '–'
    if (typeof value === 'number') {
      const pct = Math.max(0, Math.min(100, value))
      return h('span', {}, h('progress', { max: 100, value: pct, 'aria-label': `progress ${pct}%` }), ` ${Math.round(pct * 10) / 10}%`)
    }
    return h('code', {}, JSON.stringify(value))
  }

  /** One task: its fields, data, error, claim, and the actions its state allows. */
  function taskView (id) {
    const title = h('h2', {}, 'Task ', h('span', { class: 'id' }, id))
    const actions = h('div', { class: 'actions' })
    const facts = h('div')
    const card = h('section', { class: 'card' }, title, actions, facts)
    fill(main, h('p', {}, h('a', { href: '#/tasks' }, '← Tasks')), card)
    let shown = ''

    async function update () {
      let answer
      try {
        answer = await api(`/tasks/${encodeURIComponent(id)}`)
      } catch (error) {
        if (/^no task/.test(error.message)) {
          fill(actions)
          fill(facts, h('p', { class: 'muted', id: 'gone' }, 'This task is gone: it finished, or it was removed.'))
          return
        }
        throw error
      }
      const t = answer.task
      const now = answer.now
      const state = stateOf(t, now)
      const allowed = [
        state === 'failed' && !t.inMemory ? actionButton('Retry', `/tasks/${encodeURIComponent(id)}/retry`, `Retry task ${id}? It becomes due now, its attempts and error reset.`, 'primary') : null,
        (state === 'due' || state === 'scheduled') && !t.inMemory ? actionButton('Run now', `/tasks/${encodeURIComponent(id)}/run`, `Make task ${id} due now?`, 'primary') : null,
        state !== 'failed' ? actionButton('Cancel', `/tasks/${encodeURIComponent(id)}/cancel`, `Cancel task ${id}? A running task is stopped through its signal; it ends as failed (ERR_TASK_CANCELLED).`, 'danger') : null,
        state !== 'running' ? actionButton('Remove', `/tasks/${encodeURIComponent(id)}/remove`, `Remove task ${id}? This cannot be undone.`, 'danger') : null
      ]
      const key = allowed.map((b) => b && b.textContent).join('|')
      if (key !== shown) {
        fill(actions, allowed)
        shown = key
      }
      const fact = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)]
      const lease = t.lease && typeof t.lease === 'object' ? t.lease : null
      fill(facts,
        h('dl', { class: 'facts' },
          fact('Type', String(t.taskType)),
          fact('State', badge(state), t.repeat ? [' ', badge('recurring')] : null, t.inMemory ? [' ', badge('memory')] : null),
          fact('Priority', num(t.priority)),
          fact('Created', date(t.createdAt), ' ', h('span', { class: 'muted' }, `(${ago(t.createdAt, now)})`)),
          fact('Due', date(t.dueDate), ' ', h('span', { class: 'muted' }, `(${ago(t.dueDate, now)})`)),
          fact('Attempts', num(t.attempts || 0)),
          fact('Progress', h('span', { id: 'progress' }, progressOf(t.progress))),
          t.repeat ? fact('Repeat', h('code', {}, JSON.stringify(t.repeat))) : null,
          t.retry ? fact('Retry', h('code', {}, JSON.stringify(t.retry))) : null,
          t.timeout ? fact('Timeout', span(t.timeout)) : null,
          lease ? fact('Claimed by', h('code', {}, String(lease.owner)), ' ', h('span', { class: 'muted' }, `lease expires ${ago(lease.expires, now)}`)) : null,
          t.failedAt ? fact('Failed', date(t.failedAt)) : null,
          t.cancel ? fact('Cancelled', String(t.cancel.reason || ''), ' ', h('span', { class: 'muted' }, date(t.cancel.at))) : null),
        t.undecodable ? [h('h3', {}, 'Unreadable document'), h('pre', {}, String(t.undecodable))] : null,
        t.lastError ? [h('h3', {}, 'Last error'),
          h('p', { class: 'error-text', id: 'last-error' }, `${t.lastError.name || 'Error'}${t.lastError.code ? ` (${t.lastError.code})` : ''}: ${t.lastError.message}`),
          t.lastError.stack ? h('pre', {}, String(t.lastError.stack)) : null] : null,
        h('h3', {}, 'Data (EJSON)'),
        h('pre', { id: 'data', tabindex: 0 }, json(t.data === undefined ? {} : t.data)))
    }
    return { update }
  }

  /** Masters: each live master, its workers and their last exits. */
  function mastersView () {
    const list = h('div')
    fill(main, list)
    async function update () {
      const { masters, now } = await api('/masters')
      if (masters.length === 0) {
        fill(list, h('section', { class: 'card' }, h('h2', {}, 'Masters'), h('p', { class: 'muted' }, 'No live master: none with a persistent queue has sent a heartbeat lately.')))
        return
      }
      fill(list, masters.map((m) => masterCard(m, now)))
    }
    return { update }
  }

  function masterCard (m, now) {
    const c = m.counters || {}
    const workers = Array.isArray(m.workers) ? m.workers : []
    const exits = Array.isArray(m.exits) ? m.exits : []
    const id = String(m._id)
    return h('section', { class: 'card master', 'data-master': id },
      h('div', { class: 'master-head' },
        h('h2', {}, `${m.host} · pid ${m.pid}`),
        h('div', { class: 'actions' },
          m.paused ? badge('paused') : badge('running', 'live'),
          m.local ? badge('this process', 'memory') : null,
          m.paused
            ? actionButton('Resume', `/masters/${encodeURIComponent(id)}/resume`, `Resume master ${m.host} (pid ${m.pid})?`, 'primary')
            : actionButton('Pause', `/masters/${encodeURIComponent(id)}/pause`, `Pause master ${m.host} (pid ${m.pid})? Running tasks finish; nothing new starts.`, 'secondary'))),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Task types'), h('dd', {}, Array.isArray(m.taskTypes) && m.taskTypes.length ? m.taskTypes.join(', ') : '–'),
        h('dt', {}, 'Started'), h('dd', {}, typeof m.startedAt === 'number' ? ago(m.startedAt, now) : '–', m.version ? ` · version ${m.version}` : ''),
        h('dt', {}, 'Heartbeat'), h('dd', {}, m.local ? 'live (this process)' : ago(m.heartbeatAt, now)),
        h('dt', {}, 'Counters'), h('dd', {}, `${num(c.done)} done, ${num(c.failed)} failed, ${num(c.retried)} retried; workers ${num(c.workersStarted)} started, ${num(c.workersExited)} exited`)),
      h('h3', {}, `Workers (${workers.length})`),
      h('div', { class: 'scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Worker', 'pid', 'State', 'Task', 'Running for', 'Runs', 'Memory', 'Up for'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, workers.length ? workers.map((w) => h('tr', {},
          h('td', {}, String(w.id)), h('td', {}, String(w.pid)), h('td', {}, badge(w.state, w.state === 'running' ? 'running' : 'scheduled')),
          h('td', { class: 'id' }, w.task ? [taskLink(w.task._id), ' ', h('span', { class: 'muted' }, String(w.task.taskType))] : '–'),
          h('td', {}, w.task ? span(now - w.task.startedAt) : '–'),
          h('td', { class: 'num' }, num(w.runs)), h('td', {}, bytes(w.rssBytes)), h('td', {}, span(now - w.startedAt))))
          : h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No worker running (workers start when there is work).'))))),
      exits.length ? [h('h3', {}, 'Last worker exits'), h('div', { class: 'scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, ['When', 'Worker', 'How', 'Blamed task'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, exits.map((e) => h('tr', {},
          h('td', {}, ago(e.at, now)), h('td', {}, `${e.id} (pid ${e.pid})`),
          h('td', {}, e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`),
          h('td', { class: 'id' }, e.task ? [taskLink(e.task._id), ' ', h('span', { class: 'muted' }, String(e.task.taskType))] : 'none'))))))] : null)
  }

  // ------------------------------------------------------------ routing and the live loop

  let current = null
  let timer = null
  let generation = 0

  function route () {
    const hash = location.hash.replace(/^#/, '') || '/'
    const [path, search = ''] = hash.split('?')
    const params = new URLSearchParams(search)
    if (current && current.unmount) current.unmount()
    let view = 'overview'
    if (path.startsWith('/task/')) {
      view = 'tasks'
      current = taskView(decodeURIComponent(path.slice('/task/'.length)))
    } else if (path === '/tasks') {
      view = 'tasks'
      current = tasksView(params)
    } else if (path === '/masters') {
      view = 'masters'
      current = mastersView()
    } else {
      current = overviewView()
    }
    for (const a of document.querySelectorAll('.top nav a')) {
      if (a.dataset.view === view) a.setAttribute('aria-current', 'page')
      else a.removeAttribute('aria-current')
    }
    refresh()
  }

  /** Updates the view now, then every POLL_MS (a refresh restarts the clock). */
  async function refresh () {
    clearTimeout(timer)
    const mine = ++generation
    const view = current
    try {
      await view.update()
      if (mine === generation) setStatus(`Live${READ_ONLY ? ' · read-only' : ''}${USER ? ` · ${USER}` : ''} · updated ${date(Date.now()).slice(11)}`)
    } catch (error) {
      if (mine === generation) setStatus(`Could not update: ${error.message}`, true)
    }
    if (mine === generation) timer = setTimeout(refresh, POLL_MS)
  }

  window.addEventListener('hashchange', () => {
    route()
    main.focus({ preventScroll: true })
  })
  route()
})()
