// meteor-cluster/dashboard (ES module): `import { dashboard } from 'meteor-cluster/dashboard'`.
import dashboard from './lib/dashboard/index.js'

export const basicAuth = dashboard.basicAuth
export { dashboard }
export default dashboard
