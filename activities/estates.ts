/**
 * The estates this worker serves (docs/runbooks.md rule 8): the topology files `pchat-dr worker` was given (--estate,
 * PCHAT_DR_ESTATES), one pool each. A run names only its pool; its first step loads that pool's file here, so the
 * topology, the approval policy, the commands, the paths and the secret references a run acts on come from the
 * worker's own files, never from whoever started it.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadAllowedSigners } from '../signatures/allowed-signers';
import { loadPasskeys } from '../signatures/passkeys';
import { loadTopology, TopologyError, type LoadedTopology } from '../topology/load';
import type { Topology } from '../topology/schema';
import { stepFailure } from './failures';

/** An estate as a run received it: its pool, the file it came from and that file's SHA-256. */
export interface LoadedEstate {
  pool: string;
  file: string;
  digest: string;
  topology: Topology;
}

/** The estate configuration of a worker is wrong: every problem, one per line. */
export class EstateConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'EstateConfigurationError';
  }
}

/** The topology files a path names: the file itself, or a folder's *.yaml and *.yml files (not hidden ones). */
export function estateFilesOf(entry: string): string[] {
  const absolute = path.resolve(entry);
  let isFolder: boolean;
  try {
    isFolder = statSync(absolute).isDirectory();
  } catch {
    throw new EstateConfigurationError([`${entry}: no such file or folder`]);
  }
  if (!isFolder) return [absolute];
  // A Kubernetes ConfigMap mount adds hidden ..data links beside the files: only visible YAML files count.
  return readdirSync(absolute)
    .filter((name) => /\.ya?ml$/i.test(name) && !name.startsWith('.'))
    .sort()
    .map((name) => path.join(absolute, name));
}

export class EstateRegistry {
  private constructor(private readonly files: ReadonlyMap<string, string>) {}

  /**
   * Reads and checks every estate the worker is given (files, or folders of them) and indexes them by pool. Any
   * problem (a missing or invalid file, two files for one pool, nothing at all) is an EstateConfigurationError
   * naming all of them, so a worker never starts half-configured.
   */
  static open(entries: string[]): EstateRegistry {
    const problems: string[] = [];
    const files = new Map<string, string>();
    for (const entry of entries) {
      let found: string[] = [];
      try {
        found = estateFilesOf(entry);
        if (found.length === 0) problems.push(`${entry}: the folder holds no topology file (*.yaml)`);
      } catch (error) {
        problems.push(...(error as EstateConfigurationError).problems);
      }
      for (const file of found) {
        try {
          const { topology } = loadTopology(file);
          const pool = topology.pool.fqdn.toLowerCase();
          // A signed estate's signers must load too: a worker that could verify no signature would refuse every run.
          if (topology.signatures) loadAllowedSigners(topology.signatures.allowedSigners);
          if (topology.signatures?.passkeys) loadPasskeys(topology.signatures.passkeys);
          const other = files.get(pool);
          if (other) problems.push(`${file}: pool ${pool} is already served from ${other}; one file per pool`);
          else files.set(pool, file);
        } catch (error) {
          problems.push(error instanceof TopologyError ? error.message : `${file}: ${(error as Error).message}`);
        }
      }
    }
    if (entries.length === 0) problems.push('no estate: give the topology files this worker serves (--estate FILE)');
    if (problems.length > 0) throw new EstateConfigurationError(problems);
    return new EstateRegistry(files);
  }

  /** The pools served, lower case. */
  get pools(): string[] {
    return [...this.files.keys()];
  }

  /** The file an estate comes from, or undefined when this worker does not serve the pool. */
  fileOf(pool: string): string | undefined {
    return this.files.get(pool.toLowerCase());
  }

  /**
   * The pool's estate as its file says now (an edited file counts from the next run on, without a restart).
   * A pool this worker does not serve, or a file that no longer loads, fails the step for good.
   */
  load(pool: string): LoadedEstate {
    const file = this.fileOf(pool);
    if (!file) {
      throw stepFailure(
        'EstateUnknown',
        `this worker does not serve pool ${pool} (it serves ${this.pools.join(', ') || 'no pool'}): start the run on the worker that has the pool's estate file, or add the file to this worker's --estate`,
        { pool },
      );
    }
    let loaded: LoadedTopology;
    try {
      loaded = loadTopology(file);
    } catch (error) {
      throw stepFailure('EstateUnavailable', `the estate file of ${pool} does not load: ${(error as Error).message}`, {
        pool,
        file,
      });
    }
    if (loaded.topology.signatures) {
      try {
        loadAllowedSigners(loaded.topology.signatures.allowedSigners);
        if (loaded.topology.signatures.passkeys) loadPasskeys(loaded.topology.signatures.passkeys);
      } catch (error) {
        throw stepFailure('EstateUnavailable', `the signers of ${pool} do not load: ${(error as Error).message}`, {
          pool,
          file: (error as { file?: string }).file ?? loaded.topology.signatures.allowedSigners,
        });
      }
    }
    if (loaded.topology.pool.fqdn.toLowerCase() !== pool.toLowerCase()) {
      throw stepFailure(
        'EstateUnavailable',
        `${file} now describes pool ${loaded.topology.pool.fqdn}, not ${pool}: restart the worker after moving a pool to another file`,
        { pool, file },
      );
    }
    return { pool: loaded.topology.pool.fqdn, file, digest: loaded.digest, topology: loaded.topology };
  }
}
