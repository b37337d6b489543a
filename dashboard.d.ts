// Typings of meteor-cluster/dashboard: a (req, res, next) handler that shows
// and steers the queue (Meteor's WebApp, Express, Connect, plain http).
import type { IncomingMessage, ServerResponse } from 'http'

/**
 * Who may use the dashboard: `true` or a user name (logged with every
 * action) lets the request in; `false` refuses it (403, or 401 asking for
 * credentials with `dashboard.basicAuth`). A Promise of either works too.
 */
export type Authorize = (req: IncomingMessage) => boolean | string | Promise<boolean | string>

export interface DashboardOptions {
  /** Required: `() => true` opens the dashboard to everyone, explicitly. */
  authorize: Authorize
  /** Every action answers 403 (default false). */
  readOnly?: boolean
  /** For a server that does not strip the mount path: the path it is served under ("/jobs"). */
  basePath?: string
  /** The queue's MongoDB URL (default: the Cluster's of this process, then MONGO_URL). */
  mongoUrl?: string
  /** The queue's collection (default: the Cluster's, then "taskQueue"). */
  collectionName?: string
  /** Where action lines go (default: stdout). */
  log?: (line: string) => void
  /**
   * Who may read `<mount>/metrics` (this master's Prometheus text):
   * 'authorized' (default) asks `authorize`; 'public' lets a scraper in
   * without credentials.
   */
  metrics?: 'authorized' | 'public'
}

/** A Connect/Express-style handler; in a worker it only calls `next()`. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

export interface Dashboard {
  (options: DashboardOptions): DashboardHandler
  /** An `authorize` for HTTP basic credentials (compared in constant time); it gives the user name. */
  basicAuth(user: string, password: string): Authorize
}

export declare const dashboard: Dashboard
export declare const basicAuth: Dashboard['basicAuth']
export default dashboard
