/**
 * Reads a topology file: YAML syntax, then the schema, every problem reported with the field path and the line it
 * is on, so an operator can fix the file in one pass. Relative paths in the file are taken from the file's folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { topologySchema, type Topology } from './schema';
import { anchorSecretRef } from './secrets';

export interface TopologyProblem {
  /** Dotted field path, e.g. databases.mgc.mirror; empty for file-level problems. */
  field: string;
  line?: number;
  column?: number;
  message: string;
}

export class TopologyError extends Error {
  constructor(
    readonly file: string,
    readonly problems: TopologyProblem[],
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'));
    this.name = 'TopologyError';
  }
}

export function formatProblem(file: string, problem: TopologyProblem): string {
  const where = problem.line ? `${file}:${problem.line}:${problem.column ?? 1}` : file;
  return problem.field ? `${where}: ${problem.field}: ${problem.message}` : `${where}: ${problem.message}`;
}

export interface LoadedTopology {
  /** Absolute path of the file it came from. */
  file: string;
  /** SHA-256 of the file's bytes (hex): two copies of an estate are the same estate when their digests are. */
  digest: string;
  topology: Topology;
}

export function loadTopology(file: string): LoadedTopology {
  const absolute = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a file' : (err as Error).message;
    throw new TopologyError(file, [{ field: '', message: `cannot read the topology file: ${reason}` }]);
  }
  const digest = createHash('sha256').update(bytes).digest('hex');
  return { file: absolute, digest, topology: parseTopology(bytes.toString('utf8'), file, path.dirname(absolute)) };
}

/** Parses and validates topology text; `baseDir` anchors relative paths. */
export function parseTopology(text: string, file: string, baseDir: string): Topology {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new TopologyError(
      file,
      doc.errors.map((error) => {
        const position = lineCounter.linePos(error.pos[0]);
        return {
          field: '',
          line: position.line,
          column: position.col,
          message: `YAML syntax: ${firstLine(error.message)}`,
        };
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new TopologyError(file, [
      { field: '', message: 'the topology file is empty (see examples/production.yaml)' },
    ]);
  }
  const result = topologySchema.safeParse(data);
  if (!result.success) {
    throw new TopologyError(file, problemsFromIssues(result.error.issues, data, doc, lineCounter));
  }
  return anchorPaths(result.data, baseDir);
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function problemsFromIssues(
  issues: z.core.$ZodIssue[],
  data: unknown,
  doc: Document,
  lines: LineCounter,
): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  for (const issue of issues) {
    // One problem per unknown key, located on the key itself.
    const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    for (const fieldPath of paths) {
      const offset = locate(doc, fieldPath as (string | number)[]);
      const position = offset === undefined ? undefined : lines.linePos(offset);
      problems.push({
        field: formatPath(fieldPath as (string | number)[]),
        line: position?.line,
        column: position?.col,
        message:
          issue.code === 'invalid_type' && valueAt(data, fieldPath) === undefined ? 'is required' : issue.message,
      });
    }
  }
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

function valueAt(data: unknown, fieldPath: PropertyKey[]): unknown {
  return fieldPath.reduce<unknown>(
    (value, part) =>
      value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[part] : undefined,
    data,
  );
}

function formatPath(fieldPath: (string | number)[]): string {
  return fieldPath.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${part}` : part),
    '',
  );
}

/** Offset in the text of the deepest node on the path that exists (the key when the path ends on a map entry). */
function locate(doc: Document, fieldPath: (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const part of fieldPath) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number' && node.items[part]) {
      node = node.items[part];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset;
}

const WINDOWS_ABSOLUTE = /^([A-Za-z]:[\\/]|\\\\)/;

/**
 * Relative worker paths, secret files, CA files, the allowed_signers and passkeys files and pool-control programs are taken from the topology file's folder,
 * so an estate can be described next to its own files. A relative sqlPath only makes sense for the simulator, which
 * writes to a local folder; real SQL Servers get UNC or drive paths, which are left alone.
 */
function anchorPaths(topology: Topology, baseDir: string): Topology {
  const local = (p: string) => (path.isAbsolute(p) || WINDOWS_ABSOLUTE.test(p) ? p : path.resolve(baseDir, p));
  const program = (p: string) => (p.startsWith('./') || p.startsWith('../') ? path.resolve(baseDir, p) : p);
  const [command, ...args] = topology.poolControl.command;
  return {
    ...topology,
    instances: topology.instances.map((instance) => ({
      ...instance,
      password: anchorSecretRef(instance.password, baseDir),
      ...(instance.caFile ? { caFile: local(instance.caFile) } : {}),
    })),
    backupShare: {
      ...topology.backupShare,
      sqlPath: local(topology.backupShare.sqlPath),
      workerPath: local(topology.backupShare.workerPath),
    },
    copyFolder: { sqlPath: local(topology.copyFolder.sqlPath), workerPath: local(topology.copyFolder.workerPath) },
    poolControl: { ...topology.poolControl, command: [program(command), ...args.map(program)] },
    ...(topology.signatures
      ? {
          signatures: {
            ...topology.signatures,
            allowedSigners: local(topology.signatures.allowedSigners),
            ...(topology.signatures.passkeys ? { passkeys: local(topology.signatures.passkeys) } : {}),
          },
        }
      : {}),
    drills: {
      ...topology.drills,
      ...(topology.drills.reportFolder ? { reportFolder: local(topology.drills.reportFolder) } : {}),
    },
  };
}
