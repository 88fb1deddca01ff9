#!/usr/bin/env node
/**
 * The `pchat-dr` executable. It refuses an unsupported Node.js in one line (exit 2) before loading the program,
 * whose libraries may not even load there; then it runs the command (client/program.ts).
 */
import '../runtime/compile-cache';
import { requireSupportedNode } from '../runtime/node-version';

requireSupportedNode();

// `pchat-dr ... | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const { main } = require('./program') as typeof import('./program');
void main(process.argv).then((code) => {
  process.exitCode = code;
});
