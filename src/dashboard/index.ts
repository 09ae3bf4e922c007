// The live dashboard of a sessionmesh cluster, served at /_mesh/ (see docs/admin-api.md).

export { createDashboardHandler, type DashboardHandler, type DashboardOptions } from './handler.js';
