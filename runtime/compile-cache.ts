/**
 * Imported first by the programs that start often and briefly (the `pchat-dr` CLI, the simulator's Management Shell
 * stand-in, started once per cmdlet script): Node keeps the compiled code of every module loaded after this one in
 * its cache folder (the temporary folder), and the next start of the same program skips compiling them.
 */
import { enableCompileCache } from 'node:module';

enableCompileCache?.();
