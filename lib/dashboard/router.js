'use strict'
// The dashboard's routes: a table of (method, path pattern, access, handler),
// matched in order. `access` says what a route needs: 'public' (static
// assets), 'read' (the page and its data, behind `authorize`) or 'act'
// (actions: `authorize`, not read-only, and the CSRF check). A new route
// (a `/metrics`) is one more row.

/**
 * A route: `pattern` is a path with `:name` segments (each matches one
 * URL-decoded segment) or a `*name` tail (the rest of the path).
 */
function route (method, pattern, access, handle) {
  const names = []
  const source = pattern.split('/').map((part) => {
    if (part.startsWith(':')) {
      names.push(part.slice(1))
      return '([^/]+)'
    }
    if (part.startsWith('*')) {
      names.push(part.slice(1))
      return '(.+)'
    }
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  }).join('/')
  return { method, access, handle, names, regex: new RegExp(`^${source}$`) }
}

class Router {
  constructor () {
    this.routes = []
  }

  add (method, pattern, access, handle) {
    this.routes.push(route(method, pattern, access, handle))
    return this
  }

  /**
   * The route of `method` and `path`, with its decoded parameters; `{
   * allowed }` when the path exists for other methods only; null when
   * nothing matches. A segment that does not decode is a bad request.
   */
  match (method, path) {
    const allowed = []
    for (const r of this.routes) {
      const found = r.regex.exec(path)
      if (found === null) continue
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
        allowed.push(r.method)
        continue
      }
      const params = {}
      r.names.forEach((name, i) => { params[name] = decodeURIComponent(found[i + 1]) })
      return { route: r, params }
    }
    return allowed.length > 0 ? { allowed } : null
  }
}

module.exports = { Router }
