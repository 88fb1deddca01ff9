/** The simulator's TDS protocol layer: the listener that serves a SqlServerModel, and the contract a model implements. */
export { startTdsServer, type TdsServer } from './server';
export * from './session';
